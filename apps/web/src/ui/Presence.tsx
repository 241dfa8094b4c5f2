/** Who else is editing this profile right now (awareness states with a `user` field). */
import { useEffect, useState } from 'preact/hooks';
import type { Awareness } from 'y-protocols/awareness';
import type { CollabStatus, SyncState } from '../lib/collab.js';

interface Person {
  clientId: number;
  name: string;
  color: string;
  me: boolean;
}

export function usePeople(awareness: Awareness): Person[] {
  const read = (): Person[] =>
    [...awareness.getStates().entries()]
      .filter(([, s]) => s && typeof s.user === 'object' && s.user !== null)
      .map(([clientId, s]) => ({ clientId, name: String(s.user.name ?? 'anonymous'), color: String(s.user.color ?? '#555'), me: clientId === awareness.clientID }))
      .sort((a, b) => Number(b.me) - Number(a.me) || a.name.localeCompare(b.name) || a.clientId - b.clientId);
  const [people, setPeople] = useState(read);
  useEffect(() => {
    const on = () => setPeople(read());
    awareness.on('change', on);
    on();
    return () => awareness.off('change', on);
  }, [awareness]);
  return people;
}

export function Presence({ awareness }: { awareness: Awareness }) {
  const people = usePeople(awareness);
  return (
    <section class="presence" aria-label="People editing this profile">
      <h2 class="sr-only">Here now</h2>
      <span class="muted">Here now:</span>
      <ul data-testid="presence">
        {people.map((p) => (
          <li key={p.clientId} data-me={p.me ? 'true' : undefined}>
            <span class="swatch" style={{ background: p.color }} aria-hidden="true" />
            {p.name}
            {p.me ? ' (you)' : ''}
          </li>
        ))}
      </ul>
    </section>
  );
}

const LABELS: Record<SyncState, string> = {
  connecting: 'Connecting…',
  syncing: 'Syncing…',
  connected: 'Connected · up to date',
  saved: 'Saved',
  offline: 'Offline · edits are kept and sent when the node is back',
  closed: 'Disconnected',
};

export function SyncBadge({ status }: { status: CollabStatus }) {
  const text = status.error ? `${status.state === 'closed' ? 'Disconnected' : 'Offline'} · ${status.error.code}: ${status.error.message}` : LABELS[status.state];
  return (
    <p class={`sync-badge state-${status.state}`} role="status" aria-live="polite" data-testid="sync-state" data-state={status.state}>
      <span class="dot" aria-hidden="true" />
      {text}
    </p>
  );
}
