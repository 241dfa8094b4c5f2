/** Sign in with an API token (kept in sessionStorage only). */
import { useState } from 'preact/hooks';
import { Api, describeError } from '../lib/api.js';
import { resolveSession } from '../lib/session.js';
import type { SessionInfo } from '../lib/types.js';
import { ErrorAlert } from './parts.js';

/** `notice`: why this tab was signed out (a revoked token while a page was open), shown until the next attempt. */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (api: Api, session: SessionInfo, displayName: string) => void; notice?: string | undefined }) {
  const [token, setToken] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | undefined>(notice);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (t === '') {
      setError('Enter a token.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const api = new Api(t);
      const session = await resolveSession(api);
      onSignedIn(api, session, name.trim() || session.name);
    } catch (err) {
      const d = describeError(err);
      setError(d.code === 'AUTH_UNAUTHORIZED' ? 'AUTH_UNAUTHORIZED: this token is not valid on this node (wrong, or revoked).' : `${d.code}: ${d.message}`);
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main">
      <form onSubmit={submit} class="card" aria-describedby="signin-help">
        <h1>profilesync</h1>
        <p id="signin-help">Sign in with an API token. It is kept in this browser tab only and forgotten when the tab closes.</p>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} aria-invalid={error && error !== notice ? 'true' : undefined} aria-describedby={error ? 'signin-error' : undefined} autofocus />
        <label for="display-name">Your name (shown to others while editing)</label>
        <input id="display-name" name="display-name" type="text" value={name} placeholder="optional" onInput={(e) => setName(e.currentTarget.value)} />
        <ErrorAlert message={error} id="signin-error" />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
