/**
 * `@profilesync/client/file` (Node only): a PersistStore in one JSON file, written atomically
 * (temporary file + rename, mode 0600), so a crash never leaves half a file behind.
 *
 *   import { fileStore } from '@profilesync/client/file';
 *   const ps = createClient({ url, token, persist: fileStore('/var/cache/app/profiles.json') });
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PersistStore } from './persist.js';
import type { ProfileView } from './types.js';

export type { PersistStore };

export function fileStore(path: string): PersistStore {
  let seq = 0;
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      const parsed = JSON.parse(text) as { values?: unknown };
      const values = parsed?.values;
      return typeof values === 'object' && values !== null && !Array.isArray(values) ? (values as Record<string, ProfileView>) : undefined;
    },
    async save(values) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.${++seq}.tmp`;
      await writeFile(tmp, JSON.stringify({ format: 1, savedAt: new Date().toISOString(), values }), { mode: 0o600 });
      await rename(tmp, path);
    },
  };
}
