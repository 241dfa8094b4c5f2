/** Profile ids and the id generated from a name. */
import { ModelErrorCode, modelError } from './errors.js';

export const PROFILE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Longest slug a generated id starts from (room is left for a `-N` suffix). */
export const MAX_SLUG_CHARS = 64;
/** The id generated when a name has no letter or digit that slugs (e.g. only emoji). */
export const FALLBACK_SLUG = 'profile';

export type ProfileIdString = string & { readonly __brand: 'ProfileId' };

export function isProfileId(id: unknown): id is ProfileIdString {
  return typeof id === 'string' && PROFILE_ID_PATTERN.test(id);
}

export function assertProfileId(id: unknown): asserts id is ProfileIdString {
  if (!isProfileId(id)) {
    throw modelError(ModelErrorCode.INVALID_ID, `profile id must match ${PROFILE_ID_PATTERN.source}`, {
      id: typeof id === 'string' ? id.slice(0, 140) : typeof id,
    });
  }
}

/**
 * Lower-case slug of a name: ASCII letters and digits joined by single '-', accents folded
 * (NFKD), at most 64 characters, never empty ('profile' when nothing is left).
 * slug('Support bot') = 'support-bot'; slug('Über  Bot!') = 'uber-bot'.
 */
export function slugify(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_SLUG_CHARS)
    .replace(/-+$/, '');
  return s.length > 0 ? s : FALLBACK_SLUG;
}

/**
 * The id generated for a name: its slug when free, else `slug-2`, `slug-3`, ... (the first one
 * `taken` says is free). A tombstoned (deleted) profile still takes its id.
 */
export function idForName(name: string, taken: (id: string) => boolean): ProfileIdString {
  const base = slugify(name);
  if (!taken(base)) return base as ProfileIdString;
  for (let n = 2; ; n++) {
    const id = `${base}-${n}`;
    if (!taken(id)) return id as ProfileIdString;
  }
}
