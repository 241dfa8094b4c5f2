/**
 * The unwrapped keys of an open keyring, shared between the Keyring and the codecs it
 * creates. Package-internal: not exported from index.ts, so key bytes never become
 * part of the public API.
 */
export interface KeyMaterial {
  activeKeyId: number;
  /** key id -> 32-byte AES-256 data key */
  dataKeys: Map<number, Buffer>;
  /** 32-byte HMAC-SHA-256 key for names that end up in LevelDB keys */
  nameKey: Buffer;
  closed: boolean;
}

const materials = new WeakMap<object, KeyMaterial>();

export function attachMaterial(owner: object, material: KeyMaterial): void {
  materials.set(owner, material);
}

export function materialOf(owner: object): KeyMaterial | undefined {
  return materials.get(owner);
}
