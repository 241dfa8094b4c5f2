/**
 * Data commands: `export [--format json|log]`, `import` (offline on a data dir, or through a
 * running node; see transfer.ts), `backup FILE` (offline or online), `restore FILE [--until
 * TIME|SEQ]`, `verify [--repair]` (offline only).
 */
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VerifyReport } from '@profilesync/log';
import type { NodeHandle } from '@profilesync/server';
import type { Command } from 'commander';
import { ProfileSyncError, errorCode } from '@profilesync/errors';
import type { ImportReport, WriteContext } from '@profilesync/core';
import { addLocal, addRemote, type Cli, type CommonOpts } from '../context.js';
import { createProgress } from '../progress.js';
import { EXPORT_FORMAT, EXPORT_FORMATS, LOG_EXPORT_FORMAT, exportJson, exportLogs, importJsonWithLabels, importLogs, parseImport, remoteTarget, type ExportFormat, type TransferTarget } from '../transfer.js';
import { registerBackup } from './backup.js';

export { EXPORT_FORMAT };

/** The data dir opened in this process. */
function localTarget(node: NodeHandle, ctx: WriteContext): TransferTarget {
  const { store } = node;
  const orUndefined = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      return await p;
    } catch (err) {
      if (errorCode(err) === 'PROFILE_NOT_FOUND' || errorCode(err) === 'LABEL_NOT_FOUND' || errorCode(err) === 'PROFILE_VERSION_UNAVAILABLE') return undefined;
      throw err;
    }
  };
  return {
    ids: async (all) => (await store.list(all ? { includeDeleted: true } : {})).map((p) => p.id),
    view: async (id) => (await orUndefined(store.exportJson([id])))?.[0],
    labelView: (id, label) => orUndefined(store.getByLabel(id, label)),
    setLabel: async (id, label, version) => {
      await store.setLabel(id, label, version, ctx);
    },
    exportLog: (id) => store.exportLog(id),
    importLog: async (bytes) => {
      const { importProfileLogExport } = await import('@profilesync/server');
      return importProfileLogExport(store, bytes, ctx);
    },
    importJson: async (items, onProgress) => {
      onProgress(0);
      const r = await store.importJson({ profiles: items }, ctx);
      onProgress(items.length);
      return r;
    },
  };
}

const CLI_WRITE: WriteContext = { actor: 'cli', origin: 'cli:import' };

/** Runs `fn` against the node: through its HTTP API when remote, else on the data dir opened here. */
async function withTarget<T>(cli: Cli, o: CommonOpts, fn: (t: TransferTarget) => Promise<T>): Promise<T> {
  if (cli.isRemote(o)) return fn(remoteTarget(await cli.client(o)));
  return cli.offline(o, (node) => fn(localTarget(node, CLI_WRITE)), { remote: true });
}

export function registerData(program: Command, cli: Cli): void {
  addRemote(program.command('export [ids...]').description('write profiles (offline on the data dir, or from a running node): JSON content, or --format log for the exact history and labels'))
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--format <format>', 'json (content + labels at it; default) or log (lossless: every version, label and actor)', 'json')
    .action(async (ids: string[], o: CommonOpts & { output?: string; format: string }) => {
      if (!(EXPORT_FORMATS as readonly string[]).includes(o.format)) throw new ProfileSyncError('USAGE', `--format takes ${EXPORT_FORMATS.join(' or ')}, got ${JSON.stringify(o.format)}`);
      const format = o.format as ExportFormat;
      const out = cli.output(o);
      let doc: Record<string, unknown>;
      let count: number;
      let dropped = 0;
      if (format === 'log') {
        const profiles = await withTarget(cli, o, (t) => exportLogs(t, ids));
        doc = { format: LOG_EXPORT_FORMAT, exportedAt: new Date().toISOString(), profiles };
        count = profiles.length;
      } else {
        const r = await withTarget(cli, o, (t) => exportJson(t, ids));
        doc = { format: EXPORT_FORMAT, exportedAt: new Date().toISOString(), profiles: r.profiles };
        count = r.profiles.length;
        dropped = r.labelsDropped;
      }
      const text = `${JSON.stringify(doc, null, 2)}\n`;
      const note = dropped > 0 ? `${dropped} labels point at older versions and are not in a JSON export (use --format log to carry them)` : undefined;
      if (o.output) {
        writeFileSync(o.output, text);
        out.result({ file: o.output, format, profiles: count, ...(dropped > 0 ? { labelsDropped: dropped } : {}) }, () => {
          out.line(`exported ${count} profiles to ${o.output} (${format})`);
          if (note) out.line(note);
        });
      } else {
        cli.io.stdout.write(text);
        if (note) cli.io.stderr.write(`${note}\n`);
      }
    });

  addRemote(program.command('import <file>').description('create or update profiles from an export (- for stdin), JSON or --format log; each profile all-or-nothing; reports created / updated / unchanged / rejected'))
    .action(async (file: string, o: CommonOpts) => {
      let text: string;
      try {
        text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
      } catch (err) {
        throw new ProfileSyncError('USAGE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const parsed = parseImport(text, file === '-' ? 'stdin' : file);
      const progress = createProgress({ label: 'import', stream: cli.io.stderr });
      let report: ImportReport;
      try {
        const step = (d: number) => progress.update(d, parsed.items.length);
        report = await withTarget(cli, o, (t) => (parsed.format === 'log' ? importLogs(t, parsed.items, step) : importJsonWithLabels(t, parsed.items, step)));
      } finally {
        progress.stop();
      }
      const out = cli.output(o);
      out.result({ format: parsed.format, ...report }, () => {
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
    .addHelpText(
      'after',
      [
        '',
        'Even without --repair, verify can change the data dir: it opens the dir like the node does',
        'at start, and that open repairs what it can by itself (a damaged table is salvaged, a lost',
        'MANIFEST rebuilt, #audit written again); the output lists it under "repaired when the data',
        'dir was opened". The originals of the LevelDB files it changed are kept in log/lost/.',
        'To keep a damaged dir exactly as found, copy it first (node stopped): cp -a DIR DIR.as-found',
        '',
      ].join('\n'),
    )
    .action(async (o: CommonOpts & { repair?: boolean; from?: string }) => {
      if (o.from !== undefined && !o.repair) throw new ProfileSyncError('USAGE', '--from needs --repair');
      if (o.from !== undefined && !existsSync(o.from)) throw new ProfileSyncError('USAGE', `no backup file ${o.from}`);
      // no online verify: a running node checks what it reads and reports the damage it found at /api/damage
      const result = await cli.offline(o, (node) => verifyAndRepair(cli, node, o), {
        whileRunning: (url) => `meanwhile \`GET ${url}/api/damage\` (any token) lists the damage the running node has found`,
      });
      const out = cli.output(o);
      const { report, findings, repaired, repairedAtOpen } = result;
      out.result({ ...report, findings, ...(repaired.length > 0 ? { repaired } : {}), repairedAtOpen }, () => {
        out.line(`${report.ok ? 'ok' : 'DAMAGED'}: ${report.streams} streams, ${report.entries} entries checked in ${Math.round(report.durationMillis)} ms`);
        if (repairedAtOpen.length > 0) {
          // the open did this to the data dir before the check ran: say so, or a damaged dir reads "ok"
          out.line(`repaired when the data dir was opened (${repairedAtOpen.length}; originals of changed LevelDB files are in log/lost/):`);
          out.table(['KIND', 'MESSAGE'], repairedAtOpen.map((r) => [r.kind, r.message]));
        }
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
async function verifyAndRepair(cli: Cli, node: NodeHandle, o: CommonOpts & { repair?: boolean; from?: string }): Promise<{ report: VerifyReport; findings: Finding[]; repaired: string[]; repairedAtOpen: { kind: string; message: string; at: string }[] }> {
  // what opening the dir found and repaired itself (a salvaged table, a rebuilt MANIFEST, '#audit'
  // written again): not findings of the check below, which runs on the repaired dir
  const repairedAtOpen = node.store.damaged().repaired;
  const progress = createProgress({ label: 'verify', stream: cli.io.stderr });
  let report = await node.log.verify({ onProgress: (p) => progress.update(p.done, p.total) }).finally(() => progress.stop());
  const findings: Finding[] = report.broken.map((b) => ({ ...b, action: o.repair ? 'not repaired' : 'none (verify only)' }));
  const repaired: string[] = [];
  if (!o.repair || report.ok) return { report, findings, repaired, repairedAtOpen };
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
  return { report, findings, repaired, repairedAtOpen };
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
