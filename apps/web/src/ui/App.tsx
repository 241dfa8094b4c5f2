/**
 * The shell: sign-in gate, navigation, the live status region, and the current screen.
 */
import type { ComponentType } from 'preact';
import { useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { Api, describeError } from '../lib/api.js';
import { forgetToken, restoreSession, roleAllows, storeDisplayName, storedDisplayName, storedSession, storedToken, storeSessionInfo, storeToken } from '../lib/session.js';
import { href, useRoute, type Route } from '../lib/router.js';
import type { SessionInfo } from '../lib/types.js';
import { AppContext, type AppCtx } from './context.js';
import { SignIn } from './SignIn.js';
import { ProfileList } from './ProfileList.js';
import { History } from './History.js';
import { Audit } from './Audit.js';
import { CachePanel } from './CachePanel.js';
import { Peers } from './Peers.js';
import { Tokens } from './Tokens.js';
import { Webhooks } from './Webhooks.js';
import { announce, clearAnnouncement, clearStaleAnnouncement, useAnnouncement } from './status.js';
import { randomColor } from '../lib/format.js';
import { claimStoredCopies, dismissUnsentNotice, dropLiveDocs, onUnsent, onUnsentNotices, ownerOf, profileOrigin, unsentDocs, type UnsentDoc, type UnsentNotice } from '../lib/unsent.js';
import { retryDelay } from '../lib/changes.js';
import { RetryNotice } from './parts.js';

function StatusRegion() {
  const a = useAnnouncement();
  return (
    <div class="announcements">
      <div role="status" aria-live="polite" class={a?.kind === 'info' ? 'toast' : 'sr-only'} data-testid="status">
        {a?.kind === 'info' ? a.text : ''}
      </div>
      <div role="alert" class={a?.kind === 'error' ? 'toast error' : 'sr-only'} data-testid="alert">
        {a?.kind === 'error' ? a.text : ''}
      </div>
      {a && (
        <button type="button" class="link dismiss" onClick={clearAnnouncement} aria-label="Dismiss message">
          ×
        </button>
      )}
    </div>
  );
}

function Nav({ route, session }: { route: Route; session: SessionInfo }) {
  const items: { label: string; to: Route; show: boolean }[] = [
    { label: 'Profiles', to: { name: 'profiles' }, show: true },
    { label: 'Audit', to: { name: 'audit' }, show: roleAllows(session.role, 'operate') },
    { label: 'Cache', to: { name: 'cache' }, show: true },
    // an admin token limited to some profiles has no access to peers and sync
    { label: 'Peers', to: { name: 'peers' }, show: roleAllows(session.role, 'operate') && !session.profiles?.length },
    { label: 'Tokens', to: { name: 'tokens' }, show: roleAllows(session.role, 'operate') },
    // webhooks see every profile: unscoped admins only, like peers
    { label: 'Webhooks', to: { name: 'webhooks' }, show: roleAllows(session.role, 'operate') && !session.profiles?.length },
  ];
  const active = route.name === 'editor' || route.name === 'history' ? 'profiles' : route.name;
  return (
    <nav aria-label="Main">
      <ul>
        {items
          .filter((i) => i.show)
          .map((i) => (
            <li key={i.label}>
              <a href={href(i.to)} aria-current={active === i.to.name ? 'page' : undefined}>
                {i.label}
              </a>
            </li>
          ))}
      </ul>
    </nav>
  );
}

/**
 * The live editor (CodeMirror, Yjs, y-websocket: most of the bundle) is loaded when first
 * opened, so the profile list paints without it; after a sign-in it is loaded in the
 * background (preloadEditor), so an editor opened later while the node is down has its code.
 * A failed load is not remembered: the next call asks again.
 */
let editorModule: Promise<ComponentType<{ id: string }>> | undefined;
const loadEditor = () =>
  (editorModule ??= import('./Editor.js').then(
    (m) => m.Editor,
    (err: unknown) => {
      editorModule = undefined;
      throw err;
    },
  ));

/**
 * After a sign-in: the editor's code, in the background once the page is idle (not competing
 * with the list's first paint); a failure is retried when an editor opens.
 */
function preloadEditor(): void {
  const load = () => void loadEditor().catch(() => undefined);
  if (typeof requestIdleCallback === 'function') requestIdleCallback(load, { timeout: 3000 });
  else setTimeout(load, 1000);
}

/** The editor's code, loaded on first use; a failed load (the node down or upgraded) is retried with the editor's backoff (1, 2, 4, 8, then every 15 s) or "Retry now". */
function LazyEditor({ id }: { id: string }) {
  const [Editor, setEditor] = useState<ComponentType<{ id: string }> | undefined>();
  const [error, setError] = useState<{ text: string; retryAt: number } | undefined>();
  const [retryNow, setRetryNow] = useState<(() => void) | undefined>();
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = (attempt: number) => {
      clearTimeout(timer);
      loadEditor().then(
        (E) => {
          if (!live) return;
          setError(undefined);
          setEditor(() => E);
        },
        (err: Error) => {
          if (!live) return;
          const wait = retryDelay(attempt);
          setError({ text: `UI_LOAD_FAILED: the editor could not be loaded (${err.message})`, retryAt: Date.now() + wait });
          timer = setTimeout(() => load(attempt + 1), wait);
        },
      );
    };
    setRetryNow(() => () => load(0));
    load(0);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, []);
  if (Editor) return <Editor id={id} />;
  if (error) {
    return (
      <section>
        <h1>{id}</h1>
        <p role="alert" class="error">
          {error.text}
        </p>
        <RetryNotice testId="editor-load-retry" at={error.retryAt} then="The editor opens by itself once its code loads." onRetry={() => retryNow?.()} />
      </section>
    );
  }
  return <p class="loading">Loading the editor…</p>;
}

function Screen({ route }: { route: Route }) {
  switch (route.name) {
    case 'profiles':
      return <ProfileList />;
    case 'editor':
      return <LazyEditor key={route.id} id={route.id} />;
    case 'history':
      return <History key={route.id} id={route.id} />;
    case 'audit':
      return <Audit initialProfile={route.profile} />;
    case 'cache':
      return <CachePanel />;
    case 'peers':
      return <Peers />;
    case 'tokens':
      return <Tokens />;
    case 'webhooks':
      return <Webhooks selected={route.id} />;
  }
}

/** A reload of a signed-in tab: the app starts at once with what the tab stored (no round trip first). */
function resumed(onUnauthorized: () => void): AppCtx | undefined {
  const t = storedToken();
  const s = storedSession();
  if (t === undefined || s === undefined) return undefined;
  const api = new Api(t);
  api.onUnauthorized = onUnauthorized;
  return { api, session: s, displayName: storedDisplayName() ?? s.name };
}

const UNSENT_STATE: Record<string, string> = { offline: 'node offline', connecting: 'connecting', syncing: 'sending', connected: 'sending', saved: 'sending', closed: 'refused' };

/**
 * Edits the node has not stored yet, visible on every screen (the editor's badge is not when
 * the editor is left): one link per profile back to its editor. Hidden while the open editor
 * is just sending a keystroke (its badge says "Syncing…").
 */
function UnsentIndicator() {
  const [list, setList] = useState<UnsentDoc[]>([]);
  useEffect(() => onUnsent(setList), []);
  const shown = list.filter((d) => !d.open || d.state === 'offline' || d.state === 'connecting' || d.state === 'closed');
  if (shown.length === 0) return null;
  return (
    <span class="unsent" role="status" data-testid="unsent" title="Edits are kept in this tab and sent when the node is back; leaving the page asks first">
      ⚠ Not sent yet:{' '}
      {shown.map((d, i) => (
        <span key={d.id}>
          {i > 0 && ', '}
          <a href={href({ name: 'editor', id: d.id })}>{d.id}</a> ({d.error ?? UNSENT_STATE[d.state] ?? d.state})
        </span>
      ))}
    </span>
  );
}

/**
 * Stored edits that were not sent (another person's copy, or one made on an earlier profile
 * with the same id): said under the header until dismissed.
 */
function UnsentNotices() {
  const [list, setList] = useState<UnsentNotice[]>([]);
  useEffect(() => onUnsentNotices(setList), []);
  if (list.length === 0) return null;
  return (
    <div class="unsent-notices">
      {list.map((n) => (
        <p key={n.key} role="alert" class="error" data-testid="unsent-notice">
          {n.code}: {n.text}{' '}
          <button type="button" class="link" onClick={() => dismissUnsentNotice(n.key)}>
            Dismiss
          </button>
        </p>
      ))}
    </div>
  );
}

/**
 * After a reload or a sign-in: this tab's stored copies of unsent edits made by the person
 * now signed in are reopened in the background and sent once the profile on the node is the
 * one they were made on (lib/livedocs.ts); other people's are discarded, never sent under
 * this person's name (lib/unsent.ts). The editor's code is loaded meanwhile.
 */
function resumeUnsent(ctx: AppCtx): void {
  const by = ownerOf(ctx.session);
  const mine = claimStoredCopies(by);
  if (mine.length === 0) return;
  const user = { name: ctx.displayName, ...randomColor() };
  void import('../lib/livedocs.js').then(
    (m) => m.resumeStoredCopies((id) => ({ token: ctx.api.token, user, fetchView: () => ctx.api.getProfile(id), by }), (id) => profileOrigin(ctx.api, id)),
    () => undefined, // the editor's code could not load (node down?): the copies stay stored for the next start
  );
}

let signOutRef: (reason?: string) => void = () => undefined;

/** Why the node signed this tab out (shown on the sign-in screen, which has no status region). */
const REFUSED = 'AUTH_UNAUTHORIZED: the node no longer accepts this token (revoked, or the node was reset); sign in again with a valid token.';

/**
 * A visible marker while the node holds damaged profiles (GET /api/damage, polled): they answer
 * PROFILE_DAMAGED until a peer or a backup repairs them (docs/operations.md).
 */
function DamageBanner() {
  const ctx = useContext(AppContext);
  const [damage, setDamage] = useState<{ ids: string[]; node: number }>({ ids: [], node: 0 });
  useEffect(() => {
    if (!ctx) return undefined;
    let live = true;
    const poll = () => {
      ctx.api.damage().then((d) => live && setDamage({ ids: d.profiles.map((p) => p.id), node: d.node.length }), () => undefined);
    };
    poll();
    const t = setInterval(poll, 10_000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [ctx]);
  if (damage.ids.length === 0 && damage.node === 0) return null;
  return (
    <div class="damage-banner" role="alert" data-testid="damage-banner">
      <strong>Damaged data on this node.</strong>{' '}
      {damage.ids.length > 0 ? `${damage.ids.length} profile(s) answer PROFILE_DAMAGED until repaired from a peer or a backup: ${damage.ids.join(', ')}.` : ''}
      {damage.node > 0 ? ` ${damage.node} storage finding(s) outside profiles.` : ''}
    </div>
  );
}

export function App() {
  const route = useRoute();
  const [ctx, setCtx] = useState<AppCtx | undefined>(() => resumed(() => signOutRef(REFUSED)));
  const [restoring, setRestoring] = useState(() => ctx === undefined && storedToken() !== undefined);
  const [signedOutBecause, setSignedOutBecause] = useState<string | undefined>();
  useEffect(() => clearStaleAnnouncement(), [route]);

  useEffect(() => {
    if (!ctx) return;
    resumeUnsent(ctx);
    preloadEditor();
  }, [ctx]);

  const signOut = useMemo(
    () => (reason?: string) => {
      // a person signing out with edits not yet sent decides; a sign-out by the node keeps this tab's copies for the next sign-in
      if (!reason && unsentDocs().length > 0 && !window.confirm(`Edits to ${unsentDocs().map((d) => d.id).join(', ')} are not sent yet. Sign out and discard them?`)) return;
      dropLiveDocs(!reason);
      forgetToken();
      setCtx(undefined);
      setSignedOutBecause(reason);
      if (reason) announce(reason, 'error');
      else announce('Signed out.');
    },
    [],
  );
  signOutRef = signOut;

  const signedIn = (api: Api, session: SessionInfo, displayName: string) => {
    storeToken(api.token);
    storeDisplayName(displayName);
    storeSessionInfo(session);
    api.onUnauthorized = () => signOut(REFUSED);
    setSignedOutBecause(undefined);
    setCtx({ api, session, displayName });
  };

  useEffect(() => {
    const t = storedToken();
    if (t === undefined || ctx !== undefined) return;
    const api = new Api(t);
    restoreSession(api)
      .then((s) => signedIn(api, s, storedDisplayName() ?? s.name))
      .catch((err: unknown) => {
        forgetToken();
        if (describeError(err).code === 'AUTH_UNAUTHORIZED') setSignedOutBecause(REFUSED);
      })
      .finally(() => setRestoring(false));
  }, []);

  if (restoring) return <p class="loading">Loading…</p>;
  if (!ctx) return <SignIn onSignedIn={signedIn} notice={signedOutBecause} />;

  return (
    <AppContext.Provider value={ctx}>
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="topbar">
        <span class="brand">profilesync</span>
        <Nav route={route} session={ctx.session} />
        <UnsentIndicator />
        <span class="who" data-testid="who">
          {ctx.displayName}
          {ctx.session.role ? ` · ${ctx.session.role}` : ''}
        </span>
        <button type="button" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <StatusRegion />
      <UnsentNotices />
      <DamageBanner />
      <main id="main" tabIndex={-1}>
        <Screen route={route} />
      </main>
    </AppContext.Provider>
  );
}
