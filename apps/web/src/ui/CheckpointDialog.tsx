/** "Save version": closes the current run of changes into a named version now (POST /versions). */
import { useState } from 'preact/hooks';
import { ApiError } from '../lib/api.js';
import { useApp } from './context.js';
import { Dialog } from './Dialog.js';
import { announce } from './status.js';

export function CheckpointDialog({ id, onClose }: { id: string; onClose: () => void }) {
  const { api } = useApp();
  const [message, setMessage] = useState('');
  return (
    <Dialog
      title="Save a version"
      confirmLabel="Save version"
      testId="checkpoint-dialog"
      onClose={onClose}
      onConfirm={async () => {
        if (message.trim() === '') throw new ApiError(0, 'PROFILE_INVALID', 'say in a few words what this version is');
        const v = await api.checkpoint(id, message.trim());
        announce(v.created ? `Saved version @${v.seq}: ${v.message ?? message.trim()}` : `Nothing changed since version @${v.seq}; no new version.`);
      }}
    >
      <p>Everything changed since the last version becomes one version with this message (history, diff, revert and labels work on versions).</p>
      <label for="checkpoint-message">Message</label>
      <input id="checkpoint-message" value={message} maxLength={1000} onInput={(e) => setMessage(e.currentTarget.value)} placeholder="e.g. tone down the greeting" autofocus />
    </Dialog>
  );
}
