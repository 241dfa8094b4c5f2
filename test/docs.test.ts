/**
 * Keeps docs/errors.md true: it must equal what scripts/errors-doc.mjs generates from the
 * package READMEs and the server's status table, and every error code the code base defines
 * (errors.ts enums, the HTTP status table) or throws must be documented there.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generate, generateHints, httpStatuses, HINTS_FILE } from '../scripts/errors-doc.mjs';

const root = join(__dirname, '..');
const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|tsx)$/.test(name) && !name.endsWith('.d.ts') ? [p] : [];
  });
}

const srcFiles = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group))
    .map((pkg) => join(root, group, pkg, 'src'))
    .filter((p) => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    })
    .flatMap(sources),
);

function definedCodes(): Set<string> {
  const codes = new Set<string>();
  for (const f of srcFiles) {
    const text = readFileSync(f, 'utf8');
    // codes thrown directly
    for (const m of text.matchAll(/ProfileSyncError\(\s*'([A-Z][A-Z0-9_]+)'/g)) codes.add(m[1]!);
    // code enums of each package's errors.ts (LevelDB's own codes are mapped, not surfaced)
    if (f.endsWith('errors.ts') && f.includes('/packages/')) {
      for (const m of text.matchAll(/'([A-Z][A-Z0-9]+_[A-Z0-9_]+)'/g)) if (!m[1]!.startsWith('LEVEL_')) codes.add(m[1]!);
    }
  }
  for (const code of httpStatuses().keys()) codes.add(code);
  return codes;
}

describe('docs/errors.md', () => {
  it('is generated from the package READMEs and the status table (run node scripts/errors-doc.mjs)', () => {
    expect(doc).toBe(generate());
  });

  it('the CLI hint table is generated from the same tables (run node scripts/errors-doc.mjs)', () => {
    expect(readFileSync(join(root, HINTS_FILE), 'utf8')).toBe(generateHints());
  });

  it('documents every code the code base defines or throws', () => {
    const codes = definedCodes();
    expect(codes.size).toBeGreaterThan(100);
    const missing = [...codes].filter((c) => !doc.includes(`\`${c}\``)).sort();
    expect(missing).toEqual([]);
  });
});
