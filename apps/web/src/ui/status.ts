/**
 * One place for status messages: screens call `announce()`; the app renders the latest
 * message in an aria-live region (role=status for info, role=alert for errors), so screen
 * readers hear results of actions and everyone sees them.
 */
import { useEffect, useState } from 'preact/hooks';
import { errorText } from '../lib/api.js';

export interface Announcement {
  id: number;
  at: number;
  kind: 'info' | 'error';
  text: string;
}

let current: Announcement | undefined;
let nextId = 1;
const listeners = new Set<(a: Announcement | undefined) => void>();

export function announce(text: string, kind: 'info' | 'error' = 'info'): void {
  current = { id: nextId++, at: Date.now(), kind, text };
  for (const l of listeners) l(current);
}

export function announceError(err: unknown, what: string): void {
  announce(`${what} failed: ${errorText(err)}`, 'error');
}

/** On navigation: drop a message that belongs to the previous screen (older than a moment). */
export function clearStaleAnnouncement(maxAgeMillis = 1500): void {
  if (current && Date.now() - current.at > maxAgeMillis) clearAnnouncement();
}

export function clearAnnouncement(): void {
  current = undefined;
  for (const l of listeners) l(current);
}

export function useAnnouncement(): Announcement | undefined {
  const [a, setA] = useState(current);
  useEffect(() => {
    listeners.add(setA);
    return () => listeners.delete(setA);
  }, []);
  return a;
}
