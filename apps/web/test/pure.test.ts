/** Pure policies of the list, peers, tokens and the change-feed reader (no browser). */
import { describe, expect, it } from 'vitest';
import { retryDelay, SseParser, startingDelay } from '../src/lib/changes.js';
import { copyOf, fieldLabel, humanDuration, importSummary, markWords, rangeText, searchWords, sortChoice } from '../src/lib/list.js';
import { explainPeerError, lagText, peerState, seenText, syncMessage } from '../src/lib/peers.js';
import type { PeerInfo } from '../src/lib/types.js';
import { parseGlobs, TOKEN_NAME_RE } from '../src/ui/Tokens.js';
import { copyBody } from '../src/ui/ProfileDialogs.js';

describe('list', () => {
  it('says which rows are shown', () => {
    expect(rangeText(0, 50, 50, 10_000)).toBe('1–50 of 10,000');
    expect(rangeText(3, 50, 12, 162)).toBe('151–162 of 162');
    expect(rangeText(0, 50, 0, 0)).toBe('0 of 0');
  });
  it('marks every occurrence of every search word, case-insensitively', () => {
    expect(markWords('Acme sells ACME things', searchWords('acme  THINGS'))).toEqual([
      { text: 'Acme', mark: true },
      { text: ' sells ', mark: false },
      { text: 'ACME', mark: true },
      { text: ' ', mark: false },
      { text: 'things', mark: true },
    ]);
    expect(markWords('aaa', ['aa'])).toEqual([{ text: 'aaa', mark: true }]);
    expect(markWords('plain', [])).toEqual([{ text: 'plain', mark: false }]);
  });
  it('names match fields in words and maps the sort menu', () => {
    expect(fieldLabel('systemMessage')).toBe('system message');
    expect(fieldLabel('templates.greet')).toBe('template greet');
    expect(fieldLabel('messages.0')).toBe('message 1');
    expect(fieldLabel('name')).toBe('name');
    expect(sortChoice('updated')).toMatchObject({ sort: 'updated', order: 'desc' });
    expect(sortChoice('nonsense')).toMatchObject({ sort: 'name', order: 'asc' });
  });
  it('suggests a copy name and the first free id', () => {
    const taken = new Set(['bot-copy', 'bot-copy-2']);
    expect(copyOf('Bot', 'bot', (id) => taken.has(id))).toEqual({ name: 'Copy of Bot', id: 'bot-copy-3' });
    expect(copyOf('Bot', 'x'.repeat(128), () => false).id).toHaveLength(125);
  });
  it('a copy carries every writable field and messages as role + content, never labels', () => {
    const view = { id: 'a', name: 'A', modelId: 'm', description: 'd', systemMessage: 's', templates: { t: 'x' }, parameters: { temperature: 1 }, meta: { tags: ['q'] }, labels: { production: 'v' }, version: 'v', updatedAt: 'now', updatedBy: 'me', deleted: false, messages: [{ id: 'm1', role: 'user', content: 'hi' }] };
    expect(copyBody(view as never, { id: 'b', name: 'B', modelId: 'm2' })).toEqual({ id: 'b', name: 'B', modelId: 'm2', description: 'd', systemMessage: 's', templates: { t: 'x' }, parameters: { temperature: 1 }, meta: { tags: ['q'] }, messages: [{ role: 'user', content: 'hi' }] });
  });
  it('sums up an import', () => {
    expect(importSummary([{ id: 'a', outcome: 'created' }, { id: 'b', outcome: 'rejected', code: 'X' }, { id: 'c', outcome: 'unchanged' }])).toBe('Import: 1 created, 0 updated, 1 unchanged, 1 rejected.');
  });
  it('durations in human units', () => {
    expect(humanDuration(0)).toBe('0 s');
    expect(humanDuration(45_400)).toBe('45 s');
    expect(humanDuration(75_365)).toBe('1 min 15 s');
    expect(humanDuration(120_000)).toBe('2 min');
    expect(humanDuration(2 * 3600_000 + 5 * 60_000)).toBe('2 h 5 min');
    expect(humanDuration(86_400_000)).toBe('1 day');
    expect(humanDuration(3 * 86_400_000 + 4 * 3600_000)).toBe('3 days 4 h');
  });
});

const peer = (over: Partial<PeerInfo>): PeerInfo => ({ id: 'p1', url: 'ws://h:1/sync', fingerprint: 'f', name: 'edge', source: 'added', connected: false, lastSeen: null, pending: 0, ...over });

describe('peers in words', () => {
  const now = Date.parse('2026-01-01T10:00:00Z');
  it('why a peer is not connected', () => {
    const refused = peerState(peer({ state: 'backoff', lastError: 'CRYPTO_PEER_UNKNOWN', nextRetryAt: '2026-01-01T10:00:25Z' }), true, now);
    expect(refused.label).toBe('Refused our key');
    expect(refused.tone).toBe('bad');
    expect(refused.detail).toMatch(/does not accept this node's key.*Backing off: next try at .* \(in 25 s\)\./);
    expect(peerState(peer({ state: 'backoff', lastError: 'SYNC_CONNECTION_LOST', nextRetryAt: null }), true, now).label).toBe('Unreachable');
    expect(peerState(peer({ state: 'connecting' }), true, now).label).toBe('Connecting…');
    expect(peerState(peer({}), false, now).label).toBe('Sync off');
    expect(peerState(peer({ connected: true, state: 'connected', lagMillis: 75_365, pending: 2 }), true, now)).toEqual({ tone: 'ok', label: 'Connected', detail: '2 profiles to exchange; 1 min 15 s behind.' });
    expect(peerState(peer({ connected: true, state: 'connected', lagMillis: 0 }), true, now).detail).toBe('Up to date.');
    expect(explainPeerError('SOMETHING_NEW', 'u').detail).toContain('SOMETHING_NEW');
    // the socket error of the last dial (lastErrno) says more than "unreachable"
    const lost = (lastErrno: string | null) => peerState(peer({ state: 'idle', lastError: 'SYNC_CONNECTION_LOST', lastErrno }), true, now);
    expect(lost('ECONNREFUSED')).toEqual({ tone: 'bad', label: 'Unreachable', detail: 'Connection refused at ws://h:1/sync: nothing listens on that port (the node is down, or the port is wrong).' });
    expect(lost('ENOTFOUND').label).toBe('Unknown host');
    expect(lost('HTTP_404')).toMatchObject({ label: 'Not a sync endpoint', detail: expect.stringMatching(/^A web server at ws:\/\/h:1\/sync answered HTTP 404 .*ends in \/sync/) });
    expect(lost('ECONNRESET').label).toBe('Connection reset');
    expect(lost('EWHATEVER').detail).toMatch(/^Nothing answered at ws:\/\/h:1\/sync\./);
    expect(lost(null).label).toBe('Unreachable');
    // only for a lost connection: another code keeps its own words
    expect(peerState(peer({ state: 'idle', lastError: 'CRYPTO_PEER_UNKNOWN', lastErrno: 'ECONNREFUSED' }), true, now).label).toBe('Refused our key');
  });
  it('lag and last seen in human units, "never" for a peer never seen', () => {
    expect(lagText(75_365)).toBe('1 min 15 s behind');
    expect(lagText(0)).toBe('up to date');
    expect(seenText(null, now)).toBe('never');
    expect(seenText('2026-01-01T09:59:59.500Z', now)).toBe('just now');
    expect(seenText('2026-01-01T09:59:48Z', now)).toBe('12 s ago');
    expect(seenText('2026-01-01T09:57:00Z', now)).toMatch(/^3 min ago \(/);
  });
  it('what "Sync now" did', () => {
    const peers = [peer({ id: 'p1', name: 'edge', lastError: 'CRYPTO_PEER_UNKNOWN' })];
    const failed = syncMessage({ converged: false, durationMillis: 3, peers: [{ id: 'p1', ok: false, code: 'SYNC_NOT_CONNECTED', message: 'not connected (CRYPTO_PEER_UNKNOWN)' }] }, peers);
    expect(failed.kind).toBe('error');
    expect(failed.text).toMatch(/^Sync did not complete\. edge is not connected: refused our key\. The peer answered but does not accept this node's key/);
    expect(syncMessage({ converged: true, durationMillis: 12.4, peers: [{ id: 'p1', ok: true }] }, peers)).toEqual({ kind: 'info', text: 'In sync with 1 peer (12 ms).' });
    expect(syncMessage({ converged: true, durationMillis: 1, peers: [] }, []).text).toMatch(/no peers to sync with/);
    // a peer unknown to the list: the code from the message
    expect(syncMessage({ converged: false, durationMillis: 1, peers: [{ id: 'zz', ok: false, code: 'SYNC_NOT_CONNECTED', message: 'not connected (SYNC_CONNECTION_LOST)' }] }, []).text).toContain('zz is not connected: unreachable.');
  });
});

describe('tokens', () => {
  it('globs and names as the node accepts them', () => {
    expect(parseGlobs(' team-a.*, support-?\nx ')).toEqual({ globs: ['team-a.*', 'support-?', 'x'] });
    expect(parseGlobs('ok bad/glob').bad).toBe('bad/glob');
    expect(parseGlobs('').globs).toEqual([]);
    expect(TOKEN_NAME_RE.test('ada laptop')).toBe(true);
    expect(TOKEN_NAME_RE.test(' lead')).toBe(false);
  });
});

describe('change feed reader', () => {
  it('parses events across chunk boundaries, CRLF, comments and multi-line data; remembers the last id', () => {
    const p = new SseParser();
    expect(p.push(': hello\r\n\r\nid: 7\r\nevent: change\r\ndata: {"id":')).toEqual([]);
    expect(p.push('"a"}\r')).toEqual([]);
    expect(p.push('\n\r\n')).toEqual([{ event: 'change', data: '{"id":"a"}', id: '7' }]);
    expect(p.lastEventId).toBe('7');
    expect(p.push('data: one\ndata: two\n\n')).toEqual([{ event: 'message', data: 'one\ntwo', id: '7' }]);
    expect(p.push('event: change\n\n')).toEqual([]); // no data: nothing dispatched
  });
  it('reconnects with capped exponential delays', () => {
    expect([0, 1, 2, 3, 4, 9].map(retryDelay)).toEqual([1000, 2000, 4000, 8000, 15000, 15000]);
    // a starting node's 503 says when to come back (Retry-After, seconds), within 1 to 15 s
    expect(['1', '3', '0', '120', 'soon', 'Wed, 21 Oct 2015 07:28:00 GMT'].map(startingDelay)).toEqual([1000, 3000, 1000, 15000, 1000, 1000]);
  });
});

describe('the primed first page', () => {
  it('the inline script of index.html asks exactly what the list asks first (same URL: the list takes its answer)', async () => {
    const { readFileSync } = await import('node:fs');
    const FIRST_PAGE_URL = /const FIRST_PAGE_URL = '([^']+)'/.exec(readFileSync(new URL('../index.html', import.meta.url), 'utf8'))?.[1];
    const { listQuery } = await import('../src/lib/api.js');
    const { firstPageQuery } = await import('../src/lib/list.js');
    const q = listQuery(firstPageQuery()) as Record<string, string | number>;
    const url = `/api/profiles?${new URLSearchParams(Object.keys(q).sort().map((k) => [k, String(q[k])])).toString()}`;
    expect(FIRST_PAGE_URL).toBe(url);
  });
});

describe('parameters as JSON (the node\'s own rules)', () => {
  it('a value is typed JSON or refused with where and why; text needs quotes', async () => {
    const { parseJsonField } = await import('../src/lib/jsonparams.js');
    expect(parseJsonField('{"50256": -100}')).toEqual({ value: { '50256': -100 } });
    expect(parseJsonField('"medium"')).toEqual({ value: 'medium' });
    expect(parseJsonField('[1, 2]')).toEqual({ value: [1, 2] });
    const bad = parseJsonField('medium');
    expect('error' in bad && bad.error).toMatch(/^not valid JSON .* text must be in double quotes/);
    expect('error' in parseJsonField('{"a": }')).toBe(true);
    expect('error' in parseJsonField('  ')).toBe(true);
  });
  it('checks the whole parameters object like the node: types, ranges, unknown keys with a suggestion, JSON Schemas', async () => {
    const { checkParameters } = await import('../src/lib/jsonparams.js');
    expect(checkParameters({ temperature: 0.5, logit_bias: { '50256': -100 }, stop: ['###'] })).toEqual([]);
    const typo = checkParameters({ temprature: 0.5 });
    expect(typo).toHaveLength(1);
    expect(typo[0]).toMatchObject({ key: 'temprature' });
    expect(typo[0]!.text).toMatch(/temperature/);
    expect(checkParameters({ logit_bias: { abc: 1 } })[0]).toMatchObject({ key: 'logit_bias', path: 'parameters.logit_bias.abc' });
    expect(checkParameters({ logit_bias: { '1': 500 } })[0]!.text).toMatch(/<= 100/);
    expect(checkParameters({ tools: [{ type: 'function', function: { name: 'x', parameters: { type: 'nonsense-type' } } }] })[0]).toMatchObject({ key: 'tools' });
    expect(checkParameters({ extra: { top_k: 40 } })).toEqual([]);
  });
  it('the patch replaces a parameter\'s whole value (typed), removes with null', async () => {
    const { parametersPatch, parseNumberField, NUMBER_FIELDS } = await import('../src/lib/jsonparams.js');
    expect(parametersPatch({ temperature: 1, response_format: { type: 'json_object' }, stop: ['a'] }, { temperature: 1, response_format: { type: 'text' } })).toEqual({ response_format: { type: 'text' }, stop: null });
    const t = NUMBER_FIELDS.find((f) => f.key === 'temperature')!;
    expect(parseNumberField(t, '2.5').error).toMatch(/at most 2/);
    expect(parseNumberField(t, '0.7')).toEqual({ value: 0.7 });
    expect(parseNumberField(NUMBER_FIELDS.find((f) => f.key === 'max_tokens')!, '1.5').error).toMatch(/whole number/);
  });
});

describe('messages in the live doc', () => {
  const fresh = async () => {
    const Y = await import('yjs');
    const doc = new Y.Doc();
    const profile = doc.getMap<unknown>('profile');
    profile.set('messages', new Y.Map());
    return { Y, doc, profile };
  };
  it('add, move, re-role and delete keep a (pos, id) order the node reads the same way', async () => {
    const { profile } = await fresh();
    const m = await import('../src/lib/messages.js');
    const a = m.addMessage(profile, 'system', undefined, 'A');
    const b = m.addMessage(profile, 'user', undefined, 'B');
    const c = m.addMessage(profile, 'assistant', undefined, 'C');
    const first = m.addMessage(profile, 'developer', -1, 'first');
    expect(m.plainMessages(profile).map((x) => x.content)).toEqual(['first', 'A', 'B', 'C']);
    expect(m.moveMessage(profile, c, -1)).toBe(true);
    expect(m.plainMessages(profile).map((x) => x.content)).toEqual(['first', 'A', 'C', 'B']);
    expect(m.moveMessage(profile, first, 1)).toBe(true);
    expect(m.plainMessages(profile).map((x) => x.content)).toEqual(['A', 'first', 'C', 'B']);
    expect(m.moveMessage(profile, b, 1)).toBe(false);
    expect(m.moveMessage(profile, a, -1)).toBe(false);
    m.setRole(profile, b, 'assistant');
    m.removeMessage(profile, a);
    expect(m.plainMessages(profile).map((x) => [x.content, x.role])).toEqual([['first', 'developer'], ['C', 'assistant'], ['B', 'assistant']]);
  });
  it('two people adding and moving at once: both docs end in the same order with every message', async () => {
    const { Y, doc: d1, profile: p1 } = await fresh();
    const m = await import('../src/lib/messages.js');
    const x = m.addMessage(p1, 'user', undefined, 'x');
    m.addMessage(p1, 'user', undefined, 'y');
    const d2 = new Y.Doc();
    Y.applyUpdate(d2, Y.encodeStateAsUpdate(d1));
    const p2 = d2.getMap<unknown>('profile');
    m.addMessage(p1, 'assistant', 0, 'from one');
    m.addMessage(p2, 'assistant', 0, 'from two');
    m.moveMessage(p2, x, 1);
    Y.applyUpdate(d1, Y.encodeStateAsUpdate(d2));
    Y.applyUpdate(d2, Y.encodeStateAsUpdate(d1));
    const one = m.plainMessages(p1);
    expect(m.plainMessages(p2)).toEqual(one);
    expect(one.map((z) => z.content).sort()).toEqual(['from one', 'from two', 'x', 'y']);
  });
});

describe('conflicts', () => {
  it('each side against the merged text: what the merge kept, dropped and added', async () => {
    const { compareToMerged, conflictField, valueText } = await import('../src/lib/conflicts.js');
    // the example: two edits made apart, merged into a garbled prompt
    const merged = 'You write cleAlanays add tests.';
    expect(compareToMerged('You write code. Always add tests.', merged).map((r) => r.mark)).toContain('gone');
    expect(compareToMerged('same', 'same')).toEqual([{ text: 'same', mark: 'same' }]);
    expect(compareToMerged('ab', 'abc')).toEqual([{ text: 'ab', mark: 'same' }, { text: 'c', mark: 'added' }]);
    // two unrelated long texts (fast-diff alone would take minutes): the common ends, the middle dropped and added whole
    const rnd = (n: number, seed: number): string => {
      let out = '';
      for (let i = 0, s = seed; i < n; i++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        out += String.fromCharCode(97 + ((s >>> 16) % 26));
      }
      return out;
    };
    const [x, y] = [rnd(150_000, 1), rnd(150_000, 2)];
    expect(compareToMerged(`Start. ${x} End.`, `Start. ${y} End.`)).toEqual([
      { text: 'Start. ', mark: 'same' },
      { text: x, mark: 'gone' },
      { text: y, mark: 'added' },
      { text: ' End.', mark: 'same' },
    ]);
    expect(conflictField('systemMessage', () => undefined)).toBe('system message');
    expect(conflictField('templates.greet', () => undefined)).toBe('template greet');
    expect(conflictField('messages.abc.content', (id) => (id === 'abc' ? 2 : undefined))).toBe('message 3');
    expect(conflictField('messages.gone.content', () => undefined)).toBe('a message (since deleted)');
    expect(conflictField('parameters.temperature', () => undefined)).toBe('parameters.temperature');
    expect(valueText('0.5')).toBe('"0.5"');
    expect(valueText(undefined)).toBe('(absent)');
  });
});
