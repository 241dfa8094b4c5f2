/**
 * Receiving the node's webhooks: `verifyWebhook(rawBody, signatureHeader, secret)` checks the
 * `x-profilesync-signature: sha256=<hex HMAC-SHA256(secret, raw body)>` header in constant time
 * (Web Crypto: Node 20+, browsers, edge runtimes), checks that the delivery is recent, and
 * returns the parsed delivery. Deliveries are at-least-once: use `id` to drop repeats.
 */
import { ClientError, ClientErrorCode } from './errors.js';
import type { ChangeData, WebhookEvent } from './types.js';

export const WEBHOOK_SIGNATURE_HEADER = 'x-profilesync-signature';

/** The JSON body of a webhook request. */
export interface WebhookDelivery {
  /** the change's position (EPOCH-LSN): the same change always has the same id (drop repeats) */
  id: string;
  /** the main kind: profile.created | profile.updated | profile.deleted | label.moved | conflict.opened | conflict.resolved */
  event: WebhookEvent;
  /** every kind this change stands for */
  events: WebhookEvent[];
  /** the hook's id */
  hook: string;
  /** ISO time of the change (for a catch-up: of the profile's last change) */
  at: string;
  /** ISO time this attempt was sent */
  sentAt: string;
  /** 1 for the first attempt */
  attempt: number;
  /** true when the node replays changes it made while it could not deliver (after a restart): the kinds are a best guess */
  catchUp: boolean;
  data: ChangeData;
}

const encoder = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += b.toString(16).padStart(2, '0');
  return s;
}

function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** `sha256=<hex>` for a body and secret (what the node sends). */
export async function signWebhook(body: string | Uint8Array, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const data = typeof body === 'string' ? encoder.encode(body) : body;
  return `sha256=${hex(await crypto.subtle.sign('HMAC', key, data as Uint8Array<ArrayBuffer>))}`;
}

export async function verifyWebhook(
  body: string | Uint8Array,
  signature: string | null | undefined,
  secret: string,
  opts: { toleranceMs?: number; now?: () => number } = {},
): Promise<WebhookDelivery> {
  const bad = (reason: string, message: string) => new ClientError(ClientErrorCode.BAD_SIGNATURE, message, { details: { reason } });
  if (typeof signature !== 'string' || !/^sha256=[0-9a-f]{64}$/.test(signature)) throw bad('missing', `the ${WEBHOOK_SIGNATURE_HEADER} header is missing or malformed`);
  if (typeof secret !== 'string' || secret.length === 0) throw bad('secret', 'no secret to check the signature with');
  const expected = await signWebhook(body, secret);
  if (!sameText(expected, signature)) throw bad('mismatch', 'the signature does not match the body (wrong secret, or the body was changed)');
  let parsed: WebhookDelivery;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body)) as WebhookDelivery;
  } catch {
    throw bad('body', 'the body is not JSON');
  }
  const tolerance = opts.toleranceMs ?? 5 * 60_000;
  const sent = Date.parse(parsed.sentAt);
  const now = (opts.now ?? Date.now)();
  if (!Number.isFinite(sent) || Math.abs(now - sent) > tolerance) throw bad('stale', `the delivery was sent at ${parsed.sentAt}, outside ${tolerance} ms of now (replayed?)`);
  return parsed;
}
