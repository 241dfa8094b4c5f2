/**
 * Import/export.
 * - JSON (humans): views out; in, each profile validated and written in one entry or rejected
 *   whole, with a report.
 * - Binary (exact): one profile's log entries as the log returns them (seq, ts, actor, origin,
 *   summary, version, body, prevHash, hash), framed and sealed with a sha-256 trailer.
 *
 * Binary format v1 (lib0 encoding: varuint = unsigned LEB128, varstring = varuint length + UTF-8,
 * varbytes = varuint length + bytes):
 *   magic "PSPROFLOG" (9 bytes) | varuint 1 (format) | varstring profile id | varuint entry count
 *   per entry: varuint seq | varuint ts | varstring actor | varstring origin | varstring summary
 *              | varbytes version | varbytes body | varbytes prevHash (32) | varbytes hash (32)
 *   trailer: 32 bytes sha-256 of everything before it
 * Import checks the trailer, the framing, seq 1..n without gaps, each prevHash equal to the
 * previous entry's hash (zeros for seq 1), and that every body decodes as a Yjs update.
 */
import { createHash } from 'node:crypto';
import type { EventLog } from '@profilesync/log';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import { errorCode } from '@profilesync/errors';
import { upgradeParameters } from '@profilesync/model';
import { CoreErrorCode, coreError } from './errors.js';
import { isProfileId } from './ids.js';
import type { ProfileContent } from './model.js';
import { contentFromInput, isPlainObject } from './patch.js';
import type { ImportReport } from './types.js';

const MAGIC = new TextEncoder().encode('PSPROFLOG');
const FORMAT = 1;

export async function exportProfileLog(log: EventLog, id: string): Promise<Uint8Array> {
  const entries = [];
  for await (const e of log.read(id)) entries.push(e);
  const enc = encoding.createEncoder();
  encoding.writeUint8Array(enc, MAGIC);
  encoding.writeVarUint(enc, FORMAT);
  encoding.writeVarString(enc, id);
  encoding.writeVarUint(enc, entries.length);
  for (const e of entries) {
    encoding.writeVarUint(enc, e.seq);
    encoding.writeVarUint(enc, e.ts);
    encoding.writeVarString(enc, e.actor);
    encoding.writeVarString(enc, e.origin);
    encoding.writeVarString(enc, e.summary);
    encoding.writeVarUint8Array(enc, e.version ?? new Uint8Array(0));
    encoding.writeVarUint8Array(enc, e.body);
    encoding.writeVarUint8Array(enc, e.prevHash);
    encoding.writeVarUint8Array(enc, e.hash);
  }
  const body = encoding.toUint8Array(enc);
  const digest = createHash('sha256').update(body).digest();
  const out = new Uint8Array(body.byteLength + 32);
  out.set(body, 0);
  out.set(digest, body.byteLength);
  return out;
}

export interface ExportedEntry {
  seq: number;
  ts: number;
  actor: string;
  origin: string;
  summary: string;
  version: Uint8Array;
  body: Uint8Array;
  prevHash: Uint8Array;
  hash: Uint8Array;
}

function corrupt(why: string): Error {
  return coreError(CoreErrorCode.IMPORT_INVALID, `invalid profile log export: ${why}`);
}

export function importProfileLog(data: Uint8Array): { id: string; entries: ExportedEntry[] } {
  if (!(data instanceof Uint8Array) || data.byteLength < MAGIC.byteLength + 32) throw corrupt('too short');
  const body = data.subarray(0, data.byteLength - 32);
  const digest = createHash('sha256').update(body).digest();
  if (Buffer.compare(digest, data.subarray(data.byteLength - 32)) !== 0) throw corrupt('checksum mismatch');
  const dec = decoding.createDecoder(body);
  try {
    const magic = decoding.readUint8Array(dec, MAGIC.byteLength);
    if (Buffer.compare(magic, MAGIC) !== 0) throw corrupt('bad magic');
    const format = decoding.readVarUint(dec);
    if (format !== FORMAT) throw corrupt(`unsupported format ${format}`);
    const id = decoding.readVarString(dec);
    if (!isProfileId(id)) throw corrupt('bad profile id');
    const count = decoding.readVarUint(dec);
    const entries: ExportedEntry[] = [];
    let prev: Uint8Array = new Uint8Array(32);
    for (let i = 0; i < count; i++) {
      const e: ExportedEntry = {
        seq: decoding.readVarUint(dec),
        ts: decoding.readVarUint(dec),
        actor: decoding.readVarString(dec),
        origin: decoding.readVarString(dec),
        summary: decoding.readVarString(dec),
        version: decoding.readVarUint8Array(dec),
        body: decoding.readVarUint8Array(dec),
        prevHash: decoding.readVarUint8Array(dec),
        hash: decoding.readVarUint8Array(dec),
      };
      if (e.seq !== i + 1) throw corrupt(`seq ${e.seq} where ${i + 1} was expected`);
      if (e.hash.byteLength !== 32 || Buffer.compare(e.prevHash, prev) !== 0) throw corrupt(`broken chain at seq ${e.seq}`);
      try {
        Y.decodeUpdate(e.body);
      } catch {
        throw corrupt(`entry ${e.seq} is not a Yjs update`);
      }
      prev = e.hash;
      entries.push(e);
    }
    if (decoding.hasContent(dec)) throw corrupt('trailing bytes');
    if (entries.length === 0) throw corrupt('no entries');
    return { id, entries };
  } catch (err) {
    if (errorCode(err) === CoreErrorCode.IMPORT_INVALID) throw err;
    throw corrupt('truncated or malformed');
  }
}

export interface JsonImportTarget {
  exists(id: string): boolean;
  create(id: string, content: ProfileContent): Promise<void>;
  /** replaces the patchable fields; resolves false when nothing changed */
  replace(id: string, fields: Partial<ProfileContent>): Promise<boolean>;
  check(id: string, content: ProfileContent): ProfileContent;
}

const COMPUTED = ['version', 'updatedAt', 'updatedBy', 'labels', 'schema', 'conflicts'];

/**
 * Imports views or create bodies: computed fields and labels are ignored (labels point at
 * versions of the exporting node), a tombstoned item is rejected. Each profile is one write.
 */
export async function importJsonProfiles(data: unknown, target: JsonImportTarget): Promise<ImportReport> {
  const items = Array.isArray(data) ? data : isPlainObject(data) && Array.isArray(data['profiles']) ? (data['profiles'] as unknown[]) : null;
  if (items === null) throw coreError(CoreErrorCode.IMPORT_INVALID, 'import data must be an array of profiles or { profiles: [...] }');
  const report: ImportReport = { created: [], updated: [], unchanged: [], rejected: [] };
  for (const item of items) {
    const rawId = isPlainObject(item) && typeof item['id'] === 'string' ? item['id'] : null;
    try {
      if (!isPlainObject(item)) throw coreError(CoreErrorCode.INVALID, 'a profile must be a JSON object', { path: '', rule: 'input-type' });
      if (rawId === null || !isProfileId(rawId)) throw coreError(CoreErrorCode.INVALID_ID, 'an imported profile needs a valid id', { path: 'id' });
      if (item['deleted'] === true) throw coreError(CoreErrorCode.DELETED, 'deleted profiles are not imported', { id: rawId });
      const body: Record<string, unknown> = { ...item };
      // a view exported by schema-1 code (its version is a v1. ref): parameters up-converted like a stored schema-1 profile
      if (typeof item['version'] === 'string' && item['version'].startsWith('v1.') && isPlainObject(item['parameters'])) body['parameters'] = upgradeParameters(item['parameters']);
      for (const k of [...COMPUTED, 'deleted']) delete body[k];
      const content = target.check(rawId, contentFromInput(body, rawId));
      if (!target.exists(rawId)) {
        await target.create(rawId, content);
        report.created.push(rawId);
      } else {
        const { labels: _l, deleted: _d, id: _i, ...fields } = content;
        if (await target.replace(rawId, fields)) report.updated.push(rawId);
        else report.unchanged.push(rawId);
      }
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      report.rejected.push({ id: rawId, code: typeof e.code === 'string' ? e.code : 'UNKNOWN', message: typeof e.message === 'string' ? e.message : String(err) });
    }
  }
  return report;
}
