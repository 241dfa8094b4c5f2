/**
 * The fleet in words (GET /api/cluster): whether this node is caught up, whether the bus is
 * reachable, and each member's state. Pure functions; the panel is ui/ClusterPanel.tsx.
 */
import { lagText } from './peers.js';

export interface ClusterMember {
  id: string;
  /** HTTP base URL */
  url: string;
  lastSeen: string;
  fingerprint?: string;
  alive?: boolean;
  ready?: boolean;
  self?: boolean;
}

export interface ClusterResponse {
  self?: string;
  ready?: boolean;
  bus: { connected: boolean; lagMillis: number; kind?: string; shards?: number; repairPending?: boolean; unpublished?: number; fallback?: string[]; keyMismatch?: { active: boolean; members: string[]; entries: number; lastEntryAt: string | null } } | null;
  members: ClusterMember[];
}

export interface ClusterSummary {
  tone: 'ok' | 'warn' | 'bad';
  headline: string;
  detail: string;
}

/** One line about the fleet from this node's point of view, and what to do when it is not well. */
export function clusterSummary(c: ClusterResponse): ClusterSummary | undefined {
  const b = c.bus;
  if (!b) return undefined;
  const live = c.members.filter((m) => m.alive !== false).length;
  const count = `${live} of ${c.members.length} ${c.members.length === 1 ? 'member' : 'members'} live`;
  if (!b.connected) {
    const fb = b.fallback?.length ? ` Changes go over /sync with ${b.fallback.length} ${b.fallback.length === 1 ? 'member' : 'members'} meanwhile.` : ' No member is reachable over /sync either.';
    return { tone: 'bad', headline: `Bus unreachable · ${count}`, detail: `Redis does not answer; reads and writes go on here.${fb}${b.unpublished ? ` ${b.unpublished} ${b.unpublished === 1 ? 'profile waits' : 'profiles wait'} to be republished.` : ''}` };
  }
  if (b.keyMismatch?.active) {
    const k = b.keyMismatch;
    const who = k.members.length > 0 ? `${k.members.length === 1 ? 'Member' : 'Members'} ${k.members.join(', ')} ${k.members.length === 1 ? 'seals' : 'seal'} ${k.members.length === 1 ? 'its' : 'their'} records` : `${k.entries} bus ${k.entries === 1 ? 'entry is' : 'entries are'} sealed`;
    return { tone: 'bad', headline: `Fleet key mismatch · ${count}`, detail: `${who} under another fleet key: no changes cross between ${k.members.length === 1 ? 'it' : 'them'} and this node. Give every member the same bus.key.` };
  }
  if (c.ready === false) return { tone: 'warn', headline: `Catching up · ${count}`, detail: b.repairPending ? 'Repairing over /sync with the other members (the bus could not deliver everything).' : 'Reading the bus.' };
  if (b.repairPending) return { tone: 'warn', headline: `Repair pending · ${count}`, detail: 'The bus could not deliver everything to this node; it repairs over /sync as soon as a member answers.' };
  if (b.unpublished) return { tone: 'warn', headline: `${b.unpublished} to republish · ${count}`, detail: 'Some changes could not be published yet; they are republished shortly.' };
  return { tone: 'ok', headline: `In sync · ${count}`, detail: `The bus is reachable; this node is ${lagText(b.lagMillis)}.` };
}

/** A member's state in a word. */
export function memberState(m: ClusterMember): { tone: 'ok' | 'warn' | 'bad'; label: string } {
  if (m.alive === false) return { tone: 'bad', label: 'Gone (no heartbeat)' };
  if (m.ready === false) return { tone: 'warn', label: 'Catching up' };
  return { tone: 'ok', label: 'Live' };
}
