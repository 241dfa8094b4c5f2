/**
 * Live connections authenticated by an API token (/yjs sockets, SSE streams, any long-lived
 * response). HTTP requests check the token once per request; a connection that stays open
 * must register here, so that a token revocation or a role/grant change reaches it at once:
 *
 *   const unregister = ctx.live.register(principal, {
 *     kind: 'sse',                       // metrics label: yjs, sse, ...
 *     profile: undefined,                // the one profile it serves, if any
 *     close: (code) => endStream(code),  // AUTH_UNAUTHORIZED on revoke; AUTH_FORBIDDEN without refresh
 *     refresh: (next) => { scope = next; return 'kept' }, // optional: role/grants changed (or return 'closed')
 *   });
 *   reply.raw.on('close', unregister);
 *
 * The registry is told by the token store (TokenStore.onChange) right after a change is durable
 * and in memory, in the same tick: `revoked` -> close(AUTH_UNAUTHORIZED) for every connection of
 * the token; `changed` -> refresh(principal) where given, else close(AUTH_FORBIDDEN). Besides
 * this push, connections should check `tokens.principal(tokenId)` before each privileged act
 * (the /yjs endpoint checks before every write), so nothing depends on a listener alone.
 */
import { ProfileSyncError } from '@profilesync/errors';
import type { Principal, TokenChange } from './tokens.js';

export interface LiveConnection {
  /** what it is, for metrics and logs: 'yjs', 'sse', ... */
  readonly kind: string;
  /** the profile it serves, when it serves one */
  readonly profile?: string;
  /** ends the connection now; `code` is the stable reason (AUTH_UNAUTHORIZED, AUTH_FORBIDDEN) */
  close(code: string): void;
  /**
   * The token's role or grants changed: re-check access and say what happened ('closed': it
   * closed itself; 'kept': still open, e.g. now read-only). Default: close(AUTH_FORBIDDEN).
   */
  refresh?(principal: Principal): 'kept' | 'closed';
}

export interface LiveEvent {
  type: 'revoked' | 'changed';
  tokenId: string;
  kind: string;
  /** closed, or kept open with the new access (refresh said so) */
  outcome: 'closed' | 'kept';
  profile?: string;
}

/** A connection admit() refused: its token already held tokens.max_connections. */
export interface RefusedEvent {
  tokenId: string;
  kind: string;
  limit: number;
}

export class LiveConnections {
  readonly #byToken = new Map<string, Set<LiveConnection>>();
  readonly #listeners = new Set<(e: LiveEvent) => void>();
  readonly #maxPerToken: number;
  readonly #refusedListeners = new Set<(e: RefusedEvent) => void>();

  /** `maxPerToken`: open connections one token may hold (tokens.max_connections); admit() refuses more. */
  constructor(opts: { maxPerToken?: number } = {}) {
    this.#maxPerToken = opts.maxPerToken ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Throws TOKEN_TOO_MANY_CONNECTIONS when the token already holds its limit of open connections.
   * Call it right before register() for connections a client opens at will (/yjs sockets, change
   * feed streams): one token, even a scoped viewer's, must not take every socket the node can
   * hold (its file descriptors) and lock everyone else out, the admin who would revoke it too.
   */
  admit(principal: Pick<Principal, 'tokenId'>, kind: string): void {
    const open = this.#byToken.get(principal.tokenId)?.size ?? 0;
    if (open < this.#maxPerToken) return;
    for (const l of this.#refusedListeners) l({ tokenId: principal.tokenId, kind, limit: this.#maxPerToken });
    throw new ProfileSyncError('TOKEN_TOO_MANY_CONNECTIONS', `this token already holds ${open} open connections (/yjs sockets, change feed streams), the most one token may hold (tokens.max_connections); close some or use another token`, {
      details: { limit: this.#maxPerToken },
    });
  }

  /** Calls `listener` for every connection admit() refuses (metrics, logs); returns the unsubscribe. */
  onRefused(listener: (e: RefusedEvent) => void): () => void {
    this.#refusedListeners.add(listener);
    return () => this.#refusedListeners.delete(listener);
  }

  /** Registers an open connection of `principal`'s token; returns the unregister function (idempotent). */
  register(principal: Pick<Principal, 'tokenId'>, conn: LiveConnection): () => void {
    let set = this.#byToken.get(principal.tokenId);
    if (set === undefined) this.#byToken.set(principal.tokenId, (set = new Set()));
    set.add(conn);
    return () => {
      const s = this.#byToken.get(principal.tokenId);
      if (s?.delete(conn) && s.size === 0) this.#byToken.delete(principal.tokenId);
    };
  }

  /** Open connections (of one token, or all), by kind. */
  count(tokenId?: string): Map<string, number> {
    const out = new Map<string, number>();
    const sets = tokenId === undefined ? [...this.#byToken.values()] : [this.#byToken.get(tokenId) ?? new Set<LiveConnection>()];
    for (const set of sets) for (const c of set) out.set(c.kind, (out.get(c.kind) ?? 0) + 1);
    return out;
  }

  /** Observes what the registry did (metrics and the log subscribe). */
  on(listener: (e: LiveEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Applies a token change to its connections; returns how many were closed and kept. */
  apply(change: TokenChange): { closed: number; kept: number } {
    const set = this.#byToken.get(change.id);
    if (set === undefined) return { closed: 0, kept: 0 };
    let closed = 0;
    let kept = 0;
    for (const conn of [...set]) {
      let outcome: LiveEvent['outcome'] = 'closed';
      try {
        if (change.type === 'revoked') {
          set.delete(conn);
          conn.close('AUTH_UNAUTHORIZED');
        } else if (conn.refresh) {
          outcome = conn.refresh(change.principal) === 'kept' ? 'kept' : 'closed';
          if (outcome === 'closed') set.delete(conn);
        } else {
          set.delete(conn);
          conn.close('AUTH_FORBIDDEN');
        }
      } catch {
        // a connection that fails to close itself is dropped from the registry all the same
        set.delete(conn);
      }
      if (outcome === 'closed') closed++;
      else kept++;
      const e: LiveEvent = { type: change.type, tokenId: change.id, kind: conn.kind, outcome, ...(conn.profile !== undefined ? { profile: conn.profile } : {}) };
      for (const l of this.#listeners) {
        try {
          l(e);
        } catch {
          // observers never break revocation
        }
      }
    }
    if (set.size === 0) this.#byToken.delete(change.id);
    return { closed, kept };
  }
}
