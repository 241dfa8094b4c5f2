/**
 * Conflict detection on applyRemoteUpdate (issue 13): only for an update that merges a
 * diverged state (ctx.merge), never for a live one. The local state is snapshotted before the
 * apply; after it (and after validation), the three-way check runs and new conflict records are
 * written by this node into the doc's 'conflicts' root, in the same log entry as the merge.
 */
import type { AppendInput } from '@profilesync/log';
import * as Y from 'yjs';
import { AUDIT_STREAM, encodeAudit, validateAuditInput } from './audit.js';
import { sortDeep } from './canonical.js';
import { detectConflicts, type DetectedConflict } from './conflict-detect.js';
import { resolvedOnBothSides, writeDetections } from './conflict-records.js';
import type { LiveDoc } from './caches.js';
import { remoteSnapshot, type At } from './merge-state.js';
import { newProfileDoc, readContent } from './model.js';
import { validateContent } from './schema.js';
import { captureUpdate, type StoreCore } from './store.js';
import type { WriteContext } from './types.js';

/** The local state before a merging update is applied (null: not a merge, or nothing local to compare). */
export function beginMerge(live: LiveDoc, exists: boolean, ctx: WriteContext): Y.Snapshot | null {
  const sv = ctx.merge?.remoteStateVector;
  if (!exists || !(sv instanceof Uint8Array)) return null;
  return Y.snapshot(live.doc);
}

/** The whole content at a state (a 'create' conflict's sides), labels left out (they are pointers). */
function wholeContent(doc: Y.Doc, at: At): unknown {
  let raw: Record<string, unknown>;
  if (at === null) raw = readContent(doc);
  else {
    const past = Y.createDocFromSnapshot(doc, at, newProfileDoc());
    try {
      raw = readContent(past);
    } finally {
      past.destroy();
    }
  }
  let content: Record<string, unknown>;
  try {
    content = { ...(validateContent(raw) as unknown as Record<string, unknown>) };
  } catch {
    content = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
  }
  delete content['labels'];
  return sortDeep(content);
}

export interface MergeResult {
  /** the records' update (null: nothing new to record) */
  update: Uint8Array | null;
  written: DetectedConflict[];
  audit: AppendInput[];
}

/** Runs the three-way check after a merging update was applied and validated; writes new records. */
export function finishMerge(c: StoreCore, id: string, live: LiveDoc, update: Uint8Array, ctx: WriteContext, local: Y.Snapshot): MergeResult {
  const none: MergeResult = { update: null, written: [], audit: [] };
  let remote: Y.Snapshot;
  try {
    remote = remoteSnapshot(live.doc, update, ctx.merge!.remoteStateVector);
  } catch {
    return none; // a state vector that does not decode: merged unchecked (the update itself was valid)
  }
  const doc = live.doc;
  const found = detectConflicts(doc, local, remote, {
    readWhole: (at) => wholeContent(doc, at),
    resolvedOnBothSides: (b) => resolvedOnBothSides(doc, local, remote, b),
  });
  if (found.length === 0) return none;
  let written: DetectedConflict[] = [];
  const recorded = captureUpdate(doc, { conflicts: id }, () => {
    written = writeDetections(doc, found, { at: c.clock(), node: c.nodeId, origin: ctx.origin }, [local, remote, null]);
  });
  const audit = written.map((w) => {
    const stored = validateAuditInput({
      actor: ctx.actor,
      origin: ctx.origin,
      action: 'conflict.detected',
      outcome: 'ok',
      profile: id,
      fields: w.field === '' ? [] : [w.field],
      details: { conflict: w.id, field: w.field, kind: w.kind, node: c.nodeId },
    });
    return { stream: AUDIT_STREAM, body: encodeAudit(stored), actor: stored.actor, origin: stored.origin, summary: stored.action } satisfies AppendInput;
  });
  return { update: recorded, written, audit };
}
