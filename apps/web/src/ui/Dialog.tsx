/**
 * Modal dialogs on the native <dialog> element (focus stays inside, Escape cancels).
 * The body is a form: Enter submits (confirms), Escape or "Cancel" closes (a dialog that only
 * reports something done has no "Cancel"). While the action
 * runs the buttons are disabled; a failure is shown inside the dialog (role=alert).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { errorText } from '../lib/api.js';
import { ErrorAlert } from './parts.js';

export interface DialogProps {
  title: string;
  confirmLabel: string;
  danger?: boolean;
  /** runs on Enter / the confirm button; the dialog closes when it resolves */
  onConfirm: () => Promise<void> | void;
  onClose: () => void;
  children?: ComponentChildren;
  testId?: string;
  /** no "Cancel" button: for a dialog reporting something already done (Escape still closes it) */
  noCancel?: boolean;
  /** the confirm button is disabled (the body says why) */
  confirmDisabled?: boolean;
}

export function Dialog({ title, confirmLabel, danger, onConfirm, onClose, children, testId, noCancel, confirmDisabled }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const titleId = useRef(`dlg-${Math.random().toString(36).slice(2)}`).current;

  useEffect(() => {
    const d = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (d && !d.open) d.showModal();
    return () => {
      d?.close();
      if (opener?.isConnected) opener.focus(); // keyboard users continue where they were
    };
  }, []);

  // after a failure the buttons were disabled (focus fell out): bring it back to the first field
  useEffect(() => {
    if (!error || busy) return;
    const first = ref.current?.querySelector<HTMLElement>('input:not([disabled]), select:not([disabled]), textarea:not([disabled]), button[type=submit]');
    first?.focus();
  }, [error, busy]);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={ref}
      class="dialog"
      aria-labelledby={titleId}
      data-testid={testId}
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onClose();
      }}
    >
      <form onSubmit={submit}>
        <h2 id={titleId}>{title}</h2>
        <div class="dialog-body">{children}</div>
        <ErrorAlert message={error} />
        <div class="dialog-actions">
          {!noCancel && (
            <button type="button" onClick={onClose} disabled={busy}>
              Cancel
            </button>
          )}
          <button type="submit" class={danger ? 'danger' : 'primary'} disabled={busy || confirmDisabled} autofocus>
            {busy ? 'Working…' : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
