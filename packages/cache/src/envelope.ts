/**
 * The Redis value format: a 3-byte header, then the payload.
 *
 *   byte 0  0xCE  magic ("cache envelope")
 *   byte 1  0x01  format version
 *   byte 2  encoding: 0x00 = UTF-8 JSON, 0x01 = zlib (deflate) stream of UTF-8 JSON
 *   3..     payload
 *
 * A value is compressed when its JSON is larger than `compressionThreshold` bytes AND the
 * zlib stream is smaller than the JSON (incompressible values stay raw). Readers decide by
 * byte 2 only, so the threshold and level can change at any time. Anything else
 * (short buffer, other magic or version, unknown encoding, bad zlib, bad JSON, output
 * above maxValueBytes) is CACHE_CORRUPT_ENTRY.
 */
import { promisify } from 'node:util';
import { deflate, deflateSync, inflate, inflateSync } from 'node:zlib';
import { CacheErrorCode, cacheError } from './errors.js';

export const ENVELOPE_MAGIC = 0xce;
export const ENVELOPE_VERSION = 0x01;
export const ENCODING_JSON = 0x00;
export const ENCODING_ZLIB = 0x01;
export const HEADER_BYTES = 3;
/** zlib work above this many bytes runs on the libuv thread pool instead of the event loop */
export const ASYNC_ZLIB_BYTES = 64 * 1024;

const deflateAsync = promisify(deflate);
const inflateAsync = promisify(inflate);

export interface EnvelopeOptions {
  /** compress JSON larger than this many bytes; null = never compress */
  compressionThreshold: number | null;
  /** zlib level 1 (fast) .. 9 (small) */
  compressionLevel: number;
  /** largest JSON payload accepted on write and produced on read */
  maxValueBytes: number;
}

export interface Encoded {
  bytes: Buffer;
  /** JSON bytes before compression */
  rawBytes: number;
  compressed: boolean;
}

function badValue(path: string, why: string): Error {
  return cacheError(CacheErrorCode.SERIALIZATION_FAILED, `value is not JSON-serializable at ${path || '(root)'}: ${why}`, {
    path: path || '(root)',
  });
}

function replacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  switch (typeof value) {
    case 'function':
    case 'symbol':
    case 'bigint':
      throw badValue(key, typeof value);
    case 'number':
      if (!Number.isFinite(value)) throw badValue(key, String(value));
      return value;
    case 'object':
      if (
        original instanceof Map ||
        original instanceof Set ||
        original instanceof ArrayBuffer ||
        ArrayBuffer.isView(original)
      ) {
        throw badValue(key, (original as object).constructor.name);
      }
      return value;
    default:
      return value;
  }
}

/**
 * JSON text of a value, or CACHE_SERIALIZATION_FAILED for values JSON would mangle or
 * reject: BigInt, cycles, functions and symbols (also at the top level), NaN/Infinity,
 * Map/Set/ArrayBuffer/typed arrays/Buffers. Undefined object properties are dropped
 * and Dates become ISO strings, as JSON does.
 */
export function serializeJson(value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value, replacer);
  } catch (err) {
    if ((err as { code?: string }).code === CacheErrorCode.SERIALIZATION_FAILED) throw err;
    throw cacheError(CacheErrorCode.SERIALIZATION_FAILED, `value is not JSON-serializable: ${(err as Error).message}`, {}, err);
  }
  if (json === undefined) throw badValue('', 'no JSON representation');
  return json;
}

/** The compression policy: compress when the JSON is larger than the threshold. */
export function shouldCompress(rawBytes: number, threshold: number | null): boolean {
  return threshold !== null && rawBytes > threshold;
}

function header(encoding: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
  out[0] = ENVELOPE_MAGIC;
  out[1] = ENVELOPE_VERSION;
  out[2] = encoding;
  out.set(payload, HEADER_BYTES);
  return out;
}

export async function encodeEnvelope(value: unknown, opts: EnvelopeOptions): Promise<Encoded> {
  const json = serializeJson(value);
  const rawBytes = Buffer.byteLength(json, 'utf8');
  if (rawBytes > opts.maxValueBytes) {
    throw cacheError(CacheErrorCode.VALUE_TOO_LARGE, `value is ${rawBytes} bytes of JSON; the limit is ${opts.maxValueBytes} bytes`, {
      limit: opts.maxValueBytes,
      limitBytes: opts.maxValueBytes,
    });
  }
  if (!shouldCompress(rawBytes, opts.compressionThreshold)) {
    const out = Buffer.allocUnsafe(HEADER_BYTES + rawBytes);
    out[0] = ENVELOPE_MAGIC;
    out[1] = ENVELOPE_VERSION;
    out[2] = ENCODING_JSON;
    out.write(json, HEADER_BYTES, 'utf8');
    return { bytes: out, rawBytes, compressed: false };
  }
  const raw = Buffer.from(json, 'utf8');
  const level = opts.compressionLevel;
  const z = rawBytes > ASYNC_ZLIB_BYTES ? await deflateAsync(raw, { level }) : deflateSync(raw, { level });
  if (z.byteLength >= rawBytes) return { bytes: header(ENCODING_JSON, raw), rawBytes, compressed: false };
  return { bytes: header(ENCODING_ZLIB, z), rawBytes, compressed: true };
}

function corrupt(reason: string, cause?: unknown): Error {
  return cacheError(CacheErrorCode.CORRUPT_ENTRY, `stored cache entry is corrupt: ${reason}`, { rule: reason }, cause);
}

function checkHeader(buf: Uint8Array): number {
  if (buf.byteLength < HEADER_BYTES) throw corrupt('short');
  if (buf[0] !== ENVELOPE_MAGIC) throw corrupt('magic');
  if (buf[1] !== ENVELOPE_VERSION) throw corrupt('version');
  const enc = buf[2] as number;
  if (enc !== ENCODING_JSON && enc !== ENCODING_ZLIB) throw corrupt('encoding');
  return enc;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw corrupt('json', err);
  }
}

/** Decodes an envelope synchronously (throws CACHE_CORRUPT_ENTRY). */
export function decodeEnvelope(buf: Buffer, maxValueBytes: number): unknown {
  const enc = checkHeader(buf);
  if (enc === ENCODING_JSON) return parse(buf.toString('utf8', HEADER_BYTES));
  let raw: Buffer;
  try {
    raw = inflateSync(buf.subarray(HEADER_BYTES), { maxOutputLength: maxValueBytes });
  } catch (err) {
    throw corrupt('zlib', err);
  }
  return parse(raw.toString('utf8'));
}

/** Like decodeEnvelope, but inflates large zlib payloads on the thread pool. */
export async function decodeEnvelopeAsync(buf: Buffer, maxValueBytes: number): Promise<unknown> {
  const enc = checkHeader(buf);
  if (enc === ENCODING_JSON || buf.byteLength <= ASYNC_ZLIB_BYTES / 4) return decodeEnvelope(buf, maxValueBytes);
  let raw: Buffer;
  try {
    raw = await inflateAsync(buf.subarray(HEADER_BYTES), { maxOutputLength: maxValueBytes });
  } catch (err) {
    throw corrupt('zlib', err);
  }
  return parse(raw.toString('utf8'));
}
