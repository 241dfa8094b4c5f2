/**
 * Which profiles hold live edits the node has not been seen to store yet, for the whole app
 * (no Yjs here: the shell imports it without the editor's code). lib/livedocs.ts reports each
 * live doc's state; the header lists the unsent ones, and leaving the page asks first
 * (beforeunload) while any is unsent. This tab's copies of unsent edits live in sessionStorage
 * under `profilesync.unsent.<id>` (written by lib/livedocs.ts), so they survive a reload.
 */

export interface UnsentDoc {
  id: string;
  /** the live doc's sync state (offline, connecting, syncing, closed, ...) */
  state: string;
  /** why the node closed the room, when it did ("CODE: message") */
  error?: string;
  /** an editor shows it right now */
  open: boolean;
}

export const COPY_PREFIX = 'profilesync.unsent.';

const docs = new Map<string, UnsentDoc>();
const listeners = new Set<(list: UnsentDoc[]) => void>();
let dropper: ((discardCopies: boolean) => void) | undefined;

function guard(e: BeforeUnloadEvent): void {
  e.preventDefault();
  e.returnValue = ''; // older Chromium needs a value to ask
}

/** Records (or, with `undefined`, forgets) a profile's unsent state. */
export function reportUnsent(id: string, doc: UnsentDoc | undefined): void {
  const had = docs.size > 0;
  if (doc) docs.set(id, doc);
  else if (!docs.delete(id)) return;
  // the listener only while something is unsent (a beforeunload listener can keep a page out of the back/forward cache)
  if (!had && docs.size > 0) window.addEventListener('beforeunload', guard);
  else if (had && docs.size === 0) window.removeEventListener('beforeunload', guard);
  const list = unsentDocs();
  for (const l of listeners) l(list);
}

export function unsentDocs(): UnsentDoc[] {
  return [...docs.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export function onUnsent(fn: (list: UnsentDoc[]) => void): () => void {
  listeners.add(fn);
  fn(unsentDocs());
  return () => listeners.delete(fn);
}

/** Profile ids with a copy of unsent edits stored by this tab (sessionStorage). */
export function storedCopyIds(): string[] {
  const ids: string[] = [];
  try {
    for (let i = 0; i < sessionStorage.length; i++) {
      const k = sessionStorage.key(i);
      if (k?.startsWith(COPY_PREFIX)) ids.push(k.slice(COPY_PREFIX.length));
    }
  } catch {
    // storage unavailable: nothing stored
  }
  return ids.sort();
}

/** lib/livedocs.ts registers how to close every live doc (on sign-out). */
export function setDropper(fn: (discardCopies: boolean) => void): void {
  dropper = fn;
}

/**
 * Sign-out: closes every live doc. `discardCopies` also deletes this tab's stored copies (a
 * person who signs out on purpose, after confirming); a sign-out forced by the node (401)
 * keeps them, and they are sent after the next sign-in.
 */
export function dropLiveDocs(discardCopies: boolean): void {
  dropper?.(discardCopies);
  for (const id of [...docs.keys()]) reportUnsent(id, undefined);
  if (discardCopies) for (const id of storedCopyIds()) sessionStorage.removeItem(COPY_PREFIX + id);
}
