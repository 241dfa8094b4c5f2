/**
 * Pieces every screen draws the same way: the inline error line, the data table (visually
 * hidden caption, column headers, an optional unlabeled actions column), and polling.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** A failure shown where it happened (role=alert); renders nothing without a message. */
export function ErrorAlert({ message, id }: { message: string | undefined; id?: string }) {
  if (!message) return null;
  return (
    <p class="error" role="alert" id={id}>
      {message}
    </p>
  );
}

export interface GridProps {
  testId: string;
  /** read by screen readers only */
  caption: string;
  columns: string[];
  /** appends a last column headed "Actions" for screen readers only */
  actions?: boolean;
  /** extra classes besides `grid` */
  class?: string;
  /** the body rows */
  children: ComponentChildren;
}

export function Grid({ testId, caption, columns, actions = false, class: extra, children }: GridProps) {
  return (
    <table class={extra ? `grid ${extra}` : 'grid'} data-testid={testId}>
      <caption class="sr-only">{caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th scope="col" key={c}>
              {c}
            </th>
          ))}
          {actions && (
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          )}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}

/** Runs `poll` now and every `intervalMillis` while the component is mounted. */
export function usePolling(poll: () => Promise<void>, intervalMillis: number): void {
  useEffect(() => {
    void poll();
    const t = setInterval(() => void poll(), intervalMillis);
    return () => clearInterval(t);
  }, []);
}

/** The removal control of a row added over the API; a row from the config file says so instead (it is removed there). */
export function RemoveOrConfig({ source, label, onRemove }: { source: 'config' | 'added'; label: string; onRemove: () => void }) {
  return source === 'added' ? (
    <button type="button" class="link danger" onClick={onRemove} aria-label={`Remove ${label}`}>
      Remove
    </button>
  ) : (
    <span class="muted">from the config file</span>
  );
}

/** "Retrying in 4 s…", counting down to `at` (ms since the epoch). */
function RetryCountdown({ at }: { at: number }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  const s = Math.max(0, Math.ceil((at - now) / 1000));
  return <span>{s > 0 ? `Retrying in ${s} s…` : 'Retrying…'}</span>;
}

/** The countdown to the next automatic retry, what happens then, and "Retry now". */
export function RetryNotice({ testId, at, then, onRetry }: { testId: string; at: number; then: string; onRetry: () => void }) {
  return (
    <p data-testid={testId}>
      <RetryCountdown at={at} /> {then}{' '}
      <button type="button" onClick={onRetry}>
        Retry now
      </button>
    </p>
  );
}
