import { randomBytes } from 'node:crypto';
import { CoreErrorCode, coreError } from './errors.js';
import type { ProfileId } from './types.js';

export const PROFILE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function isProfileId(id: unknown): id is ProfileId {
  return typeof id === 'string' && PROFILE_ID_PATTERN.test(id);
}

export function assertProfileId(id: unknown): asserts id is ProfileId {
  if (!isProfileId(id)) {
    throw coreError(CoreErrorCode.INVALID_ID, 'profile id must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$', {
      id: typeof id === 'string' ? id.slice(0, 140) : typeof id,
    });
  }
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** 10 random base32 characters (50 bits). */
export function randomSuffix(): string {
  const bytes = randomBytes(10);
  let out = '';
  for (const b of bytes) out += BASE32[b & 31];
  return out;
}

/** Lower-case slug of a name: [a-z0-9-], at most 40 characters, may be empty. */
export function slug(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '');
}

/** A fresh valid id: `${slug(name)}-${random}` or just the random part when the slug is empty. */
export function generateProfileId(name: string): ProfileId {
  const s = slug(name);
  const id = s.length > 0 ? `${s}-${randomSuffix()}` : randomSuffix();
  return id as ProfileId;
}
