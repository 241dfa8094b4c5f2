/**
 * `profilesync profile list|get|create|set|edit|delete|history|diff|revert|label|render|checkpoint|conflicts|resolve` (remote).
 * Version arguments (REF) are resolved by the node: `@N` (the N-th version in `profile history`),
 * a label name, or a version reference (`v2.…`, legacy `v1.…`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ProfileSyncError } from '@profilesync/errors';
import type { ConflictInfo, EntryInfo, ProfileDiff, ProfileSummary, ProfileView, RenderResult, VersionInfo } from '@profilesync/core';
import { enc, type ApiClient } from '../client.js';
import { addRemote, deleteAction, type Cli, type CommonOpts } from '../context.js';
import type { Output } from '../output.js';
import { assignmentsToPatch, editable, isObject, mergeDiff } from '../patch.js';

/** One line of a value for a table: text as is, anything else as JSON, cut at 40 characters. */
function short(v: unknown): string {
  const t = v === null ? '(none)' : JSON.stringify(v);
  return t.length > 40 ? `${t.slice(0, 39)}…` : t;
}

/** One side of a conflict on one line: JSON (a text quoted, its newlines as \\n), `(none)` when absent, cut at 2,000 characters. */
function fullSide(v: unknown): string {
  if (v === null || v === undefined) return '(none)';
  const t = JSON.stringify(v);
  return t.length > 2000 ? `${t.slice(0, 2000)}… (${t.length - 2000} more characters; --json has all)` : t;
}

/** A version's changed fields in the history table: a few, then how many more (a create lists every field; --json has them all). */
function fieldsCell(fields: readonly string[]): string {
  if (fields.length === 0) return '-';
  return fields.length <= 4 ? fields.join(', ') : `${fields.slice(0, 3).join(', ')}, +${fields.length - 3} more`;
}

/**
 * Where two whole profiles (a create conflict's sides) differ: dotted paths, one level into
 * objects (`parameters.temperature`, `templates.answer`), in key order.
 */
function differingPaths(a: unknown, b: unknown, depth = 2, prefix = ''): string[] {
  if (depth > 0 && isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differingPaths(a[k], b[k], depth - 1, prefix === '' ? k : `${prefix}.${k}`));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
}

/** The value at each dotted path, as one object (what a table cell shows of a whole profile). */
function pick(v: unknown, paths: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of paths) {
    let cur: unknown = v;
    for (const k of p.split('.')) cur = isObject(cur) ? cur[k] : undefined;
    out[p] = cur ?? null;
  }
  return out;
}

/** Where a create conflict's two whole profiles differ (undefined for any other conflict). */
function createPaths(c: ConflictInfo): string[] | undefined {
  return c.kind === 'create' && isObject(c.ours) && isObject(c.theirs) ? differingPaths(c.ours, c.theirs) : undefined;
}

/** A conflict's three sides for the table: a create conflict's whole profiles show only where the sides differ (`paths`). */
function sides(c: ConflictInfo, paths: string[] | undefined): [string, string, string] {
  if (paths !== undefined) return [short(pick(c.ours, paths)), short(pick(c.theirs, paths)), short(pick(c.merged, paths))];
  return [short(c.ours), short(c.theirs), short(c.merged)];
}

function jsonOrText(v: string): unknown {
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
}

function readJsonFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
  } catch (err) {
    throw new ProfileSyncError('USAGE', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProfileSyncError('USAGE', `${path} is not valid JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProfileSyncError('USAGE', `${path} must hold a JSON object`);
  return value as Record<string, unknown>;
}

/** REFs are resolved by the node (`@N`, labels, v2./v1. refs on every route): passed through as given. */
export async function resolveRef(_api: ApiClient, _id: string, ref: string): Promise<string> {
  return ref;
}

/** `NAME=VALUE` arguments of `profile render`: values are strings (use --vars FILE for JSON). */
export function renderVariables(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new ProfileSyncError('USAGE', `variables are NAME=VALUE, not '${a.slice(0, 40)}'`);
    out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

export function printView(out: Output, v: ProfileView): void {
  out.fields([
    ['id', v.id],
    ['modelId', v.modelId],
    ['name', v.name],
    ['version', v.version],
    ['updated', `${v.updatedAt} by ${v.updatedBy}`],
    ['labels', Object.entries(v.labels).map(([k]) => k).join(', ') || '-'],
    ['parameters', JSON.stringify(v.parameters)],
    ['meta', JSON.stringify(v.meta)],
    ...(v.deleted ? ([['deleted', 'yes']] as [string, unknown][]) : []),
    ...(v.conflicts ? ([['conflicts', `${v.conflicts} open (profilesync profile conflicts ${v.id})`]] as [string, unknown][]) : []),
  ]);
  if (v.description) out.line(`\n${out.style('bold', 'description')}\n${out.safe(v.description)}`);
  if (v.systemMessage) out.line(`\n${out.style('bold', 'systemMessage')}\n${out.safe(v.systemMessage)}`);
  for (const m of v.messages ?? []) out.line(`\n${out.style('bold', `message ${out.safe(m.role)} (${out.safe(m.id)})`)}\n${out.safe(m.content)}`);
  for (const [name, text] of Object.entries(v.templates)) out.line(`\n${out.style('bold', `template ${out.safe(name)}`)}\n${out.safe(text)}`);
}

function printDiff(out: Output, d: ProfileDiff): void {
  if (d.changes.length === 0) {
    out.line('no differences');
    return;
  }
  for (const c of d.changes) {
    const mark = c.kind === 'added' ? out.style('green', '+') : c.kind === 'removed' ? out.style('red', '-') : out.style('yellow', '~');
    if (c.text) {
      const text = c.text.map((p) => (p.op === 'insert' ? out.style('green', `{+${out.safe(p.text)}+}`) : p.op === 'delete' ? out.style('red', `[-${out.safe(p.text)}-]`) : out.safe(p.text))).join('');
      out.line(`${mark} ${c.path}: ${text}`);
    } else {
      out.line(`${mark} ${out.safe(c.path)}: ${JSON.stringify(c.before) ?? '-'} -> ${JSON.stringify(c.after) ?? '-'}`);
    }
  }
}

export function registerProfile(program: Command, cli: Cli): void {
  const profile = program.command('profile').description('read and change profiles on a running node');

  addRemote(profile.command('list').description('list profiles'))
    .option('--model <modelId>', 'only this model id')
    .option('--label <label>', 'only profiles with this label')
    .option('--tag <tag>', 'only profiles tagged so (meta.tags)')
    .option('--all', 'include deleted profiles')
    .option('--search <words>', 'only profiles whose id, name, model or prompt text (system message, templates, messages) holds every word')
    .option('--sort <key>', 'name, updated (newest first), model or id (default)')
    .option('--limit <n>', 'one page of at most n rows (1..1000); prints the cursor of the next page')
    .option('--cursor <cursor>', 'the next page (the cursor the previous page printed; same --sort)')
    .action(async (o: CommonOpts & { model?: string; label?: string; tag?: string; all?: boolean; search?: string; sort?: string; limit?: string; cursor?: string }) => {
      const api = await cli.client(o);
      const page = await api.get<{ profiles: (ProfileSummary & { match?: { field: string; snippet: string } })[]; total?: number; nextCursor?: string | null }>('/api/profiles', {
        modelId: o.model,
        label: o.label,
        tag: o.tag,
        includeDeleted: o.all ? 'true' : undefined,
        q: o.search,
        sort: o.sort,
        limit: o.limit,
        cursor: o.cursor,
      });
      const { profiles } = page;
      const out = cli.output(o);
      const paged = o.limit !== undefined || o.cursor !== undefined;
      out.result(paged || o.search !== undefined ? page : { profiles }, () => {
        const head = ['ID', 'MODEL', 'NAME', 'UPDATED', 'LABELS', ...(o.search !== undefined ? ['MATCH'] : [])];
        out.table(head, profiles.map((p) => [p.id + (p.deleted ? ' (deleted)' : ''), p.modelId, p.name, p.updatedAt, p.labels.join(','), ...(o.search !== undefined ? [p.match ? `${p.match.field}: ${p.match.snippet}` : ''] : [])]));
        if (paged) out.line(`${profiles.length} of ${page.total ?? profiles.length}${page.nextCursor ? `; next page: --cursor ${page.nextCursor}` : ''}`);
      });
    });

  addRemote(profile.command('get <id>').description('show a profile (current, or --version / --label)'))
    .option('--version <ref>', 'a past version (reference or @SEQ)')
    .option('--label <name>', 'the version a label points at')
    .action(async (id: string, o: CommonOpts & { version?: string; label?: string }) => {
      const api = await cli.client(o);
      const version = o.version === undefined ? undefined : await resolveRef(api, id, o.version);
      const view = await api.get<ProfileView>(`/api/profiles/${enc(id)}`, { version, label: o.label });
      const out = cli.output(o);
      out.result(view, () => printView(out, view));
    });

  addRemote(profile.command('create [assignments...]').description('create a profile from --file JSON and/or key=value pairs'))
    .option('--id <id>', 'profile id (generated when absent)')
    .option('--model <modelId>', 'model id')
    .option('--name <name>', 'display name')
    .option('--file <json>', 'JSON file with the profile fields (- for stdin)')
    .action(async (assignments: string[], o: CommonOpts & { id?: string; model?: string; name?: string; file?: string }) => {
      const body: Record<string, unknown> = { ...(o.file ? readJsonFile(o.file) : {}), ...assignmentsToPatch(assignments) };
      if (o.id !== undefined) body.id = o.id;
      if (o.model !== undefined) body.modelId = o.model;
      if (o.name !== undefined) body.name = o.name;
      const api = await cli.client(o);
      const view = await api.post<ProfileView>('/api/profiles', body);
      const out = cli.output(o);
      out.result(view, () => out.line(`created ${view.id} (version ${view.version})`));
    });

  addRemote(profile.command('set <id> [assignments...]').description('merge-patch a profile: key=value pairs (dotted keys; JSON values where valid; null removes) and/or --file'))
    .option('--file <json>', 'a JSON Merge Patch file (- for stdin)')
    .action(async (id: string, assignments: string[], o: CommonOpts & { file?: string }) => {
      if (assignments.length === 0 && !o.file) throw new ProfileSyncError('USAGE', 'give key=value pairs or --file');
      const patch = { ...(o.file ? readJsonFile(o.file) : {}), ...assignmentsToPatch(assignments) };
      const api = await cli.client(o);
      const view = await api.patch<ProfileView>(`/api/profiles/${enc(id)}`, patch);
      const out = cli.output(o);
      out.result(view, () => out.line(`updated ${view.id} (version ${view.version})`));
    });

  addRemote(profile.command('edit <id>').description('edit a profile\'s JSON in $EDITOR; sends a merge patch of what changed')).action(async (id: string, o: CommonOpts) => {
    const api = await cli.client(o);
    const view = await api.get<ProfileView>(`/api/profiles/${enc(id)}`);
    const before = editable(view as unknown as Record<string, unknown>);
    const dir = mkdtempSync(join(tmpdir(), 'profilesync-edit-'));
    const file = join(dir, `${id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
    try {
      writeFileSync(file, `${JSON.stringify(before, null, 2)}\n`, { mode: 0o600 });
      const editor = cli.io.env.VISUAL || cli.io.env.EDITOR || 'vi';
      const r = spawnSync(`${editor} "${file}"`, { stdio: 'inherit', shell: true, env: cli.io.env as NodeJS.ProcessEnv });
      if (r.status !== 0) throw new ProfileSyncError('USAGE', `editor ${editor} exited with ${r.status ?? r.signal}; nothing changed`);
      const after = readJsonFile(file);
      const patch = mergeDiff(before, editable(after));
      const out = cli.output(o);
      if (Object.keys(patch).length === 0) {
        out.result({ changed: false, version: view.version }, () => out.line('no changes'));
        return;
      }
      const updated = await api.patch<ProfileView>(`/api/profiles/${enc(id)}`, patch);
      out.result({ changed: true, patch, view: updated }, () => out.line(`updated ${id} (version ${updated.version})`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  addRemote(profile.command('delete <id>').description('tombstone a profile (history stays)')).action(deleteAction(cli, (id) => `/api/profiles/${enc(id)}`, 'deleted', (id) => `deleted ${id}`));

  addRemote(profile.command('history <id>').description('versions, newest first (the open run first); --raw: the log entries'))
    .option('--limit <n>', 'at most n versions')
    .option('--raw', 'list raw log entries instead of versions')
    .action(async (id: string, o: CommonOpts & { limit?: string; raw?: boolean }) => {
      const api = await cli.client(o);
      const out = cli.output(o);
      if (o.raw) {
        const { entries } = await api.get<{ entries: EntryInfo[] }>(`/api/profiles/${enc(id)}/history`, { limit: o.limit, entries: 'raw' });
        out.result({ entries }, () => out.table(['SEQ', 'AT', 'ACTOR', 'ORIGIN', 'SUMMARY', 'VERSION'], entries.map((v) => [String(v.seq), v.at, v.actor, v.origin, v.summary, v.version])));
        return;
      }
      const { versions } = await api.get<{ versions: VersionInfo[] }>(`/api/profiles/${enc(id)}/history`, { limit: o.limit });
      out.result({ versions }, () =>
        out.table(
          ['SEQ', 'AT', 'ACTOR', 'REASON', 'FIELDS', 'VERSION'],
          versions.map((v) => [`${v.ref}${v.open ? ' (open)' : ''}`, v.at, v.by, v.open ? 'still open: not a version yet (a pause after edits here, a checkpoint or another editor closes it)' : v.message ? `${v.reason}: ${v.message}` : v.reason, fieldsCell(v.fields), v.version]),
        ),
      );
    });

  addRemote(profile.command('render <id> [variables...]').description('fill NAME=VALUE variables into the prompt; prints the chat request body (--json: the whole render result)'))
    .option('--version <ref>', 'render a past version (@N, a label, a ref)')
    .option('--label <name>', 'render the version a label points at')
    .option('--template <name>', 'append this named template as a user message')
    .option('--vars <json>', 'JSON file of variables (- for stdin); NAME=VALUE arguments override it')
    .action(async (id: string, args: string[], o: CommonOpts & { version?: string; label?: string; template?: string; vars?: string }) => {
      const api = await cli.client(o);
      const variables = { ...(o.vars ? readJsonFile(o.vars) : {}), ...renderVariables(args) };
      const body: Record<string, unknown> = { variables };
      if (o.version !== undefined) body.version = o.version;
      if (o.label !== undefined) body.label = o.label;
      if (o.template !== undefined) body.template = o.template;
      const r = await api.post<RenderResult>(`/api/profiles/${enc(id)}/render`, body);
      const out = cli.output(o);
      out.result(r, () => {
        out.line(JSON.stringify(r.request, null, 2));
        // stdout is the request body alone (pipe it to a model); what to look at goes to stderr
        for (const w of r.warnings) {
          if (w.code === 'RENDER_OPEN_CONFLICTS') out.warn(`warning: ${w.code} ${w.conflicts}: the current state is a merge with open conflicts (profilesync profile conflicts ${id}; a label or --version renders a version before it)`);
          else out.warn(`warning: ${w.code} ${w.variable}${w.code === 'RENDER_MALFORMED_VARIABLE' ? ` in ${w.path} (sent as typed; \\{{ for literal braces)` : ''}`);
        }
      });
    });

  addRemote(profile.command('checkpoint <id>').description('close the current changes into a named version'))
    .requiredOption('-m, --message <msg>', 'what this version is')
    .action(async (id: string, o: CommonOpts & { message: string }) => {
      const api = await cli.client(o);
      const v = await api.post<VersionInfo & { created: boolean }>(`/api/profiles/${enc(id)}/versions`, { message: o.message });
      const out = cli.output(o);
      out.result(v, () => out.line(v.created ? `${id}: version ${v.ref} (${v.version}): ${v.message ?? ''}` : `${id}: no changes since ${v.ref} (${v.version})`));
    });

  addRemote(profile.command('diff <id> <from> <to>').description('field-level diff between two versions (references or @SEQ)')).action(async (id: string, from: string, to: string, o: CommonOpts) => {
    const api = await cli.client(o);
    const d = await api.get<ProfileDiff>(`/api/profiles/${enc(id)}/diff`, { from: await resolveRef(api, id, from), to: await resolveRef(api, id, to) });
    const out = cli.output(o);
    out.result(d, () => printDiff(out, d));
  });

  addRemote(profile.command('revert <id> <version>').description('make the content of a past version (reference or @SEQ) current, as a new version')).action(async (id: string, version: string, o: CommonOpts) => {
    const api = await cli.client(o);
    const view = await api.post<ProfileView>(`/api/profiles/${enc(id)}/revert`, { version: await resolveRef(api, id, version) });
    const out = cli.output(o);
    out.result(view, () => out.line(`reverted ${id}: new version ${view.version}`));
  });

  addRemote(profile.command('conflicts <id>').description('conflicts found when apart edits merged (open first; --open: only those)'))
    .option('--open', 'only the open ones')
    .action(async (id: string, o: CommonOpts & { open?: boolean }) => {
      const api = await cli.client(o);
      const { conflicts } = await api.get<{ conflicts: ConflictInfo[] }>(`/api/profiles/${enc(id)}/conflicts`);
      const list = (o.open ? conflicts.filter((c) => c.status === 'open') : conflicts).sort((a, b) => (a.status === b.status ? 0 : a.status === 'open' ? -1 : 1));
      const out = cli.output(o);
      out.result({ conflicts: list }, () => {
        const paths = list.map(createPaths);
        out.table(
          ['ID', 'FIELD', 'KIND', 'STATUS', 'OURS', 'THEIRS', 'MERGED', 'FOUND ON', 'AT'],
          list.map((c, i) => [c.id, c.field === '' ? '(profile)' : c.field, c.kind, c.status === 'resolved' ? `resolved (${c.resolution?.keep ?? '?'})` : 'open', ...sides(c, paths[i]), c.node, c.at]),
        );
        // a create conflict's sides are whole profiles: the cells hold only the fields where they differ
        list.forEach((c, i) => {
          const p = paths[i];
          if (p !== undefined) out.line(`${c.id} (created apart): the two sides differ in ${p.join(', ') || 'nothing'}; --json shows both whole profiles`);
        });
        // an open conflict whose sides do not fit a cell: each side in full, one line each (JSON, so
        // newlines show), or sides that start alike look the same in the table
        for (const c of list) {
          if (c.status !== 'open' || c.field === '' || ![c.base, c.ours, c.theirs, c.merged].some((v) => short(v).endsWith('…'))) continue;
          out.line(`${c.id} ${c.field} (open):`);
          for (const [side, v] of [['base', c.base], ['ours', c.ours], ['theirs', c.theirs], ['merged', c.merged]] as const) out.line(`  ${side.padEnd(6)}  ${fullSide(v)}`);
        }
        // the sides are the detecting node's: on another node, "ours" is still that node's side
        if (list.length > 0) out.line(out.style('dim', 'OURS is the side of the node the conflict was found on (FOUND ON), THEIRS the side it merged in; --keep ours keeps that node\'s side on every node'));
        if (list.some((c) => c.status === 'open')) out.line(`resolve one: profilesync profile resolve ${id} ID --keep merged|ours|theirs|value [--value V]`);
      });
    });

  addRemote(profile.command('resolve <id> <conflict>').description('resolve a conflict: keep merged, ours, theirs, or --value (a new version; closed on every node)'))
    .requiredOption('--keep <what>', 'merged | ours | theirs | value')
    .option('--value <value>', 'with --keep value: the new value (JSON when it parses as JSON, else the text; null removes)')
    .action(async (id: string, conflict: string, o: CommonOpts & { keep: string; value?: string }) => {
      if (!['merged', 'ours', 'theirs', 'value'].includes(o.keep)) throw new ProfileSyncError('USAGE', `--keep must be merged, ours, theirs or value (not ${o.keep})`);
      if (o.keep === 'value' && o.value === undefined) throw new ProfileSyncError('USAGE', '--keep value needs --value');
      if (o.keep !== 'value' && o.value !== undefined) throw new ProfileSyncError('USAGE', '--value is only read with --keep value');
      const api = await cli.client(o);
      const body: Record<string, unknown> = { keep: o.keep };
      if (o.value !== undefined) body['value'] = jsonOrText(o.value);
      const view = await api.post<ProfileView>(`/api/profiles/${enc(id)}/conflicts/${enc(conflict)}/resolve`, body);
      const out = cli.output(o);
      out.result(view, () => out.line(`resolved ${conflict} on ${id} (kept ${o.keep}): new version ${view.version}; ${view.conflicts} open conflict${view.conflicts === 1 ? '' : 's'} left`));
    });

  addRemote(profile.command('label <id> <label> [version]').description('point a label at a version (default: the current one), or --remove it'))
    .option('--remove', 'remove the label')
    .action(async (id: string, label: string, version: string | undefined, o: CommonOpts & { remove?: boolean }) => {
      const api = await cli.client(o);
      let view: ProfileView;
      if (o.remove) {
        await api.delete(`/api/profiles/${enc(id)}/labels/${enc(label)}`);
        view = await api.get<ProfileView>(`/api/profiles/${enc(id)}`);
      } else {
        const ref = version === undefined ? (await api.get<ProfileView>(`/api/profiles/${enc(id)}`)).version : await resolveRef(api, id, version);
        view = await api.put<ProfileView>(`/api/profiles/${enc(id)}/labels/${enc(label)}`, { version: ref });
      }
      const out = cli.output(o);
      out.result(view, () => out.line(o.remove ? `removed label ${label} from ${id}` : `${id}: ${label} -> ${view.labels[label]}`));
    });
}
