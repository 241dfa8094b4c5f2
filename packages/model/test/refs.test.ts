import { describe, expect, it } from 'vitest';
import { assertRefOf, isLabelName, isStoredRef, parseRefSpec, profileTag, stateHash, v2Ref, V2_REF_CHARS } from '../src/index.js';

describe('refs', () => {
  it('parses @N, labels, latest, v2 and legacy v1 refs', () => {
    expect(parseRefSpec('@1')).toEqual({ kind: 'seq', n: 1 });
    expect(parseRefSpec('@42')).toEqual({ kind: 'seq', n: 42 });
    expect(parseRefSpec('production')).toEqual({ kind: 'label', name: 'production' });
    expect(parseRefSpec('latest')).toEqual({ kind: 'latest' });
    const ref = v2Ref('support-bot', new Uint8Array([1, 2, 3]));
    expect(parseRefSpec(ref)).toEqual({ kind: 'v2', tag: profileTag('support-bot'), hash: ref.slice(12), ref });
    expect(parseRefSpec('v1.AAECAw')).toEqual({ kind: 'v1', ref: 'v1.AAECAw' });
  });

  it('refuses everything else with PROFILE_BAD_VERSION and a hint', () => {
    for (const bad of ['', '@0', '@-1', '@1.5', '@x', 'v2.short.x', 'v2.AAAAAAAA.BBBB', 'v1.', 'v1.a+b', 'v3.abc', 'Prod', 'a b', 42, null, '@1234567890']) {
      expect(() => parseRefSpec(bad)).toThrow(expect.objectContaining({ code: 'PROFILE_BAD_VERSION' }));
    }
    expect(() => parseRefSpec('nope!')).toThrow(expect.objectContaining({ details: expect.objectContaining({ hint: expect.stringContaining('@N') }) }));
  });

  it('makes 34-character refs bound to the profile', () => {
    const bytes = new Uint8Array(5000).fill(7);
    const ref = v2Ref('a', bytes);
    expect(ref).toHaveLength(V2_REF_CHARS);
    expect(ref).toMatch(/^v2\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{22}$/);
    expect(ref.endsWith(stateHash(bytes))).toBe(true);
    expect(() => assertRefOf(parseRefSpec(ref), 'a')).not.toThrow();
    expect(() => assertRefOf(parseRefSpec(ref), 'b')).toThrow(expect.objectContaining({ code: 'PROFILE_BAD_VERSION', details: expect.objectContaining({ rule: 'other-profile' }) }));
    expect(isStoredRef(ref, 'a')).toBe(true);
    expect(isStoredRef(ref, 'b')).toBe(false);
    expect(isStoredRef('v1.AAAA', 'b')).toBe(true);
    expect(isStoredRef('not-a-version', 'a')).toBe(false);
    expect(isStoredRef('@1', 'a')).toBe(false);
  });

  it('hashes with SHA-256 (known vector)', () => {
    // sha256('abc') = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    expect(profileTag('abc')).toBe('ungWv48B');
  });

  it('reserves latest and ref-shaped names from labels', () => {
    expect(isLabelName('production')).toBe(true);
    expect(isLabelName('latest')).toBe(false);
    expect(isLabelName('v1.x')).toBe(false);
    expect(isLabelName('v2.x')).toBe(false);
    expect(isLabelName('v2')).toBe(true);
    expect(isLabelName('Prod')).toBe(false);
  });
});
