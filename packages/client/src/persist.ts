/**
 * Last known values that outlive the process: when the node cannot be reached and a profile is
 * not in memory (a cold start during an outage), the client serves what it last saw. The
 * store is a port (load all, save all); `fileStore` (`@profilesync/client/file`) keeps them in
 * a JSON file, and a browser app can pass one over localStorage.
 */
import type { ProfileView } from './types.js';

export interface PersistStore {
  /** every saved value by cache key (undefined or {} when nothing was saved yet) */
  load(): Promise<Record<string, ProfileView> | undefined>;
  /** replaces the saved values */
  save(values: Record<string, ProfileView>): Promise<void>;
}

/** A PersistStore over any string key-value storage, e.g. `localStorage` in a browser. */
export function storageStore(storage: { getItem(key: string): string | null; setItem(key: string, value: string): void }, key = 'profilesync:last-known'): PersistStore {
  return {
    async load() {
      const raw = storage.getItem(key);
      if (raw === null) return undefined;
      const parsed = JSON.parse(raw) as unknown;
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, ProfileView>) : undefined;
    },
    async save(values) {
      storage.setItem(key, JSON.stringify(values));
    },
  };
}
