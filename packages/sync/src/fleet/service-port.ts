/** The SyncService as the fleet's repair port: members become on-demand peers of the /sync service. */
import { SyncErrorCode } from '../errors.js';
import type { FleetRepairPort } from './fleet.js';

/** What the port uses of the SyncService (structural, so this file does not import service.ts, which imports it). */
export interface RepairPortService {
  addPeer(peer: { id: string; url: string; publicKey: string; name?: string; mode: 'on-demand'; fleet: true }): unknown;
  removePeer(id: string): unknown;
  hasPeer(id: string): boolean;
  repairWith(id: string, opts: { timeoutMs: number }): Promise<{ ok: boolean; code?: string; message?: string }>;
  /** the peer's last failure code (a refused handshake, a close reason) */
  lastErrorOf(id: string): string | undefined;
  setPeerMode(id: string, mode: 'standing' | 'on-demand'): unknown;
}

export function serviceRepairPort(service: RepairPortService): FleetRepairPort {
  /** member id -> sync url, for the peers this port added (operator-configured peers are never touched) */
  const ours = new Map<string, string>();
  return {
    addMember(m) {
      if (ours.get(m.id) === m.syncUrl) return;
      if (ours.has(m.id)) {
        service.removePeer(m.id);
        ours.delete(m.id);
      } else if (service.hasPeer(m.id)) return; // also configured by the operator: that entry serves
      try {
        service.addPeer({ id: m.id, url: m.syncUrl, publicKey: m.publicKey, name: m.name, mode: 'on-demand', fleet: true });
        ours.set(m.id, m.syncUrl);
      } catch (err) {
        if ((err as { code?: string }).code !== SyncErrorCode.PEER_EXISTS) throw err;
      }
    },
    removeMember(id) {
      if (!ours.delete(id)) return;
      if (service.hasPeer(id)) service.removePeer(id);
    },
    async repairWith(id, timeoutMs) {
      const r = await service.repairWith(id, { timeoutMs });
      const cause = r.ok || r.code !== SyncErrorCode.NOT_CONNECTED ? undefined : service.lastErrorOf(id);
      return { ok: r.ok, ...(r.code ? { code: r.code } : {}), ...(r.message ? { message: r.message } : {}), ...(cause ? { cause } : {}) };
    },
    setStanding(ids) {
      for (const id of ours.keys()) if (service.hasPeer(id)) service.setPeerMode(id, ids.includes(id) ? 'standing' : 'on-demand');
    },
  };
}
