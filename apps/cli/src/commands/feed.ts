/**
 * The app-side surfaces on the command line: `changes` (read or follow the change feed) and
 * `webhook add|list|remove|deliveries`.
 */
import type { Command } from 'commander';
import { createParser } from 'eventsource-parser';
import { ProfileSyncError } from '@profilesync/errors';
import type { ChangeData, HookStatus } from '@profilesync/server';
import { enc } from '../client.js';
import { addRemote, deleteAction, type Cli, type CommonOpts } from '../context.js';

interface ChangeLine {
  id: string;
  data: ChangeData;
}

interface Hook {
  id: string;
  name: string | null;
  url: string;
  events: string[] | null;
  profiles: string[] | null;
  source: 'config' | 'added';
  createdAt: string | null;
  status: HookStatus;
}

interface Attempt {
  id: string;
  profile: string;
  event: string;
  attempt: number;
  at: string;
  outcome: string;
  status: number | null;
  error: string | null;
  durationMillis: number;
  nextAttemptAt: string | null;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * One change as a text line: event id, profile id, version (or `deleted`), the labels as
 * NAME=REF, then `[N open conflict(s)]` when there are any (in brackets, not `conflicts=N`,
 * which could be read as a label named `conflicts`).
 */
export function changeText(c: ChangeLine): string {
  const parts = [c.id, c.data.id, c.data.deleted ? 'deleted' : c.data.version];
  const labels = Object.entries(c.data.labels).map(([k, v]) => `${k}=${v}`);
  if (labels.length > 0) parts.push(labels.join(' '));
  const n = c.data.conflicts ?? 0;
  if (n > 0) parts.push(`[${n} open conflict${n === 1 ? '' : 's'}]`);
  return parts.join('  ');
}

export function registerFeed(program: Command, cli: Cli): void {
  addRemote(
    program
      .command('changes')
      .description('the change feed: every profile changed since --since (default: every profile, as it is now), then, with --follow, changes as they happen')
      .option('--since <id>', 'an event id (EPOCH-LSN) printed earlier: only what changed after it', '0')
      .option('--ids <ids>', 'comma-separated profile ids to follow')
      .option('--follow', 'keep following (one line per change; Ctrl-C ends)'),
  ).action(async (o: CommonOpts & { since: string; ids?: string; follow?: boolean }) => {
    const api = await cli.client(o);
    const out = cli.output(o);
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const seen: ChangeLine[] = [];
    let position = o.since;
    try {
      const res = await api.events(`/api/changes${o.ids ? `?ids=${enc(o.ids)}` : ''}`, { accept: 'text/event-stream', 'last-event-id': o.since }, abort.signal);
      let ready = false;
      const parser = createParser({
        onEvent: (ev) => {
          if (ev.event === 'change' && ev.id !== undefined) {
            const c: ChangeLine = { id: ev.id, data: JSON.parse(ev.data) };
            position = ev.id;
            if (o.follow && out.json) cli.io.stdout.write(`${JSON.stringify(c)}\n`);
            else if (o.follow || !out.json) out.line(changeText(c));
            if (!o.follow) seen.push(c);
          } else if (ev.event === 'ready') {
            ready = true;
            position = (JSON.parse(ev.data) as { position: string }).position;
            if (!o.follow) abort.abort();
            else if (!out.json) out.note(out.style('dim', `(caught up at ${position}; following)`));
          }
        },
      });
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(dec.decode(value, { stream: true }));
        }
      } catch (err) {
        if (!abort.signal.aborted) throw err;
      }
      if (!ready && !abort.signal.aborted) throw new ProfileSyncError('SERVER_UNREACHABLE', 'the change feed ended before it caught up (the node stopped?)');
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    if (!o.follow && out.json) out.result({ changes: seen, position }, () => undefined);
    else if (!o.follow) out.note(out.style('dim', `(position ${position}: pass --since ${position} to get only what changes after now)`));
  });

  const hook = program.command('webhook').description('webhooks: the node POSTs each profile change to a URL (signed, retried, at-least-once)');
  addRemote(hook.command('add <url>').description('add a webhook; prints its secret once (to check x-profilesync-signature)'))
    .option('--event <kind>', 'deliver only this kind (repeatable): profile.created, profile.updated, profile.deleted, label.moved, conflict.opened, conflict.resolved', collect)
    .option('--profile <glob>', 'only profiles matching this glob (repeatable)', collect)
    .option('--name <name>', 'a name for the list')
    .option('--secret <secret>', 'use this secret (16+ characters) instead of a generated one')
    .action(async (url: string, o: CommonOpts & { event?: string[]; profile?: string[]; name?: string; secret?: string }) => {
      const api = await cli.client(o);
      const h = await api.post<Hook & { secret: string }>('/api/webhooks', {
        url,
        ...(o.event ? { events: o.event } : {}),
        ...(o.profile ? { profiles: o.profile } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.secret ? { secret: o.secret } : {}),
      });
      const out = cli.output(o);
      out.result(h, () => {
        out.line(`added webhook ${h.id} -> ${h.url}`);
        out.line(`secret (shown once; the receiver checks x-profilesync-signature with it):`);
        out.line(`  ${h.secret}`);
      });
    });
  addRemote(hook.command('list').description('webhooks and their delivery status')).action(async (o: CommonOpts) => {
    const api = await cli.client(o);
    const r = await api.get<{ webhooks: Hook[] }>('/api/webhooks');
    const out = cli.output(o);
    out.result(r, () =>
      out.table(
        ['ID', 'NAME', 'URL', 'EVENTS', 'SOURCE', 'PENDING', 'DELIVERED', 'FAILED', 'LAST ERROR'],
        r.webhooks.map((h) => [h.id, h.name, h.url, h.events?.join(',') ?? 'all', h.source, h.status.pending, h.status.delivered, h.status.failed, h.status.lastError ? `${h.status.lastError.error} (${h.status.lastError.at})` : '']),
      ),
    );
  });
  addRemote(hook.command('remove <id>').description('remove a webhook added at run time (config-file hooks: edit the file)')).action(
    deleteAction(cli, (id) => `/api/webhooks/${enc(id)}`, 'removed', (id) => `removed webhook ${id}`),
  );
  addRemote(hook.command('deliveries <id>').description('the delivery log of a webhook: the last attempts, newest first, with their errors'))
    .option('--limit <n>', 'at most this many (1..200)')
    .action(async (id: string, o: CommonOpts & { limit?: string }) => {
      const api = await cli.client(o);
      const r = await api.get<{ deliveries: Attempt[] }>(`/api/webhooks/${enc(id)}/deliveries`, o.limit ? { limit: o.limit } : undefined);
      const out = cli.output(o);
      out.result(r, () =>
        out.table(
          ['AT', 'DELIVERY', 'PROFILE', 'EVENT', 'ATTEMPT', 'OUTCOME', 'STATUS', 'ERROR', 'NEXT ATTEMPT'],
          r.deliveries.map((d) => [d.at, d.id, d.profile, d.event, d.attempt, d.outcome, d.status, d.error, d.nextAttemptAt]),
        ),
      );
    });
}
