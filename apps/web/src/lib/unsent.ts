/**
 * Which profiles hold live edits the node has not been seen to store yet, for the whole app
 * (no Yjs here: the shell imports it without the editor's code). lib/livedocs.ts reports each
 * live doc's state; the header lists the unsent ones, and leaving the page asks first
 * (beforeunload) while any is unsent. This tab's copies of unsent edits live in sessionStorage
 * under `profilesync.unsent.<id>` (written by lib/livedocs.ts), so they survive a reload.
 *
 * A copy remembers who made it (the session's actor and token id) and which profile it was
 * made on (the profile's first version as the node reads it: ref and time). It is sent only
 * by the same person, and only into the same profile: a copy of someone else (another person
 * signed in after the node signed this tab out) or of an earlier profile with the same id
 * (deleted and created again, e.g. on a reset node) is discarded unsent, with a notice.
 */
import { ApiError, type Api } from './api.js';

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

/** Who made a copy: the session's actor (the author the node records) and its token id. */
export interface CopyOwner {
  actor?: string;
  tokenId?: string;
}

/** Which profile a copy was made on: its first version as the node reads it; a profile created again under the same id has another. */
export interface CopyOrigin {
  ref: string;
  at: string;
}

/** A stored copy: the Yjs update (base64), its maker, and its profile (null: the node had no first version to tell). */
export interface StoredCopy {
  update: string;
  by: CopyOwner;
  profile: CopyOrigin | null;
}

/** The same person: the same actor (a new token of the same person keeps it), else the same token. */
export function sameOwner(a: CopyOwner, b: CopyOwner): boolean {
  if (a.actor !== undefined && b.actor !== undefined) return a.actor === b.actor;
  return a.tokenId !== undefined && a.tokenId === b.tokenId;
}

export function sameOrigin(a: CopyOrigin | null, b: CopyOrigin | null): boolean {
  return a === null || b === null ? a === b : a.ref === b.ref && a.at === b.at;
}

export function ownerOf(session: { actor?: string; tokenId?: string }): CopyOwner {
  return { ...(session.actor !== undefined ? { actor: session.actor } : {}), ...(session.tokenId !== undefined ? { tokenId: session.tokenId } : {}) };
}

/**
 * The profile `id` is on the node now: its first version (`?version=@1`: ref and time), null
 * when the node cannot name one (a profile without versions). Throws PROFILE_NOT_FOUND when
 * there is none, and what the request threw when the node cannot be reached.
 */
export async function profileOrigin(api: Api, id: string): Promise<CopyOrigin | null> {
  try {
    const v = await api.getProfile(id, { version: '@1' });
    return { ref: v.version, at: v.updatedAt };
  } catch (err) {
    if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 404 && err.status !== 429) return null;
    throw err;
  }
}

export function readStoredCopy(id: string): StoredCopy | undefined {
  let s: string | null;
  try {
    s = sessionStorage.getItem(COPY_PREFIX + id);
  } catch {
    return undefined;
  }
  if (!s) return undefined;
  try {
    const c = JSON.parse(s) as StoredCopy;
    if (typeof c.update === 'string' && typeof c.by === 'object' && c.by !== null) return { update: c.update, by: c.by, profile: c.profile ?? null };
  } catch {
    // not JSON
  }
  return { update: '', by: {}, profile: null }; // unreadable: nobody's, sent by no one
}

export function writeStoredCopy(id: string, copy: StoredCopy): void {
  try {
    sessionStorage.setItem(COPY_PREFIX + id, JSON.stringify(copy));
  } catch {
    // quota or no storage: the doc stays alive in this page, and leaving it asks first
  }
}

export function dropStoredCopy(id: string): void {
  try {
    sessionStorage.removeItem(COPY_PREFIX + id);
  } catch {
    // nothing stored
  }
}

/** A notice about stored edits that were not sent (shown under the header until dismissed). */
export interface UnsentNotice {
  key: number;
  code: 'UI_UNSENT_NOT_YOURS' | 'UI_UNSENT_PROFILE_REPLACED';
  text: string;
}

let notices: UnsentNotice[] = [];
let nextNotice = 1;
const noticeListeners = new Set<(list: UnsentNotice[]) => void>();

function setNotices(list: UnsentNotice[]): void {
  notices = list;
  for (const l of noticeListeners) l(notices);
}

export function noticeUnsent(code: UnsentNotice['code'], text: string): void {
  setNotices([...notices, { key: nextNotice++, code, text }]);
}

export function dismissUnsentNotice(key: number): void {
  setNotices(notices.filter((n) => n.key !== key));
}

export function onUnsentNotices(fn: (list: UnsentNotice[]) => void): () => void {
  noticeListeners.add(fn);
  fn(notices);
  return () => noticeListeners.delete(fn);
}

/** A copy of someone else is discarded, never sent under this person's name. */
export function discardNotYours(id: string, by: CopyOwner): void {
  dropStoredCopy(id);
  const who = by.actor ?? (by.tokenId !== undefined ? `token ${by.tokenId}` : 'an earlier session');
  noticeUnsent('UI_UNSENT_NOT_YOURS', `edits to ${id} kept in this tab were made by ${who}, not by you: they were not sent under your name and were discarded.`);
}

/** A copy made on an earlier profile with this id is discarded, never sent into the new one. */
export function discardReplaced(id: string): void {
  dropStoredCopy(id);
  noticeUnsent('UI_UNSENT_PROFILE_REPLACED', `edits to ${id} kept in this tab were made on an earlier profile with this id (deleted and created again, or gone from the node, since): they were not sent and were discarded.`);
}

/** After a sign-in: this tab's copies made by someone else are discarded (with a notice); the ids of the signed-in person's are returned. */
export function claimStoredCopies(owner: CopyOwner): string[] {
  const mine: string[] = [];
  for (const id of storedCopyIds()) {
    const c = readStoredCopy(id);
    if (c === undefined) continue;
    if (sameOwner(c.by, owner)) mine.push(id);
    else discardNotYours(id, c.by);
  }
  return mine;
}

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
 * keeps them, and they are sent after the next sign-in of the same person (claimStoredCopies).
 */
export function dropLiveDocs(discardCopies: boolean): void {
  dropper?.(discardCopies);
  setNotices([]);
  for (const id of [...docs.keys()]) reportUnsent(id, undefined);
  if (discardCopies) for (const id of storedCopyIds()) sessionStorage.removeItem(COPY_PREFIX + id);
}
