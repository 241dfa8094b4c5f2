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
 *
 * A copy is sent only by the person who made it (lib/unsent.ts claimStoredCopies, sameOwner)
 * and only into the profile it was made on: a reopened copy is held (not connected) until the
 * profile's first version on the node is the one the copy remembers; a profile created again
 * under the same id (or gone) gets nothing, and the copy is discarded with a notice.
 */
import * as Y from 'yjs';
import { fromBase64, toBase64 } from 'lib0/buffer';
import type { ProfileView } from '@profilesync/core';
import { ApiError, retryableError } from './api.js';
import { retryDelay } from './changes.js';
import { CollabSession, type CollabOptions, type CollabStatus } from './collab.js';
import { discardNotYours, discardReplaced, dropStoredCopy, readStoredCopy, reportUnsent, sameOrigin, sameOwner, setDropper, storedCopyIds, writeStoredCopy, type CopyOrigin, type CopyOwner } from './unsent.js';

/** What an editor (or a resumed copy) opens a live doc with: the session's options, who it is, and the profile as the node has it. */
export type LiveDocOptions = Omit<CollabOptions, 'profileId' | 'seed' | 'hold'> & { by: CopyOwner; origin: CopyOrigin | null };

export interface LiveDoc {
  readonly id: string;
  readonly token: string;
  readonly session: CollabSession;
  /** who made its edits, and the profile they were made on (written with the tab's copy) */
  readonly by: CopyOwner;
  readonly origin: CopyOrigin | null;
  /** editors showing it now */
  users: number;
  /** the node's view and write access as last read by an editor (an editor reopened while the node is down starts from them) */
  view?: ProfileView;
  writable?: boolean;
}

type Live = LiveDoc & { off: () => void; held: boolean };

const live = new Map<string, Live>();

function writeCopy(d: Live): void {
  writeStoredCopy(d.id, { update: toBase64(Y.encodeStateAsUpdate(d.session.doc)), by: d.by, profile: d.origin });
}

function report(d: LiveDoc): void {
  const s = d.session.status;
  reportUnsent(d.id, s.unsent ? { id: d.id, state: s.state, error: s.error ? `${s.error.code}: ${s.error.message}` : undefined, open: d.users > 0 } : undefined);
}

function retire(d: Live, keepCopy = false): void {
  if (live.get(d.id) === d) live.delete(d.id);
  d.off();
  d.session.destroy();
  if (!keepCopy) dropStoredCopy(d.id);
  reportUnsent(d.id, undefined);
}

function open(id: string, opts: LiveDocOptions, seed: Uint8Array | undefined, hold = false): Live {
  const { by, origin, ...collab } = opts;
  const session = new CollabSession({ ...collab, profileId: id, seed, hold });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const persist = () => {
    clearTimeout(timer);
    timer = undefined;
    if (session.unsent) writeCopy(d);
  };
  const onUpdate = () => {
    if (session.unsent && timer === undefined) timer = setTimeout(persist, 200);
  };
  const onHide = () => persist(); // a reload or a closed tab: write what the timer has not yet
  session.doc.on('update', onUpdate);
  window.addEventListener('pagehide', onHide);
  const d: Live = {
    id,
    token: opts.token,
    session,
    by,
    origin,
    users: 0,
    held: hold,
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
      dropStoredCopy(id);
      if (d.users === 0) return retire(d);
    }
    if (was !== undefined) report(d);
  });
  report(d);
  live.set(id, d);
  return d;
}

function release(d: Live): void {
  d.held = false;
  d.session.connect();
}

/** The live doc of `id` if this tab has one (an editor reopened while the node is down starts from it). */
export function peekLiveDoc(id: string): LiveDoc | undefined {
  return live.get(id);
}

/**
 * The live doc of `id` for an editor (call releaseLiveDoc when the editor closes): the one
 * this tab has, else a new one (from this tab's stored copy, if any). A doc the node closed
 * (44xx) is reopened with what it holds, so opening the editor again retries. Edits of
 * another person, or made on an earlier profile with this id (`opts.origin` differs), are
 * discarded with a notice, never sent.
 */
export function acquireLiveDoc(id: string, opts: LiveDocOptions): LiveDoc {
  let d = live.get(id);
  if (d && (!sameOwner(d.by, opts.by) || !sameOrigin(d.origin, opts.origin))) {
    const unsent = d.session.unsent;
    const { by } = d;
    retire(d);
    if (unsent) {
      if (!sameOwner(by, opts.by)) discardNotYours(id, by);
      else discardReplaced(id);
    }
    d = undefined;
  }
  if (d?.held) release(d); // a resumed copy the editor has just checked (same origin)
  if (d && (d.token !== opts.token || d.session.status.state === 'closed')) {
    const seed = d.session.unsent ? Y.encodeStateAsUpdate(d.session.doc) : undefined;
    const { view, writable } = d;
    retire(d, seed !== undefined);
    d = open(id, opts, seed);
    if (d.token === opts.token) Object.assign(d, { view, writable });
  }
  if (!d) {
    const c = readStoredCopy(id);
    let seed: Uint8Array | undefined;
    if (c !== undefined) {
      if (!sameOwner(c.by, opts.by)) discardNotYours(id, c.by);
      else if (!sameOrigin(c.profile, opts.origin)) discardReplaced(id);
      else if (c.update !== '') seed = fromBase64(c.update);
    }
    d = open(id, opts, seed);
  }
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

/**
 * After a reload (or a sign-in): reopens, in the background, every copy of unsent edits this
 * tab stored for `opts.by` (claimStoredCopies has discarded other people's). Each is held
 * until `origin(id)` — the profile on the node now — matches the one the copy was made on
 * (asked again with backoff while the node cannot be reached), then sent; a copy of an
 * earlier profile with this id, or of one the node no longer has, is discarded with a notice.
 */
export function resumeStoredCopies(opts: (id: string) => Omit<LiveDocOptions, 'origin'>, origin: (id: string) => Promise<CopyOrigin | null>): void {
  for (const id of storedCopyIds()) {
    if (live.has(id)) continue;
    const o = opts(id);
    const c = readStoredCopy(id);
    if (c === undefined || c.update === '') {
      dropStoredCopy(id);
      continue;
    }
    if (!sameOwner(c.by, o.by)) {
      discardNotYours(id, c.by);
      continue;
    }
    const d = open(id, { ...o, origin: c.profile }, fromBase64(c.update), true);
    const check = async (attempt: number): Promise<void> => {
      if (live.get(id) !== d || !d.held) return;
      try {
        const now = await origin(id);
        if (live.get(id) !== d || !d.held) return;
        if (sameOrigin(now, d.origin)) release(d);
        else {
          retire(d);
          discardReplaced(id);
        }
      } catch (err) {
        if (live.get(id) !== d || !d.held) return;
        if (err instanceof ApiError && err.code === 'PROFILE_NOT_FOUND') {
          retire(d);
          discardReplaced(id);
        } else if (retryableError(err)) setTimeout(() => void check(attempt + 1), retryDelay(attempt));
        // anything else (401: the tab signs out and the copy stays for the same person)
      }
    };
    void check(0);
  }
}

setDropper((discardCopies) => {
  for (const d of [...live.values()]) retire(d, !discardCopies);
});
