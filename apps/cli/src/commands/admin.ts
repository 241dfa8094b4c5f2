/**
 * Remote operator commands: `peer add|list|remove`, `sync`, `cluster`, `cache stats|clear`,
 * `token create|list|set|revoke`, `audit`.
 */
import type { Command } from 'commander';
import { ProfileSyncError } from '@profilesync/errors';
import type { AuditRecord, CacheStatsSnapshot } from '@profilesync/core';
import type { PeerRecord, SyncNowResult, TokenInfo } from '@profilesync/server';
import { enc } from '../client.js';
import { addRemote, deleteAction, type Cli, type CommonOpts } from '../context.js';
import { parseTimeArg } from '../until.js';

interface PeerRow extends PeerRecord {
  connected: boolean;
  lastSeen: string | null;
  pending: number;
  state?: string;
  lastError?: string | null;
  lastErrno?: string | null;
}

/** "yes", or "no" with why the last dial failed: "no (SYNC_CONNECTION_LOST: ECONNREFUSED)". */
function connectedText(p: PeerRow): string {
  if (p.connected) return 'yes';
  if (!p.lastError) return p.state === 'connecting' ? 'no (dialing)' : 'no';
  return `no (${p.lastError}${p.lastErrno ? `: ${p.lastErrno}` : ''})`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

interface ClusterView {
  self?: string;
  ready?: boolean;
  bus: { connected: boolean; lagMillis: number; kind?: string; shards?: number; repairPending?: boolean; unpublished?: number; fallback?: string[]; keyMismatch?: { active: boolean; members: string[]; entries: number; lastEntryAt: string | null } } | null;
  members: { id: string; url: string; lastSeen: string; fingerprint?: string; alive?: boolean; ready?: boolean; self?: boolean }[];
}

export function registerAdmin(program: Command, cli: Cli): void {
  const peer = program.command('peer').description('peers this node syncs with');
  addRemote(peer.command('add <url>').description('allow and sync with the node at URL (ws://host:port/sync)'))
    .requiredOption('--key <pubkey>', 'the peer\'s public key (`profilesync keys show` on that node)')
    .option('--name <name>', 'a label for humans')
    .action(async (url: string, o: CommonOpts & { key: string; name?: string }) => {
      const api = await cli.client(o);
      const p = await api.post<PeerRecord>('/api/peers', { url, key: o.key, ...(o.name ? { name: o.name } : {}) });
      const out = cli.output(o);
      out.result(p, () => out.line(`added peer ${p.id} (${p.fingerprint}) at ${p.url}`));
    });
  addRemote(peer.command('list').description('peers and their sync status')).action(async (o: CommonOpts) => {
    const api = await cli.client(o);
    const r = await api.get<{ sync: string; peers: PeerRow[] }>('/api/peers');
    const out = cli.output(o);
    out.result(r, () => {
      out.table(['ID', 'URL', 'FINGERPRINT', 'SOURCE', 'CONNECTED', 'LAST SEEN', 'PENDING'], r.peers.map((p) => [p.id, p.url, p.fingerprint, p.source, connectedText(p), p.lastSeen, p.pending]));
      if (r.sync !== 'available') out.line(out.style('dim', '(peer sync is not available on this node yet)'));
    });
  });
  addRemote(peer.command('remove <id>').description('stop syncing with a peer added at run time')).action(deleteAction(cli, (id) => `/api/peers/${enc(id)}`, 'removed', (id) => `removed peer ${id}`));

  addRemote(program.command('sync').description('one-shot sync with every peer; waits until converged or the timeout'))
    .option('--timeout <ms>', 'give up after this many ms')
    .action(async (o: CommonOpts & { timeout?: string }) => {
      const api = await cli.client(o);
      const timeoutMs = o.timeout === undefined ? undefined : Number(o.timeout);
      if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs <= 0)) throw new ProfileSyncError('USAGE', '--timeout must be a positive integer (ms)');
      const r = await api.request<SyncNowResult>('POST', '/api/sync', { body: timeoutMs === undefined ? {} : { timeoutMs }, timeoutMs: (timeoutMs ?? 600_000) + 10_000 });
      const out = cli.output(o);
      out.result(r.data, () => {
        out.table(['PEER', 'OK', 'CODE', 'MESSAGE'], r.data.peers.map((p) => [p.id, p.ok ? 'yes' : 'no', p.code, p.message]));
        out.line(r.data.converged ? `converged in ${Math.round(r.data.durationMillis)} ms` : 'NOT converged');
      });
      if (!r.data.converged) throw new ProfileSyncError('SYNC_NOT_CONVERGED', 'peers did not converge before the timeout', { details: { reported: true } });
    });

  addRemote(program.command('cluster').description('the fleet this node belongs to: bus status and members (admin)')).action(async (o: CommonOpts) => {
    const api = await cli.client(o);
    const c = await api.get<ClusterView>('/api/cluster');
    const out = cli.output(o);
    out.result(c, () => {
      if (!c.bus) return out.line('this node is not in a fleet (no bus.url)');
      const b = c.bus;
      out.line(`bus ${b.connected ? 'connected' : out.style('red', 'UNREACHABLE')}, ${b.connected ? `lag ${Math.round(b.lagMillis)} ms` : 'lag unknown'}, ${b.shards ?? '?'} shards${b.repairPending ? ', repair pending' : ''}${b.unpublished ? `, ${b.unpublished} profiles to republish` : ''}${b.fallback?.length ? `, fallback sessions with ${b.fallback.join(', ')}` : ''}; this node ${c.ready ? 'is caught up' : 'is catching up'}`);
      const k = b.keyMismatch;
      if (k?.active) {
        const who = k.members.length > 0 ? `member(s) ${k.members.join(', ')}` : `${k.entries} bus entr${k.entries === 1 ? 'y' : 'ies'} (the last at ${k.lastEntryAt})`;
        out.line(out.style('red', `KEY MISMATCH: ${who} sealed under another fleet key: no changes cross with them; give every member the same bus.key`));
      }
      out.table(['ID', 'URL', 'FINGERPRINT', 'ALIVE', 'READY', 'LAST SEEN'], c.members.map((m) => [m.self ? `${m.id} (this node)` : m.id, m.url, m.fingerprint, m.alive === false ? 'no' : 'yes', m.ready ? 'yes' : 'no', m.lastSeen]));
    });
  });

  const cache = program.command('cache').description('caches of a running node');
  addRemote(cache.command('stats').description('every cache in the node: hits, misses, size, hit rate, ttl, evictions')).action(async (o: CommonOpts) => {
    const api = await cli.client(o);
    const { caches } = await api.get<{ caches: CacheStatsSnapshot[] }>('/api/cache/stats');
    const out = cli.output(o);
    out.result({ caches }, () => out.table(['NAME', 'HITS', 'MISSES', 'HIT RATE', 'SIZE', 'BYTES', 'TTL', 'EVICTIONS'], caches.map((c) => [c.name, c.hits, c.misses, pct(c.hit_rate), c.size, c.bytes, c.ttl, c.evictions])));
  });
  addRemote(cache.command('clear [name]').description('clear every cache, or one by name')).action(async (name: string | undefined, o: CommonOpts) => {
    const api = await cli.client(o);
    const r = await api.post<{ cleared: string[] }>(name === undefined ? '/api/cache/clear' : `/api/cache/clear/${enc(name)}`);
    const out = cli.output(o);
    out.result(r, () => out.line(`cleared ${r.cleared.join(', ') || 'nothing'}`));
  });

  const token = program.command('token').description('API tokens of a running node (admin)');
  addRemote(token.command('create <name>').description('create a token (one per person: history and audit name them); the secret is printed once'))
    .requiredOption('--role <role>', 'admin, editor or viewer')
    .option('--profiles <globs>', 'comma-separated globs on profile ids this token may touch')
    .option('--display-name <name>', 'the person who will use it, e.g. "Ada Lovelace" (history, audit and presence show it)')
    .option('--email <address>', 'their email address')
    .action(async (name: string, o: CommonOpts & { role: string; profiles?: string; displayName?: string; email?: string }) => {
      const api = await cli.client(o);
      const body = {
        name,
        role: o.role,
        ...(o.profiles ? { profiles: o.profiles.split(',').map((s) => s.trim()) } : {}),
        ...(o.displayName !== undefined ? { displayName: o.displayName } : {}),
        ...(o.email !== undefined ? { email: o.email } : {}),
      };
      const r = await api.post<TokenInfo & { token: string }>('/api/tokens', body);
      const out = cli.output(o);
      out.result(r, () => {
        const who = r.displayName ? ` for ${r.displayName}${r.email ? ` <${r.email}>` : ''}` : '';
        out.line(`token ${r.id}${who} (${r.role}${r.profiles ? `, profiles ${r.profiles.join(',')}` : ''}), shown once:`);
        out.line(`  ${r.token}`);
      });
    });
  addRemote(token.command('list').description('tokens (never their secrets)')).action(async (o: CommonOpts) => {
    const api = await cli.client(o);
    const { tokens } = await api.get<{ tokens: TokenInfo[] }>('/api/tokens');
    const out = cli.output(o);
    out.result({ tokens }, () => out.table(['ID', 'NAME', 'PERSON', 'EMAIL', 'ROLE', 'PROFILES', 'CREATED', 'LAST USED'], tokens.map((t) => [t.id, t.name, t.displayName, t.email, t.role, t.profiles?.join(',') ?? '*', t.createdAt, t.lastUsedAt])));
  });
  addRemote(token.command('set <id>').description("change a token's role and/or grants; its open live connections are closed or downgraded at once"))
    .option('--role <role>', 'admin, editor or viewer')
    .option('--profiles <globs>', 'comma-separated globs on profile ids this token may touch')
    .option('--all-profiles', 'no grant restriction (every profile; an admin gets node-wide powers)')
    .action(async (id: string, o: CommonOpts & { role?: string; profiles?: string; allProfiles?: boolean }) => {
      if (o.profiles !== undefined && o.allProfiles) throw new ProfileSyncError('USAGE', 'give --profiles or --all-profiles, not both');
      if (o.role === undefined && o.profiles === undefined && !o.allProfiles) throw new ProfileSyncError('USAGE', 'give --role, --profiles or --all-profiles');
      const body = {
        ...(o.role !== undefined ? { role: o.role } : {}),
        ...(o.profiles !== undefined ? { profiles: o.profiles.split(',').map((s) => s.trim()) } : {}),
        ...(o.allProfiles ? { profiles: null } : {}),
      };
      const api = await cli.client(o);
      const t = await api.patch<TokenInfo>(`/api/tokens/${enc(id)}`, body);
      const out = cli.output(o);
      out.result(t, () => out.line(`token ${t.id}: ${t.role}, profiles ${t.profiles?.join(',') ?? '*'}`));
    });
  addRemote(token.command('revoke <id>').description('revoke a token (its open live connections are closed at once)')).action(deleteAction(cli, (id) => `/api/tokens/${enc(id)}`, 'revoked', (id) => `revoked ${id}`));

  addRemote(program.command('audit').description('audit records, newest first (admin)'))
    .option('--profile <id>', 'one profile')
    .option('--actor <actor>', 'one actor')
    .option('--action <action>', 'one action, e.g. auth.denied')
    .option('--since <time>', 'from this time: ISO-8601 (2024-05-01T10:00:00Z), ms since the epoch, or a duration ago (30m, 24h, 7d)')
    .option('--until <time>', 'up to this time (same forms as --since)')
    .option('--limit <n>', 'at most n records')
    .action(async (o: CommonOpts & { profile?: string; actor?: string; action?: string; since?: string; until?: string; limit?: string }) => {
      const since = parseTimeArg('--since', o.since);
      const until = parseTimeArg('--until', o.until);
      if (o.limit !== undefined && !/^[1-9]\d{0,8}$/.test(o.limit)) throw new ProfileSyncError('USAGE', `--limit takes a positive integer, got ${JSON.stringify(o.limit)}`);
      const api = await cli.client(o);
      const { records } = await api.get<{ records: AuditRecord[] }>('/api/audit', { profile: o.profile, actor: o.actor, action: o.action, since, until, limit: o.limit });
      const out = cli.output(o);
      out.result({ records }, () => out.table(['AT', 'ACTION', 'OUTCOME', 'ACTOR', 'ORIGIN', 'PROFILE', 'DETAILS'], records.map((r) => [r.at, r.action, r.outcome, r.actor, r.origin, r.profile, r.details ? JSON.stringify(r.details) : r.fields?.join(',')])));
    });
}
