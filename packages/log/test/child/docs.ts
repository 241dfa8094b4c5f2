/** Realistic small Yjs updates for tests and child processes (no vitest imports here). */
import * as Y from 'yjs';

/** A doc that records every update it emits; edits are realistic small Yjs updates. */
export class DocWriter {
  readonly doc = new Y.Doc({ gc: false });
  readonly updates: Uint8Array[] = [];
  readonly #text: Y.Text;
  readonly #params: Y.Map<unknown>;
  #cursor = 0;
  #n = 0;

  constructor() {
    this.doc.on('update', (u: Uint8Array) => this.updates.push(u));
    const root = this.doc.getMap('profile');
    this.doc.transact(() => {
      root.set('systemMessage', new Y.Text());
      root.set('parameters', new Y.Map());
    });
    this.#text = root.get('systemMessage') as Y.Text;
    this.#params = root.get('parameters') as Y.Map<unknown>;
  }

  #taken = 0;

  /** Makes one edit and returns its update (the first one also carries the initial structure). */
  edit(): Uint8Array {
    this.#edit();
    const fresh = this.updates.slice(this.#taken);
    this.#taken = this.updates.length;
    return fresh.length === 1 ? (fresh[0] as Uint8Array) : Y.mergeUpdates(fresh);
  }

  #edit(): void {
    const k = this.#n++ % 10;
    if (k < 8) {
      this.#text.insert(this.#cursor, 'abcdefgh '[this.#n % 9] as string);
      this.#cursor++;
    } else if (k === 8 && this.#cursor > 0) {
      this.#text.delete(this.#cursor - 1, 1);
      this.#cursor--;
    } else {
      this.#params.set('temperature', (this.#n % 100) / 100);
    }
  }
}

export function viewOf(doc: Y.Doc): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc.getMap('profile').toJSON()));
}

