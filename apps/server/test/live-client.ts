/**
 * Test support: a raw y-websocket client on a real socket (ws on 127.0.0.1). It keeps a Y.Doc
 * in sync with the room, counts the updates the server sends, and can keep sending after the
 * server started to close (`forceSend`: a masked frame written straight on the TCP socket, as
 * an attacker that ignores the close frame would).
 */
import WebSocket from 'ws';
import * as wsModule from 'ws';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

export interface Closed {
  code: number;
  reason: string;
  /** performance.now() when the close event fired */
  at: number;
}

export class RawYjsClient {
  readonly doc = new Y.Doc();
  readonly ws: WebSocket;
  /** every server update applied (sync step 2 and updates), in order */
  readonly updates: Uint8Array[] = [];
  /** permission-denied auth messages received (their reason strings) */
  readonly denials: string[] = [];
  readonly opened: Promise<void>;
  readonly synced: Promise<void>;
  readonly closed: Promise<Closed>;
  closedWith: Closed | undefined;

  constructor(url: string) {
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('error', () => undefined);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString('utf8'), at: performance.now() };
        resolve(this.closedWith);
      }),
    );
    let markSynced: () => void;
    this.synced = new Promise((r) => (markSynced = r));
    this.ws.on('message', (data: Buffer) => {
      const d = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      const type = decoding.readVarUint(d);
      if (type === 0) {
        const sub = decoding.readVarUint(d);
        const payload = decoding.readVarUint8Array(d);
        if (sub === 0) {
          // the server's step 1: answer with what it lacks, then ask for what we lack
          this.send(syncMessage(1, Y.encodeStateAsUpdate(this.doc, payload)));
          this.send(syncMessage(0, Y.encodeStateVector(this.doc)));
        } else {
          Y.applyUpdate(this.doc, payload, 'server');
          this.updates.push(payload);
          if (sub === 1) markSynced();
        }
      } else if (type === 2 && decoding.readVarUint(d) === 0) {
        this.denials.push(decoding.readVarString(d));
      }
    });
    // local edits go out as sync updates
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== 'server') this.send(syncMessage(2, update));
    });
  }

  /** Opens a client on `${base}/yjs/${id}?token=...` and waits for the first sync. */
  static async connect(base: string, id: string, token: string): Promise<RawYjsClient> {
    const c = new RawYjsClient(`${base.replace(/^http/, 'ws')}/yjs/${encodeURIComponent(id)}?token=${encodeURIComponent(token)}`);
    await c.opened;
    await Promise.race([c.synced, c.closed.then((e) => Promise.reject(new Error(`closed before sync: ${e.code} ${e.reason}`)))]);
    return c;
  }

  text(field: string): string {
    return (this.doc.getMap('profile').get(field) as Y.Text | undefined)?.toString() ?? '';
  }

  /** Makes a text edit; its update is sent the normal way (dropped by ws once closing). */
  insert(field: string, at: number, text: string): Uint8Array {
    let update: Uint8Array | undefined;
    const grab = (u: Uint8Array) => (update = u);
    this.doc.once('update', grab);
    (this.doc.getMap('profile').get(field) as Y.Text).insert(at, text);
    return update!;
  }

  send(bytes: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(bytes);
  }

  /**
   * Writes a masked binary frame on the raw TCP socket whatever the WebSocket state: what a
   * client that ignores the server's close frame can still put on the wire.
   */
  forceSend(bytes: Uint8Array): boolean {
    const socket = (this.ws as unknown as { _socket?: import('node:net').Socket })._socket;
    if (!socket || socket.destroyed || !socket.writable) return false;
    // ws exports its frame encoder as Sender (not in @types/ws)
    const { Sender } = wsModule as unknown as { Sender: { frame(data: Buffer, o: Record<string, unknown>): Buffer[] } };
    const frames = Sender.frame(Buffer.from(bytes), { fin: true, opcode: 2, mask: true, readOnly: false, rsv1: false });
    for (const f of frames) socket.write(f);
    return true;
  }

  /** An update message for a text edit made on a copy of the doc (the local doc is unchanged). */
  editOffline(field: string, text: string): Uint8Array {
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(this.doc));
    const sv = Y.encodeStateVector(copy);
    (copy.getMap('profile').get(field) as Y.Text).insert(0, text);
    return syncMessage(2, Y.encodeStateAsUpdate(copy, sv));
  }

  close(): void {
    this.ws.terminate();
  }
}

export function syncMessage(sub: 0 | 1 | 2, payload: Uint8Array): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  encoding.writeVarUint(e, sub);
  encoding.writeVarUint8Array(e, payload);
  return encoding.toUint8Array(e);
}

/** profilesync's first-message auth (type 2, sub-type 1, the token) instead of ?token=. */
export function authMessage(token: string): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 2);
  encoding.writeVarUint(e, 1);
  encoding.writeVarString(e, token);
  return encoding.toUint8Array(e);
}

/** Polls until `fn` is true (real sockets: wait for conditions, never a fixed sleep). */
export async function until(fn: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}
