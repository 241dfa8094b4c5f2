/**
 * The live docs of this tab, one per profile, shared by the editors that show them. "Nothing
 * lost": when the last editor of a profile closes (History, Profiles, another profile) while
 * its doc holds edits the node has not stored yet, the doc and its provider stay alive in the
 * background — the provider keeps reconnecting and sends the edits when the node is back —
 * and an editor opened again reuses it (the texts as typed, offline or not). A doc with
 * nothing unsent closes with its last editor.
 *
 * While a doc is unsent, a copy of its state (a Yjs update) is kept in sessionStorage, so a
 * reload of the tab (or a crash) keeps the edits too: on start the app reopens every stored
 * copy in the background and sends it. The copy is this tab's only (sessionStorage), goes
 * with the tab, and is deleted once the node holds the edits.
 */
import * as Y from 'yjs';
import { fromBase64, toBase64 } from 'lib0/buffer';
import type { ProfileView } from '@profilesync/core';
import { CollabSession, type CollabOptions, type CollabStatus } from './collab.js';
import { COPY_PREFIX, reportUnsent, setDropper, storedCopyIds } from './unsent.js';

export interface LiveDoc {
  readonly id: string;
  readonly token: string;
  readonly session: CollabSession;
  /** editors showing it now */
  users: number;
  /** the node's view and write access as last read by an editor (an editor reopened while the node is down starts from them) */
  view?: ProfileView;
  writable?: boolean;
}

const live = new Map<string, LiveDoc & { off: () => void }>();

function readCopy(id: string): Uint8Array | undefined {
  try {
    const s = sessionStorage.getItem(COPY_PREFIX + id);
    return s ? fromBase64(s) : undefined;
  } catch {
    return undefined;
  }
}

function writeCopy(id: string, doc: Y.Doc): void {
  try {
    sessionStorage.setItem(COPY_PREFIX + id, toBase64(Y.encodeStateAsUpdate(doc)));
  } catch {
    // quota or no storage: the doc stays alive in this page, and leaving it asks first
  }
}

function dropCopy(id: string): void {
  try {
    sessionStorage.removeItem(COPY_PREFIX + id);
  } catch {
    // nothing stored
  }
}

function report(d: LiveDoc): void {
  const s = d.session.status;
  reportUnsent(d.id, s.unsent ? { id: d.id, state: s.state, error: s.error ? `${s.error.code}: ${s.error.message}` : undefined, open: d.users > 0 } : undefined);
}

function retire(d: LiveDoc & { off: () => void }, keepCopy = false): void {
  if (live.get(d.id) === d) live.delete(d.id);
  d.off();
  d.session.destroy();
  if (!keepCopy) dropCopy(d.id);
  reportUnsent(d.id, undefined);
}

function open(id: string, opts: Omit<CollabOptions, 'profileId' | 'seed'>, seed: Uint8Array | undefined): LiveDoc & { off: () => void } {
  const session = new CollabSession({ ...opts, profileId: id, seed });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const persist = () => {
    clearTimeout(timer);
    timer = undefined;
    if (session.unsent) writeCopy(id, session.doc);
  };
  const onUpdate = () => {
    if (session.unsent && timer === undefined) timer = setTimeout(persist, 200);
  };
  const onHide = () => persist(); // a reload or a closed tab: write what the timer has not yet
  session.doc.on('update', onUpdate);
  window.addEventListener('pagehide', onHide);
  const d: LiveDoc & { off: () => void } = {
    id,
    token: opts.token,
    session,
    users: 0,
    off: () => {
      clearTimeout(timer);
      window.removeEventListener('pagehide', onHide);
      offStatus();
    },
  };
  let last: CollabStatus | undefined;
  const offStatus = session.subscribe((s) => {
    const was = last;
    last = s;
    if (s.unsent && !was?.unsent) persist();
    if (!s.unsent && was?.unsent) {
      clearTimeout(timer);
      timer = undefined;
      dropCopy(id);
      if (d.users === 0) return retire(d);
    }
    if (was !== undefined) report(d);
  });
  report(d);
  live.set(id, d);
  return d;
}

/** The live doc of `id` if this tab has one (an editor reopened while the node is down starts from it). */
export function peekLiveDoc(id: string): LiveDoc | undefined {
  return live.get(id);
}

/**
 * The live doc of `id` for an editor (call releaseLiveDoc when the editor closes): the one
 * this tab has, else a new one (from this tab's stored copy, if any). A doc the node closed
 * (44xx) is reopened with what it holds, so opening the editor again retries.
 */
export function acquireLiveDoc(id: string, opts: Omit<CollabOptions, 'profileId' | 'seed'>): LiveDoc {
  let d = live.get(id);
  if (d && (d.token !== opts.token || d.session.status.state === 'closed')) {
    const seed = d.session.unsent ? Y.encodeStateAsUpdate(d.session.doc) : undefined;
    const { view, writable } = d;
    retire(d, seed !== undefined);
    d = open(id, opts, seed);
    if (d.token === opts.token) Object.assign(d, { view, writable });
  }
  d ??= open(id, opts, readCopy(id));
  d.users++;
  report(d);
  return d;
}

/** An editor closed: the doc closes with its last editor unless it holds unsent edits (then it stays until they are stored). */
export function releaseLiveDoc(d: LiveDoc): void {
  const x = live.get(d.id);
  if (x !== d) return;
  x.users = Math.max(0, x.users - 1);
  if (x.users === 0 && !x.session.unsent) retire(x);
  else report(x);
}

/** After a reload (or a sign-in): reopens, in the background, every copy of unsent edits this tab stored. */
export function resumeStoredCopies(opts: (id: string) => Omit<CollabOptions, 'profileId' | 'seed'>): void {
  for (const id of storedCopyIds()) {
    if (live.has(id)) continue;
    const seed = readCopy(id);
    if (seed === undefined) {
      dropCopy(id);
      continue;
    }
    open(id, opts(id), seed);
  }
}

setDropper((discardCopies) => {
  for (const d of [...live.values()]) retire(d, !discardCopies);
});
