/**
 * Tokens (admin): one token per person, with a role, optional profile globs, and the person's
 * display name and email (shown in history and presence). A new token's secret is shown once,
 * with a copy button; revoking asks first. The node never returns a secret again.
 */
import { useState } from 'preact/hooks';
import { ApiError, errorText } from '../lib/api.js';
import { when } from '../lib/format.js';
import type { Role, TokenCreate, TokenInfo } from '../lib/types.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { ErrorAlert, Grid, usePolling } from './parts.js';
import { announce } from './status.js';

const ROLE_HELP: Record<Role, string> = {
  viewer: 'read profiles, history and caches',
  editor: 'also create, edit, delete, revert and label profiles',
  admin: 'also tokens, peers, audit, caches and sync',
};

/** Token names as the node accepts them. */
export const TOKEN_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,63}$/;
const GLOB_RE = /^[A-Za-z0-9._:*?-]{1,128}$/;

/** "team-a.*, support-*" or one per line -> globs; refuses characters a glob cannot hold. */
export function parseGlobs(text: string): { globs: string[]; bad?: string } {
  const globs = text
    .split(/[\s,]+/)
    .map((g) => g.trim())
    .filter((g) => g !== '');
  const bad = globs.find((g) => !GLOB_RE.test(g));
  return bad === undefined ? { globs } : { globs, bad };
}

function CreatedToken({ token, info, onClose }: { token: string; info: TokenInfo; onClose: () => void }) {
  const [copied, setCopied] = useState<string | undefined>();
  return (
    <Dialog title={`Token for ${info.displayName || info.name}`} confirmLabel="Done, I have stored it" noCancel onConfirm={() => undefined} onClose={onClose} testId="token-created-dialog">
      <p>
        <strong>Copy it now: this is the only time the node shows this token.</strong> Give it to {info.displayName || info.name} through a safe channel; it signs in as {/^[aeiou]/.test(info.role) ? 'an' : 'a'}{' '}
        {info.role}
        {info.profiles ? ` for ${info.profiles.join(', ')}` : ''}.
      </p>
      <label for="new-token-value">Token</label>
      <div class="inline">
        <input id="new-token-value" class="secret" readOnly value={token} onFocus={(e) => e.currentTarget.select()} spellcheck={false} data-testid="new-token-value" />
        <button
          type="button"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(token);
              setCopied('Copied to the clipboard.');
            } catch {
              (document.getElementById('new-token-value') as HTMLInputElement | null)?.select();
              setCopied('Selected: press Ctrl+C (the clipboard is not available here).');
            }
          }}
        >
          Copy
        </button>
      </div>
      <p role="status" class="muted">
        {copied ?? ''}
      </p>
    </Dialog>
  );
}

function NewToken({ onCreated }: { onCreated: (token: string, info: TokenInfo) => void }) {
  const { api } = useApp();
  const [f, setF] = useState({ name: '', displayName: '', email: '', role: 'editor' as Role, globs: '' });
  const [error, setError] = useState<{ field?: string; text: string } | undefined>();
  const [busy, setBusy] = useState(false);
  const fieldError = (field: string) => (error?.field === field ? error.text : undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const name = f.name.trim();
    if (!TOKEN_NAME_RE.test(name)) return setError({ field: 'name', text: 'REQUEST_INVALID: the token name takes 1 to 64 letters, digits, spaces and . _ : @ -, starting with a letter or digit' });
    const { globs, bad } = parseGlobs(f.globs);
    if (bad !== undefined) return setError({ field: 'profiles', text: `REQUEST_INVALID: "${bad}" is not a glob of profile-id characters, * and ?` });
    const body: TokenCreate = { name, role: f.role, ...(globs.length > 0 ? { profiles: globs } : {}) };
    if (f.displayName.trim()) body.displayName = f.displayName.trim();
    if (f.email.trim()) body.email = f.email.trim();
    setBusy(true);
    try {
      const created = await api.createToken(body);
      const { token, ...info } = created;
      setF({ name: '', displayName: '', email: '', role: 'editor', globs: '' });
      onCreated(token, info);
    } catch (err) {
      const field = err instanceof ApiError ? err.field?.replace(/^body\./, '') : undefined;
      setError({ ...(field ? { field } : {}), text: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  const described = (field: string, help: string) => ({ 'aria-describedby': `${help}${fieldError(field) ? ` err-${field}` : ''}`, 'aria-invalid': fieldError(field) ? ('true' as const) : undefined });
  return (
    <section class="card" aria-labelledby="new-token-title">
      <h2 id="new-token-title">New token</h2>
      <form onSubmit={submit} class="form-grid" noValidate>
        <label for="tok-display">Person's name</label>
        <div>
          <input id="tok-display" value={f.displayName} placeholder="Ada Lovelace" onInput={(e) => setF({ ...f, displayName: e.currentTarget.value })} {...described('displayName', 'tok-display-help')} />
          <span id="tok-display-help" class="help">shown in history, audit and presence</span>
          {fieldError('displayName') && <span class="field-error" id="err-displayName">{fieldError('displayName')}</span>}
        </div>
        <label for="tok-email">Email (optional)</label>
        <div>
          <input id="tok-email" type="email" value={f.email} placeholder="ada@example.com" onInput={(e) => setF({ ...f, email: e.currentTarget.value })} {...described('email', 'tok-email-help')} />
          <span id="tok-email-help" class="help">to reach the person; never used to sign in</span>
          {fieldError('email') && <span class="field-error" id="err-email">{fieldError('email')}</span>}
        </div>
        <label for="tok-name">Token name (required)</label>
        <div>
          <input id="tok-name" required value={f.name} placeholder="ada-laptop" onInput={(e) => setF({ ...f, name: e.currentTarget.value })} {...described('name', 'tok-name-help')} />
          <span id="tok-name-help" class="help">what the token is for; unique names help when revoking</span>
          {fieldError('name') && <span class="field-error" id="err-name">{fieldError('name')}</span>}
        </div>
        <span id="tok-role-label">Role</span>
        <fieldset aria-labelledby="tok-role-label">
          {(['viewer', 'editor', 'admin'] as const).map((r) => (
            <label class="radio" key={r}>
              <input type="radio" name="tok-role" value={r} checked={f.role === r} onChange={() => setF({ ...f, role: r })} /> <strong>{r}</strong>: {ROLE_HELP[r]}
            </label>
          ))}
        </fieldset>
        <label for="tok-globs">Profiles (optional)</label>
        <div>
          <input id="tok-globs" value={f.globs} placeholder="team-a.* support-*" onInput={(e) => setF({ ...f, globs: e.currentTarget.value })} {...described('profiles', 'tok-globs-help')} />
          <span id="tok-globs-help" class="help">profile-id globs (* and ?), separated by spaces or commas; empty = every profile</span>
          {fieldError('profiles') && <span class="field-error" id="err-profiles">{fieldError('profiles')}</span>}
        </div>
        <span />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create token'}
          </button>
        </div>
      </form>
      {error && !error.field && <ErrorAlert message={error.text} />}
    </section>
  );
}

/** Change a token's role and profile globs (PATCH /api/tokens/:id). */
function ChangeToken({ token, onClose, onDone }: { token: TokenInfo; onClose: () => void; onDone: () => Promise<void> }) {
  const { api } = useApp();
  const [role, setRole] = useState<Role>(token.role);
  const [globs, setGlobs] = useState((token.profiles ?? []).join(' '));
  return (
    <Dialog
      title={`Change token ${token.name}`}
      confirmLabel="Save"
      testId="change-token-dialog"
      onClose={onClose}
      onConfirm={async () => {
        const parsed = parseGlobs(globs);
        if (parsed.bad !== undefined) throw new ApiError(0, 'REQUEST_INVALID', `"${parsed.bad}" is not a glob of profile-id characters, * and ?`);
        const profiles = parsed.globs.length > 0 ? parsed.globs : null;
        const change: { role?: Role; profiles?: string[] | null } = {};
        if (role !== token.role) change.role = role;
        if (JSON.stringify(profiles) !== JSON.stringify(token.profiles)) change.profiles = profiles;
        if (Object.keys(change).length === 0) return;
        await api.updateToken(token.id, change);
        announce(`Token ${token.name} is now ${role}${profiles ? ` for ${profiles.join(', ')}` : ' for every profile'}; its open connections follow at once.`);
        await onDone();
      }}
    >
      <fieldset>
        <legend>Role</legend>
        {(['viewer', 'editor', 'admin'] as const).map((r) => (
          <label class="radio" key={r}>
            <input type="radio" name="change-role" value={r} checked={role === r} onChange={() => setRole(r)} /> <strong>{r}</strong>: {ROLE_HELP[r]}
          </label>
        ))}
      </fieldset>
      <label for="change-globs">Profiles (globs; empty = every profile)</label>
      <input id="change-globs" value={globs} onInput={(e) => setGlobs(e.currentTarget.value)} placeholder="team-a.* support-*" />
    </Dialog>
  );
}

export function Tokens() {
  const { api, session } = useApp();
  const [tokens, setTokens] = useState<TokenInfo[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [created, setCreated] = useState<{ token: string; info: TokenInfo } | undefined>();
  const [revoking, setRevoking] = useState<TokenInfo | undefined>();
  const [changing, setChanging] = useState<TokenInfo | undefined>();

  const load = async () => {
    try {
      setTokens(await api.tokens());
      setError(undefined);
    } catch (err) {
      setError(errorText(err));
    }
  };
  usePolling(load, 15_000);

  return (
    <section aria-labelledby="tokens-title">
      <div class="page-head">
        <h1 id="tokens-title">Tokens</h1>
      </div>
      <p class="muted">Give every person their own token: history, audit and the editor then show who did what. A token is shown once, when it is created.</p>
      <ErrorAlert message={error} />
      {tokens && (
        <Grid testId="tokens-table" caption="API tokens" columns={['Person', 'Token name', 'Role', 'Profiles', 'Created', 'Last used']} actions>
          {tokens.map((t) => (
            <tr key={t.id} data-token={t.id}>
              <th scope="row">
                {t.displayName || <span class="muted">(no person)</span>}
                {t.email ? <div class="muted">{t.email}</div> : null}
              </th>
              <td>
                {t.name} <span class="muted">({t.id})</span>
                {t.id === session.tokenId && <span class="chip">this session</span>}
              </td>
              <td>{t.role}</td>
              <td>{t.profiles ? t.profiles.map((g) => <code key={g} class="chip tag">{g}</code>) : 'all'}</td>
              <td>
                {when(t.createdAt)} <span class="muted">by {t.createdBy}</span>
              </td>
              <td>{when(t.lastUsedAt)}</td>
              <td class="row-actions">
                <button type="button" class="link" onClick={() => setChanging(t)} aria-label={`Change token ${t.name}`}>
                  Change
                </button>
                <button type="button" class="link danger" onClick={() => setRevoking(t)} aria-label={`Revoke token ${t.name}`}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </Grid>
      )}
      <NewToken
        onCreated={(token, info) => {
          setCreated({ token, info });
          void load();
        }}
      />
      {created && (
        <CreatedToken
          token={created.token}
          info={created.info}
          onClose={() => {
            setCreated(undefined); // the secret leaves memory with the dialog
            announce(`Token ${created.info.name} created.`);
          }}
        />
      )}
      {changing && <ChangeToken token={changing} onClose={() => setChanging(undefined)} onDone={load} />}
      {revoking && (
        <Dialog
          title={`Revoke token ${revoking.name}?`}
          confirmLabel="Revoke"
          danger
          testId="revoke-token-dialog"
          onClose={() => setRevoking(undefined)}
          onConfirm={async () => {
            await api.revokeToken(revoking.id);
            announce(`Revoked token ${revoking.name}. Requests and live connections with it now fail.`);
            await load();
          }}
        >
          <p>
            {revoking.displayName || revoking.name} can no longer use this token{revoking.id === session.tokenId ? ' — this is the token you are signed in with, so you will be signed out' : ''}. This cannot be undone; create a new token instead.
          </p>
        </Dialog>
      )}
    </section>
  );
}
