import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { idForName, isProfileId, slugify } from '../src/index.js';

describe('ids', () => {
  it('slugs names', () => {
    expect(slugify('Support bot')).toBe('support-bot');
    expect(slugify('  Über   Bot!! ')).toBe('uber-bot');
    expect(slugify('GPT-4o / summarizer (v2)')).toBe('gpt-4o-summarizer-v2');
    expect(slugify('🤖')).toBe('profile');
    expect(slugify('x'.repeat(300))).toHaveLength(64);
  });

  it('adds -2, -3 only when taken', () => {
    const taken = new Set<string>();
    const next = (name: string): string => {
      const id = idForName(name, (i) => taken.has(i));
      taken.add(id);
      return id;
    };
    expect(next('Support bot')).toBe('support-bot');
    expect(next('Support bot')).toBe('support-bot-2');
    expect(next('support  BOT')).toBe('support-bot-3');
    expect(next('Other')).toBe('other');
  });

  it('always yields a valid profile id (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (name) => {
        expect(isProfileId(idForName(name, () => false))).toBe(true);
      }),
    );
  });
});
