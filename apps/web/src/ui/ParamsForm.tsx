/**
 * Typed parameter inputs (number inputs with min/max/step, stop sequences one per line,
 * other parameters as text) plus name / model / tags, saved with one PATCH (JSON Merge
 * Patch). Client checks run first; the node's answer (code + message) is shown next to the
 * field it names (details.path), or above the buttons.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ParamValue } from '@profilesync/core';
import { ApiError, errorText } from '../lib/api.js';
import { formFromParams, NUMBER_PARAMS, PARAM_NAME_RE, paramsPatch, type ParamForm } from '../lib/params.js';
import { useApp } from './context.js';
import { ErrorAlert } from './parts.js';
import { announce } from './status.js';

export interface EditableFields {
  name: string;
  modelId: string;
  parameters: Record<string, ParamValue>;
  tags: string[];
}

function FieldError({ id, error }: { id: string; error: string | undefined }) {
  return error ? (
    <span class="field-error" id={id} role="alert">
      {error}
    </span>
  ) : null;
}

const tagsText = (t: string[]) => t.join(', ');
const parseTags = (s: string) => s.split(',').map((x) => x.trim()).filter((x) => x !== '');

export function ParamsForm({ profileId, current, readOnly }: { profileId: string; current: EditableFields; readOnly: boolean }) {
  const { api } = useApp();
  const [form, setForm] = useState<ParamForm>(() => formFromParams(current.parameters));
  const [basics, setBasics] = useState({ name: current.name, modelId: current.modelId, tags: tagsText(current.tags) });
  const [dirty, setDirty] = useState(false);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [newKey, setNewKey] = useState('');

  // someone else's change shows up live unless this person is in the middle of editing
  const currentKey = JSON.stringify(current);
  useEffect(() => {
    if (dirty) return;
    setForm(formFromParams(current.parameters));
    setBasics({ name: current.name, modelId: current.modelId, tags: tagsText(current.tags) });
  }, [currentKey]);

  const touch = () => {
    setDirty(true);
  };
  const setNumber = (k: string, v: string) => {
    touch();
    setForm({ ...form, numbers: { ...form.numbers, [k]: v } });
  };

  const save = async (e: Event) => {
    e.preventDefault();
    const { patch: params, errors: errs } = paramsPatch(form, current.parameters);
    if (basics.name.trim() === '') errs.name = 'Name is required';
    if (basics.modelId.trim() === '') errs.modelId = 'Model id is required';
    setErrors(errs);
    if (Object.keys(errs).length > 0) {
      announce(`Not saved: ${Object.keys(errs).length} field(s) need attention.`, 'error');
      return;
    }
    const patch: Record<string, unknown> = {};
    if (Object.keys(params).length > 0) patch.parameters = params;
    if (basics.name.trim() !== current.name) patch.name = basics.name.trim();
    if (basics.modelId.trim() !== current.modelId) patch.modelId = basics.modelId.trim();
    const tags = parseTags(basics.tags);
    if (JSON.stringify(tags) !== JSON.stringify(current.tags)) patch.meta = { tags: tags.length > 0 ? tags : null };
    if (Object.keys(patch).length === 0) {
      setDirty(false);
      announce('Nothing to save.');
      return;
    }
    setBusy(true);
    try {
      await api.patchProfile(profileId, patch);
      setDirty(false);
      announce('Parameters saved.');
    } catch (err) {
      const text = errorText(err);
      const field = err instanceof ApiError ? err.field : undefined;
      const key = field && (field.startsWith('parameters.') || field === 'name' || field === 'modelId' || field.startsWith('meta')) ? (field.startsWith('meta') ? 'tags' : field) : '_form';
      setErrors({ [key]: text });
      announce(`Not saved: ${text}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  const errId = (k: string) => `err-${k.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  const input = (k: string) => ({ 'aria-invalid': errors[k] ? ('true' as const) : undefined, 'aria-describedby': errors[k] ? errId(k) : undefined, disabled: readOnly });

  return (
    <form class="params" onSubmit={save} noValidate aria-labelledby="params-title" data-testid="params-form">
      <h2 id="params-title">Settings and parameters</h2>
      <fieldset disabled={readOnly || busy}>
        <legend class="sr-only">Profile settings</legend>
        <div class="form-grid">
          <label for="p-name">Name</label>
          <div>
            <input id="p-name" value={basics.name} onInput={(e) => (touch(), setBasics({ ...basics, name: e.currentTarget.value }))} {...input('name')} />
            <FieldError id={errId('name')} error={errors.name} />
          </div>
          <label for="p-model">Model id</label>
          <div>
            <input id="p-model" value={basics.modelId} onInput={(e) => (touch(), setBasics({ ...basics, modelId: e.currentTarget.value }))} {...input('modelId')} />
            <FieldError id={errId('modelId')} error={errors.modelId} />
          </div>
          <label for="p-tags">Tags (comma separated)</label>
          <div>
            <input id="p-tags" value={basics.tags} onInput={(e) => (touch(), setBasics({ ...basics, tags: e.currentTarget.value }))} {...input('tags')} />
            <FieldError id={errId('tags')} error={errors.tags} />
          </div>
          {NUMBER_PARAMS.map((s) => {
            const k = `parameters.${s.key}`;
            return [
              <label for={`p-${s.key}`} key={`l-${s.key}`}>
                {s.label} <span class="muted">({s.help})</span>
              </label>,
              <div key={`i-${s.key}`}>
                <input id={`p-${s.key}`} type="number" inputMode="decimal" min={s.min} max={s.max} step={s.step} value={form.numbers[s.key] ?? ''} onInput={(e) => setNumber(s.key, e.currentTarget.validity.badInput ? 'not a number' : e.currentTarget.value)} {...input(k)} />
                <FieldError id={errId(k)} error={errors[k]} />
              </div>,
            ];
          })}
          <label for="p-stop">
            Stop sequences <span class="muted">(one per line, at most 16)</span>
          </label>
          <div>
            <textarea id="p-stop" rows={3} value={form.stop} onInput={(e) => (touch(), setForm({ ...form, stop: e.currentTarget.value }))} {...input('parameters.stop')} />
            <FieldError id={errId('parameters.stop')} error={errors['parameters.stop']} />
          </div>
          {Object.entries(form.extra).map(([k, v]) => {
            const path = `parameters.${k}`;
            return [
              <label for={`p-x-${k}`} key={`l-${k}`}>
                {k} <span class="muted">(text, number, true/false or JSON list)</span>
              </label>,
              <div key={`i-${k}`} class="inline">
                <input id={`p-x-${k}`} value={v} onInput={(e) => (touch(), setForm({ ...form, extra: { ...form.extra, [k]: e.currentTarget.value } }))} {...input(path)} />
                <button
                  type="button"
                  class="link danger"
                  aria-label={`Remove parameter ${k}`}
                  onClick={() => {
                    touch();
                    const extra = { ...form.extra };
                    delete extra[k];
                    setForm({ ...form, extra });
                  }}
                >
                  Remove
                </button>
                <FieldError id={errId(path)} error={errors[path]} />
              </div>,
            ];
          })}
        </div>
        {!readOnly && (
          <div class="inline add-param">
            <label for="p-new-key">New parameter name</label>
            <input id="p-new-key" value={newKey} onInput={(e) => setNewKey(e.currentTarget.value)} aria-describedby="p-new-key-help" />
            <button
              type="button"
              onClick={() => {
                const k = newKey.trim();
                if (!PARAM_NAME_RE.test(k) || k in form.extra || k === 'stop' || NUMBER_PARAMS.some((s) => s.key === k)) {
                  setErrors({ ...errors, _new: `"${k}" is not a new valid parameter name` });
                  return;
                }
                touch();
                setForm({ ...form, extra: { ...form.extra, [k]: '' } });
                setNewKey('');
                setErrors({ ...errors, _new: '' });
              }}
            >
              Add parameter
            </button>
            <span id="p-new-key-help" class="muted">
              letters, digits, _ . - (starting with a letter or _)
            </span>
            <FieldError id="err-new" error={errors._new || undefined} />
          </div>
        )}
        <ErrorAlert message={errors._form} />
        {!readOnly && (
          <div class="dialog-actions">
            <button
              type="button"
              disabled={!dirty}
              onClick={() => {
                setDirty(false);
                setErrors({});
                setForm(formFromParams(current.parameters));
                setBasics({ name: current.name, modelId: current.modelId, tags: tagsText(current.tags) });
              }}
            >
              Discard changes
            </button>
            <button type="submit" class="primary" disabled={!dirty}>
              {busy ? 'Saving…' : 'Save parameters'}
            </button>
          </div>
        )}
      </fieldset>
    </form>
  );
}
