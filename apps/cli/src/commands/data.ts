/**
 * Data commands: `export`, `import` (offline on a data dir, or against a server with --url),
 * `backup FILE`, `restore FILE [--until TIME|SEQ]`, `verify [--repair]` (offline only).
 */
import { readFileSync, writeFileSync } from 'node:fs';
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

  addLocal(program.command('verify').description('check every log chain, checksum and derived record (offline)'))
    .option('--repair', 'rebuild derived data (views, snapshots) from the log when only they are damaged')
    .action(async (o: CommonOpts & { repair?: boolean }) => {
      const result = await cli.offline(o, async (node) => {
        const progress = createProgress({ label: 'verify', stream: cli.io.stderr });
        let report = await node.log.verify({ onProgress: (p) => progress.update(p.done, p.total) }).finally(() => progress.stop());
        let repaired: { streams: number } | undefined;
        if (!report.ok && o.repair) {
          const derivedOnly = report.broken.every((b) => b.kind === 'view' || b.kind === 'snapshot');
          if (derivedOnly) {
            const rp = createProgress({ label: 'repair', stream: cli.io.stderr });
            const { materializeProfile } = await import('@profilesync/core');
            repaired = await node.log.rebuild(materializeProfile, { onProgress: (p) => rp.update(p.done, p.total) }).finally(() => rp.stop());
            report = await node.log.verify();
          }
        }
        return { report, repaired };
      });
      const out = cli.output(o);
      const { report, repaired } = result;
      out.result({ ...report, ...(repaired ? { repaired: repaired.streams } : {}) }, () => {
        out.line(`${report.ok ? 'ok' : 'DAMAGED'}: ${report.streams} streams, ${report.entries} entries checked in ${Math.round(report.durationMillis)} ms`);
        if (repaired) out.line(`rebuilt derived data of ${repaired.streams} streams`);
        if (report.broken.length > 0) out.table(['STREAM', 'SEQ', 'KIND', 'MESSAGE'], report.broken.map((b) => [b.stream, b.seq, b.kind, b.message]));
        if (!report.ok && !o.repair && report.broken.every((b) => b.kind === 'view' || b.kind === 'snapshot')) out.line('only derived data is damaged: `profilesync verify --repair` rebuilds it from the log');
      });
      if (!report.ok) throw new ProfileSyncError('VERIFY_DAMAGE', `${report.broken.length} broken records`, { details: { reported: true } });
    });

  registerBackup(program, cli);
}
