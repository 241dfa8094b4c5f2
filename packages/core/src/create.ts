/**
 * Deterministic creates (issue 13; docs/profile-model.md "Identical creates"). The create of a
 * profile is written on the v2 skeleton (client 0) by a Yjs client id derived from the bytes the
 * create writes, so two nodes that create or import the same id with the same content write
 * byte-identical structs, which Yjs deduplicates: the content is there once, not doubled.
 *
 *   1. the content is written once on a scratch doc by a placeholder client;
 *   2. the client id is sha256("profilesync/create/v1" | id | those bytes), 32 bits, never 0;
 *   3. the content is written again by that client on the live doc.
 * Same client id therefore implies same structs (the id is a hash of them), which Yjs requires
 * of any two writers sharing an id; different content gives another id except with probability
 * 2^-32 per pair of different creates of one profile id.
 *
 * What the create writes is chosen so that it is a pure function of the content and so that two
 * DIFFERENT creates of one id keep each side whole instead of interleaving them: the system
 * message and description get new Y.Text containers (not the skeleton's, which both sides would
 * type into), message and tool positions come without jitter, message ids missing from the
 * input are derived from the message (see messageIds).
 */
import { createHash } from 'node:crypto';
import * as Y from 'yjs';
import { initialPositions, type Message, type Tool } from '@profilesync/model';
import { applyContent, migrationUpdate, newProfileDoc, ROOT, skeletonUpdate, toolName, type ProfileContent } from './model.js';

const PLACEHOLDER_CLIENT = 1;

function emptyContent(id: string): ProfileContent {
  return { id, modelId: '', name: '', description: '', systemMessage: '', templates: {}, messages: [], parameters: {}, labels: {}, meta: {}, deleted: false };
}

/** Writes `content` as a create into a doc holding the skeleton and the migration (call inside a transaction). */
export function writeCreate(doc: Y.Doc, content: ProfileContent): void {
  const rest: ProfileContent = { ...content, description: '', systemMessage: '', messages: [], parameters: { ...content.parameters } };
  delete (rest.parameters as Record<string, unknown>)['tools'];
  applyContent(doc, emptyContent(content.id), rest);
  const root = doc.getMap<unknown>(ROOT);
  if (content.description !== '') root.set('description', new Y.Text(content.description));
  if (content.systemMessage !== '') root.set('systemMessage', new Y.Text(content.systemMessage));
  const messages = root.get('messages') as Y.Map<unknown>;
  const mpos = initialPositions(content.messages.length);
  content.messages.forEach((m: Message, i) => {
    const ym = new Y.Map<unknown>();
    ym.set('role', m.role);
    ym.set('content', new Y.Text(m.content));
    ym.set('pos', mpos[i]!);
    messages.set(m.id, ym);
  });
  const tools: readonly Tool[] = content.parameters.tools ?? [];
  const tpos = initialPositions(tools.length);
  const tmap = root.get('tools') as Y.Map<unknown>;
  tools.forEach((t, i) => tmap.set(toolName(t)!, { pos: tpos[i]!, tool: structuredClone(t) }));
}

/** The Yjs client id of the create of `content` (a hash of the bytes it writes; never 0). */
export function createClientId(content: ProfileContent): number {
  const doc = newProfileDoc();
  try {
    Y.applyUpdate(doc, skeletonUpdate(content.id));
    Y.applyUpdate(doc, migrationUpdate());
    doc.clientID = PLACEHOLDER_CLIENT;
    const sv = Y.encodeStateVector(doc);
    doc.transact(() => writeCreate(doc, content));
    const bytes = Y.encodeStateAsUpdate(doc, sv);
    const h = createHash('sha256').update('profilesync/create/v1\0').update(content.id).update('\0').update(bytes).digest();
    const n = h.readUInt32LE(0);
    return n === 0 ? 1 : n;
  } finally {
    doc.destroy();
  }
}

/**
 * Message ids for an input's messages that have none: derived from the profile id, the
 * message's index, role and content, so the same input creates the same messages everywhere.
 */
export function messageIds(profileId: string, messages: readonly { id?: unknown; role?: unknown; content?: unknown }[]): (string | undefined)[] {
  const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
  return messages.map((m, i) => {
    if (m === null || typeof m !== 'object' || m.id !== undefined) return undefined;
    const h = createHash('sha256').update(JSON.stringify([profileId, i, m.role ?? null, m.content ?? null])).digest();
    let out = '';
    for (let k = 0; k < 10; k++) out += ALPHABET[h[k]! & 31];
    return out;
  });
}
