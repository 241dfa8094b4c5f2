/**
 * Data commands: `export`, `import` (offline on a data dir, or against a server with --url),
 * `backup FILE`, `restore FILE [--until TIME|SEQ]`, `verify [--repair]` (offline only).
 */
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VerifyReport } from '@profilesync/log';
import type { NodeHandle } from '@profilesync/server';
import type { Command } from 'commander';
import { ProfileSyncError, errorCode } from '@profilesync/errors';
import type { ImportReport, ProfileSummary, ProfileView } from '@profilesync/core';
import { enc, type ApiClient } from '../client.js';
import { addLocal, addRemote, type Cli, type CommonOpts } from '../context.js';
import { createProgress } from '../progress.js';
import { editable, mergeDiff } from '../patch.js';
import { registerBackup } from './backup.js';

export const EXPORT_FORMAT = 'profilesync-export/v1';

async function exportRemote(api: ApiClient, ids: string[]): Promise<ProfileView[]> {
  const wanted = ids.length > 0 ? ids : (await api.get<{ profiles: ProfileSummary[] }>('/api/profiles')).profiles.map((p) => p.id);
  const out: ProfileView[] = [];
  for (const id of wanted) out.push(await api.get<ProfileView>(`/api/profiles/${enc(id)}`));
  return out;
}

/** Import through the HTTP API with the store's semantics: create, or replace the fields (labels kept). */
async function importRemote(api: ApiClient, items: unknown[], onProgress: (done: number) => void): Promise<ImportReport> {
  const report: ImportReport = { created: [], updated: [], unchanged: [], rejected: [] };
  let done = 0;
  for (const item of items) {
    const id = typeof item === 'object' && item !== null && typeof (item as { id?: unknown }).id === 'string' ? (item as { id: string }).id : null;
    try {
      if (id === null) throw new ProfileSyncError('PROFILE_INVALID_ID', 'an imported profile needs a valid id');
      const body = editable(item as Record<string, unknown>);
      const current = await api.request<ProfileView>('GET', `/api/profiles/${enc(id)}`, { accept: [404] });
      if (current.status === 404) {
        await api.post('/api/profiles', { ...body, id });
        report.created.push(id);
      } else {
        const patch = mergeDiff(editable(current.data as unknown as Record<string, unknown>), body);
        if (Object.keys(patch).length === 0) report.unchanged.push(id);
        else {
          await api.patch(`/api/profiles/${enc(id)}`, patch);
          report.updated.push(id);
        }
      }
    } catch (err) {
      report.rejected.push({ id, code: errorCode(err) ?? 'INTERNAL', message: (err as Error).message });
    }
    onProgress(++done);
  }
  return report;
}

function readImport(path: string): unknown[] {
  let data: unknown;
  try {
    data = JSON.parse(path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ProfileSyncError('IMPORT_INVALID', `${path} is not readable JSON: ${(err as Error).message}`);
  }
  const items = Array.isArray(data) ? data : typeof data === 'object' && data !== null && Array.isArray((data as { profiles?: unknown }).profiles) ? (data as { profiles: unknown[] }).profiles : null;
  if (items === null) throw new ProfileSyncError('IMPORT_INVALID', 'import data must be an array of profiles or { "profiles": [...] }');
  return items;
}

export function registerData(program: Command, cli: Cli): void {
  addRemote(program.command('export [ids...]').description('write profiles as JSON (offline on the data dir, or from a server with --url)'))
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (ids: string[], o: CommonOpts & { output?: string }) => {
      const profiles = cli.isRemote(o) ? await exportRemote(await cli.client(o), ids) : await cli.offline(o, (node) => node.store.exportJson(ids.length > 0 ? ids : undefined));
      const doc = { format: EXPORT_FORMAT, exportedAt: new Date().toISOString(), profiles };
      const text = `${JSON.stringify(doc, null, 2)}\n`;
      const out = cli.output(o);
      if (o.output) {
        writeFileSync(o.output, text);
        out.result({ file: o.output, profiles: profiles.length }, () => out.line(`exported ${profiles.length} profiles to ${o.output}`));
      } else {
        cli.io.stdout.write(text);
      }
    });

  addRemote(program.command('import <file>').description('create or replace profiles from an export file (- for stdin); each profile all-or-nothing'))
    .action(async (file: string, o: CommonOpts) => {
      const items = readImport(file);
      const progress = createProgress({ label: 'import', stream: cli.io.stderr });
      let report: ImportReport;
      try {
        if (cli.isRemote(o)) {
          report = await importRemote(await cli.client(o), items, (d) => progress.update(d, items.length));
        } else {
          report = await cli.offline(o, async (node) => {
            progress.update(0, items.length);
            const r = await node.store.importJson({ profiles: items }, { actor: 'cli', origin: 'cli:import' });
            progress.update(items.length, items.length);
            return r;
          });
        }
      } finally {
        progress.stop();
      }
      const out = cli.output(o);
      out.result(report, () => {
        out.line(`created ${report.created.length}, updated ${report.updated.length}, unchanged ${report.unchanged.length}, rejected ${report.rejected.length}`);
        for (const r of report.rejected) out.line(`  rejected ${r.id ?? '(no id)'}: ${r.code} ${r.message}`);
      });
      if (report.rejected.length > 0) {
        throw new ProfileSyncError('IMPORT_INVALID', `${report.rejected.length} profiles were rejected`, { details: { reported: true } });
      }
    });

  addLocal(program.command('verify').description('check every log chain, checksum and derived record (offline); --repair fixes what it can and says what it did with each finding'))
    .option('--repair', 'rebuild derived data (views, snapshots) of intact profiles; with --from, rebuild damaged profiles from a backup')
    .option('--from <backup>', 'with --repair: a backup file (of this node) to rebuild damaged profiles from (their entries, then what is still intact here)')
    .action(async (o: CommonOpts & { repair?: boolean; from?: string }) => {
      if (o.from !== undefined && !o.repair) throw new ProfileSyncError('USAGE', '--from needs --repair');
      if (o.from !== undefined && !existsSync(o.from)) throw new ProfileSyncError('USAGE', `no backup file ${o.from}`);
      const result = await cli.offline(o, (node) => verifyAndRepair(cli, node, o));
      const out = cli.output(o);
      const { report, findings, repaired } = result;
      out.result({ ...report, findings, ...(repaired.length > 0 ? { repaired } : {}) }, () => {
        out.line(`${report.ok ? 'ok' : 'DAMAGED'}: ${report.streams} streams, ${report.entries} entries checked in ${Math.round(report.durationMillis)} ms`);
        if (findings.length > 0) out.table(['STREAM', 'SEQ', 'KIND', 'MESSAGE', 'ACTION'], findings.map((b) => [b.stream, b.seq, b.kind, b.message, b.action]));
        if (!o.repair && findings.length > 0) out.line('`profilesync verify --repair` rebuilds derived data; damaged profiles are repaired from a peer (automatically, while the node runs) or with --repair --from BACKUP');
      });
      if (!report.ok) throw new ProfileSyncError('VERIFY_DAMAGE', `${report.broken.length} broken records`, { details: { reported: true } });
    });

  registerBackup(program, cli);
}

type Finding = { stream: string; seq: number; kind: string; message: string; action: string };

/**
 * verify, and with --repair: every finding gets an action (none is skipped because another one
 * blocked it). Derived data of intact profiles is rebuilt; damaged profiles are rebuilt from the
 * backup given with --from (its entries of the profile, then the entries still intact here)
 * as a new chain segment, audited as profile.repair; the rest is reported with what to do.
 */
async function verifyAndRepair(cli: Cli, node: NodeHandle, o: CommonOpts & { repair?: boolean; from?: string }): Promise<{ report: VerifyReport; findings: Finding[]; repaired: string[] }> {
  const progress = createProgress({ label: 'verify', stream: cli.io.stderr });
  let report = await node.log.verify({ onProgress: (p) => progress.update(p.done, p.total) }).finally(() => progress.stop());
  const findings: Finding[] = report.broken.map((b) => ({ ...b, action: o.repair ? 'not repaired' : 'none (verify only)' }));
  const repaired: string[] = [];
  if (!o.repair || report.ok) return { report, findings, repaired };
  const damaged = new Set(node.store.damaged().profiles.map((p) => p.id));
  const actions = new Map<string, string>();
  if (o.from !== undefined) {
    const fromBackup = await entriesFromBackup(o.from, node, [...damaged]);
    for (const id of damaged) {
      const backed = fromBackup.get(id);
      if (backed === undefined || backed.length === 0) {
        actions.set(id, `not repaired: ${o.from} does not hold ${id}`);
        continue;
      }
      const local: typeof backed = [];
      try {
        for await (const e of node.log.read(id, { allowDamaged: true, fromSeq: backed.length + 1 })) local.push(e);
      } catch {
        // the first bad entry ends what is still intact here
      }
      try {
        await node.store.repairFromHistory(id, [...backed, ...local], { actor: 'cli', origin: 'backup' });
        repaired.push(id);
        actions.set(id, `repaired from ${o.from}: ${backed.length} entries from the backup${local.length > 0 ? ` + ${local.length} still intact here` : ''} as a new chain segment`);
      } catch (err) {
        actions.set(id, `not repaired: ${errorCode(err) ?? 'ERROR'} ${(err as Error).message}`);
      }
    }
  } else {
    for (const id of damaged) actions.set(id, 'not repaired: a peer that holds it repairs it while the node runs, or run verify --repair --from BACKUP');
  }
  // derived data of every intact profile (a damaged one's view comes with its repair)
  const { materializeProfile } = await import('@profilesync/core');
  const rebuilt = await node.log.rebuild(materializeProfile);
  for (const f of findings) {
    const a = actions.get(f.stream);
    if (a !== undefined) f.action = a;
    else if (f.kind === 'view' || f.kind === 'snapshot') f.action = `rebuilt from the log (${rebuilt.streams} streams rebuilt)`;
    else if (f.kind === 'seal') f.action = 'the commit seal is written again when the node closes';
    else if (f.kind === 'meta') f.action = 'the format records were written again at open';
    else if (f.kind === 'checksum' && f.stream === '') f.action = 'table block: what it held is checked record by record (listed on their own)';
    else if (f.kind === 'aux') f.action = 'not repaired: an aux record (token, peer) is unreadable; re-create it or restore a backup';
    else if (f.stream.startsWith('#')) f.action = 'not repaired: restore a backup (restore --until before the damage keeps the rest)';
  }
  report = await node.log.verify();
  return { report, findings, repaired };
}

/** The entries of `ids` in a backup file, read through a temporary restore with this node's codec. */
async function entriesFromBackup(file: string, node: NodeHandle, ids: string[]): Promise<Map<string, { body: Uint8Array; actor: string; origin: string; summary: string; version?: Uint8Array | undefined }[]>> {
  const { restoreLog, openLog, plainCodec } = await import('@profilesync/log');
  const tmp = mkdtempSync(join(tmpdir(), 'profilesync-repair-'));
  const out = new Map<string, { body: Uint8Array; actor: string; origin: string; summary: string; version?: Uint8Array | undefined }[]>();
  try {
    const codec = node.codec ?? plainCodec;
    await restoreLog({ dir: join(tmp, 'log'), input: createReadStream(file), codec });
    const log = await openLog({ dir: join(tmp, 'log'), codec, seal: false, checkTables: false });
    try {
      for (const id of ids) {
        if (log.head(id) === undefined) continue;
        const list = [];
        for await (const e of log.read(id)) list.push({ body: e.body, actor: e.actor, origin: e.origin, summary: e.summary, version: e.version });
        out.set(id, list);
      }
    } finally {
      await log.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}
