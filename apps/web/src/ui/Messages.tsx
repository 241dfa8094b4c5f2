/**
 * The chat messages of a profile (model v2): each message's role and its content, edited live
 * like the system message (a Y.Text per message, other people's cursors shown); add a message
 * (at the end or after another), move it up or down, change its role, delete it. These are
 * Yjs changes on the live doc, so they merge with other people's; the node validates them.
 * A schema-1 profile has no messages yet: its first message is added with a PATCH, which
 * migrates the profile on the node.
 */
import { useEffect, useState } from 'preact/hooks';
import * as Y from 'yjs';
import { errorText } from '../lib/api.js';
import type { CollabSession } from '../lib/collab.js';
import { addMessage, changesStructure, messagesMap, moveMessage, readMessages, removeMessage, ROLES, setRole, type LiveMessage, type Role } from '../lib/messages.js';
import { CollabText } from './CollabText.js';
import { useApp } from './context.js';
import { announce } from './status.js';

/** The ordered messages, re-read when the list itself changes (not on every keystroke inside one). */
function useMessages(session: CollabSession): LiveMessage[] {
  const [list, setList] = useState<LiveMessage[]>(() => readMessages(session.profile));
  useEffect(() => {
    const p = session.profile;
    let watched: Y.Map<unknown> | undefined;
    const onDeep = (events: Y.YEvent<Y.AbstractType<unknown>>[]) => {
      if (changesStructure(events)) setList(readMessages(p));
    };
    const watch = () => {
      const m = messagesMap(p) as Y.Map<unknown> | undefined;
      if (m === watched) return;
      watched?.unobserveDeep(onDeep);
      watched = m;
      m?.observeDeep(onDeep);
      setList(readMessages(p));
    };
    p.observe(watch); // the map appears when a schema-1 profile is migrated
    watch();
    return () => {
      p.unobserve(watch);
      watched?.unobserveDeep(onDeep);
    };
  }, [session]);
  return list;
}

function RoleSelect({ id, value, disabled, onChange }: { id: string; value: string; disabled: boolean; onChange: (r: Role) => void }) {
  return (
    <select id={id} value={value} disabled={disabled} onChange={(e) => onChange(e.currentTarget.value as Role)}>
      {ROLES.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
      {!ROLES.includes(value as Role) && <option value={value}>{value}</option>}
    </select>
  );
}

export function Messages({ session, profileId, readOnly }: { session: CollabSession; profileId: string; readOnly: boolean }) {
  const { api } = useApp();
  const list = useMessages(session);
  const [newRole, setNewRole] = useState<Role>('user');
  const [error, setError] = useState<string | undefined>();
  const migrated = messagesMap(session.profile) !== undefined;
  // the message just added here: its editor takes the focus once rendered (so a keyboard user types into it)
  const [focusId, setFocusId] = useState<string | undefined>();
  useEffect(() => {
    if (focusId === undefined) return undefined;
    let frame = 0;
    let tries = 0;
    const tryFocus = () => {
      const el = document.querySelector<HTMLElement>(`[data-message="${CSS.escape(focusId)}"] .cm-content`);
      if (el) {
        el.focus();
        setFocusId(undefined);
      } else if (++tries < 30) frame = requestAnimationFrame(tryFocus); // its editor mounts in a child's effect
    };
    tryFocus();
    return () => cancelAnimationFrame(frame);
  }, [list, focusId]);

  const add = async () => {
    setError(undefined);
    try {
      if (migrated) {
        setFocusId(addMessage(session.profile, newRole));
      } else {
        // a schema-1 profile: the node migrates it on this write, then the messages map arrives live
        await api.patchProfile(profileId, { messages: [{ role: newRole, content: '' }] });
      }
      announce(`Added ${/^[aeiou]/.test(newRole) ? 'an' : 'a'} ${newRole} message.`);
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <section class="messages" aria-labelledby="messages-title" data-testid="messages">
      <h2 id="messages-title">Messages</h2>
      <p class="muted">
        Sent after the system message, in this order. <code>{'{{name}}'}</code> marks a variable (filled by render); <code>{'\\{{'}</code> is a literal <code>{'{{'}</code>.
      </p>
      {list.length === 0 && <p class="muted">No messages.</p>}
      <ol class="message-list">
        {list.map((m, i) => {
          const label = `lbl-msg-${m.id}`;
          return (
            <li key={m.id} class="message" data-message={m.id} data-role={m.role}>
              <div class="inline message-head">
                <h3 id={label}>
                  Message {i + 1} <span class="muted">({m.role})</span>
                </h3>
                <label for={`role-${m.id}`} class="sr-only">
                  Role of message {i + 1}
                </label>
                <RoleSelect id={`role-${m.id}`} value={m.role} disabled={readOnly} onChange={(r) => setRole(session.profile, m.id, r)} />
                {!readOnly && (
                  <>
                    <button type="button" class="link" disabled={i === 0} onClick={() => moveMessage(session.profile, m.id, -1)} aria-label={`Move message ${i + 1} up`}>
                      ↑ Up
                    </button>
                    <button type="button" class="link" disabled={i === list.length - 1} onClick={() => moveMessage(session.profile, m.id, 1)} aria-label={`Move message ${i + 1} down`}>
                      ↓ Down
                    </button>
                    <button
                      type="button"
                      class="link danger"
                      onClick={() => {
                        removeMessage(session.profile, m.id);
                        announce(`Deleted message ${i + 1}. History keeps it; revert to bring it back.`);
                      }}
                      aria-label={`Delete message ${i + 1}`}
                    >
                      Delete
                    </button>
                  </>
                )}
              </div>
              <CollabText ytext={m.content} awareness={session.awareness} readOnly={readOnly} labelId={label} testId={`text-message-${i}`} minLines={2} />
            </li>
          );
        })}
      </ol>
      {!readOnly && (
        <form
          class="inline add-message"
          onSubmit={(e) => {
            e.preventDefault();
            void add();
          }}
        >
          <label for="new-message-role">New message role</label>
          <RoleSelect id="new-message-role" value={newRole} disabled={false} onChange={setNewRole} />
          <button type="submit">Add message</button>
          {error && (
            <span class="field-error" role="alert">
              {error}
            </span>
          )}
        </form>
      )}
    </section>
  );
}
