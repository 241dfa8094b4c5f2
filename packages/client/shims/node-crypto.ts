/**
 * Build-time stand-in for `node:crypto` in the SDK's portable bundle (browsers, edge runtimes):
 * the response cache's key builder only needs createHash('sha256'), which @noble/hashes
 * provides in plain JavaScript with the same digests.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export function createHash(algorithm: string) {
  if (algorithm !== 'sha256') throw new Error(`createHash: only sha256 is available in this build (got ${algorithm})`);
  const h = sha256.create();
  const hash = {
    update(data: string | Uint8Array, _encoding?: string) {
      h.update(typeof data === 'string' ? utf8ToBytes(data) : data);
      return hash;
    },
    digest(encoding: 'hex') {
      if (encoding !== 'hex') throw new Error('digest: only hex in this build');
      return bytesToHex(h.digest());
    },
  };
  return hash;
}

export function randomUUID(): string {
  return globalThis.crypto.randomUUID();
}
