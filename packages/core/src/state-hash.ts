/**
 * H: the version hash of a state's snapshot bytes (SHA-256, base64url, the first 22 characters),
 * the same as @profilesync/model's stateHash, through node:crypto's one-shot hash (no Hash object
 * per call, which is most of the cost for inputs this small). One definition for the write path,
 * materialize, version records and history.
 */
import { hash } from 'node:crypto';

export function hashOf(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'base64url').slice(0, 22);
}
