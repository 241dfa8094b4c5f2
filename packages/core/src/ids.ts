/** Profile ids (the rules live in @profilesync/model). */
import { PROFILE_ID_PATTERN, idForName, isProfileId as isId } from '@profilesync/model';
import { CoreErrorCode, coreError } from './errors.js';
import type { ProfileId } from './types.js';

export { PROFILE_ID_PATTERN };

export function isProfileId(id: unknown): id is ProfileId {
  return isId(id);
}

export function assertProfileId(id: unknown): asserts id is ProfileId {
  if (!isProfileId(id)) {
    throw coreError(CoreErrorCode.INVALID_ID, 'profile id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$', {
      id: typeof id === 'string' ? id.slice(0, 140) : typeof id,
    });
  }
}

/** The id generated for a name: its slug (`support-bot`), then `-2`, `-3`, ... when taken. */
export function generateProfileId(name: string, taken: (id: string) => boolean): ProfileId {
  return idForName(name, taken) as string as ProfileId;
}
