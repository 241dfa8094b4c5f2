/** The fleet panel's words (pure: no browser). */
import { describe, expect, it } from 'vitest';
import { clusterSummary, memberState, type ClusterResponse } from '../src/lib/cluster.js';

const member = (id: string, extra: Partial<ClusterResponse['members'][number]> = {}) => ({ id, url: `http://10.0.0.${id.length}:7878`, lastSeen: new Date(0).toISOString(), alive: true, ready: true, ...extra });
const bus = (extra: Partial<NonNullable<ClusterResponse['bus']>> = {}) => ({ connected: true, lagMillis: 0, shards: 16, repairPending: false, unpublished: 0, fallback: [], ...extra });

describe('fleet panel', () => {
  it('says nothing for a node without a bus', () => {
    expect(clusterSummary({ bus: null, members: [] })).toBeUndefined();
  });

  it('in sync: counts live members and says how far behind this node is', () => {
    const s = clusterSummary({ ready: true, bus: bus(), members: [member('a', { self: true }), member('bb'), member('ccc', { alive: false })] })!;
    expect(s.tone).toBe('ok');
    expect(s.headline).toBe('In sync · 2 of 3 members live');
    expect(s.detail).toContain('up to date');
    expect(clusterSummary({ ready: true, bus: bus({ lagMillis: 65_000 }), members: [member('a')] })!.detail).toContain('1 min 5 s behind');
  });

  it('a member with another fleet key: bad, named, and what to do (before catching up or repairs)', () => {
    const s = clusterSummary({ ready: true, bus: bus({ keyMismatch: { active: true, members: ['stranger'], entries: 4, lastEntryAt: new Date(0).toISOString() } }), members: [member('a', { self: true }), member('bb')] })!;
    expect(s.tone).toBe('bad');
    expect(s.headline).toBe('Fleet key mismatch · 2 of 2 members live');
    expect(s.detail).toBe('Member stranger seals its records under another fleet key: no changes cross between it and this node. Give every member the same bus.key.');
    const entriesOnly = clusterSummary({ ready: false, bus: bus({ keyMismatch: { active: true, members: [], entries: 2, lastEntryAt: new Date(0).toISOString() } }), members: [member('a')] })!;
    expect(entriesOnly.detail).toContain('2 bus entries are sealed under another fleet key');
    // no longer active: the usual summary
    expect(clusterSummary({ ready: true, bus: bus({ keyMismatch: { active: false, members: [], entries: 2, lastEntryAt: null } }), members: [member('a')] })!.tone).toBe('ok');
  });

  it('bus unreachable: what goes on instead, and what waits', () => {
    const s = clusterSummary({ ready: true, bus: bus({ connected: false, fallback: ['bb', 'ccc'], unpublished: 3 }), members: [member('a'), member('bb'), member('ccc')] })!;
    expect(s.tone).toBe('bad');
    expect(s.headline).toBe('Bus unreachable · 3 of 3 members live');
    expect(s.detail).toContain('over /sync with 2 members');
    expect(s.detail).toContain('3 profiles wait to be republished');
    expect(clusterSummary({ bus: bus({ connected: false }), members: [member('a')] })!.detail).toContain('No member is reachable');
  });

  it('catching up, repair pending, waiting to republish', () => {
    expect(clusterSummary({ ready: false, bus: bus({ repairPending: true }), members: [member('a')] })).toMatchObject({ tone: 'warn', headline: 'Catching up · 1 of 1 member live' });
    expect(clusterSummary({ ready: true, bus: bus({ repairPending: true }), members: [member('a')] })!.headline).toMatch(/^Repair pending/);
    expect(clusterSummary({ ready: true, bus: bus({ unpublished: 1 }), members: [member('a')] })!.headline).toMatch(/^1 to republish/);
  });

  it('a member in a word', () => {
    expect(memberState(member('a'))).toEqual({ tone: 'ok', label: 'Live' });
    expect(memberState(member('a', { ready: false }))).toEqual({ tone: 'warn', label: 'Catching up' });
    expect(memberState(member('a', { alive: false }))).toEqual({ tone: 'bad', label: 'Gone (no heartbeat)' });
  });
});
