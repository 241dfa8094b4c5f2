import { openLog } from '@profilesync/log';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { applyContent, newProfileDoc, skeletonUpdate } from '../src/model.js';
import { openStore } from '../src/open.js';
import type { StoreEvents } from '../src/types.js';
import { emptyContent } from '../src/store.js';
import { ctx, removeDir, tempDir } from './helpers.js';

let dir = '';
afterEach(async () => {
  await removeDir(dir);
});

describe('views are derived data', () => {
  it('a profile stream without a persisted view is materialized by replay (open, get, index)', async () => {
    dir = await tempDir();
    const log = await openLog({ dir });
    const doc = newProfileDoc();
    Y.applyUpdate(doc, skeletonUpdate('raw'));
    doc.transact(() => applyContent(doc, emptyContent('raw'), { ...emptyContent('raw'), modelId: 'm', name: 'Raw', systemMessage: 'from entries only', parameters: { seed: 3 } }));
    // a replicated entry (made on another node): no run of this node is left open, so opening writes nothing
    await log.append({ stream: 'raw', body: Y.encodeStateAsUpdate(doc), actor: 'writer', origin: 'peer:n2' });
    const store = await openStore({ log });
    const loaded: StoreEvents['view-loaded'][] = [];
    store.on('view-loaded', (e) => loaded.push(e));
    expect((await store.list()).map((s) => [s.id, s.name])).toEqual([['raw', 'Raw']]);
    const v = store.get('raw');
    expect(v).not.toBeInstanceOf(Promise); // warmed at open
    expect(v).toMatchObject({ systemMessage: 'from entries only', parameters: { seed: 3 }, updatedBy: 'writer' });
    store.clearCache();
    expect((await store.get('raw')).systemMessage).toBe('from entries only');
    expect(loaded[0]!.source).toBe('replay');
    // the next write persists a view again
    await store.update('raw', { name: 'Raw 2' }, ctx);
    expect(await log.getView('raw')).toBeInstanceOf(Uint8Array);
    await store.close();
    await log.close();
  });
});
