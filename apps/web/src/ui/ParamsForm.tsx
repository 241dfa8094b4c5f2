/**
 * Name, model, tags and parameters (profile model v2), saved with one PATCH (JSON Merge Patch;
 * each changed parameter is sent whole). Known numeric parameters are typed number inputs;
 * every other parameter is a JSON field: what a person types is parsed as JSON and checked
 * with the node's own rules (@profilesync/model) as they type — the typed value is saved, or
 * the field says why not (never a silent string). The node's answer is shown next to the field
 * it names (details.path), or above the buttons.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, errorText } from '../lib/api.js';
import { ADDABLE_PARAMETERS, checkParameters, EXAMPLES, isNumberField, jsonText, NUMBER_FIELDS, parametersPatch, parseJsonField, parseNumberField } from '../lib/jsonparams.js';
import { useApp } from './context.js';
import { ErrorAlert } from './parts.js';
import { announce } from './status.js';

export interface EditableFields {
  name: string;
  modelId: string;
  parameters: Record<string, unknown>;
  tags: string[];
}

interface FormState {
  numbers: Record<string, string>;
  /** JSON text per parameter key, in the order shown */
  json: [string, string][];
}

function formOf(params: Record<string, unknown>): FormState {
  const numbers: Record<string, string> = {};
  for (const f of NUMBER_FIELDS) numbers[f.key] = typeof params[f.key] === 'number' ? String(params[f.key]) : '';
  const json: [string, string][] = [];
  for (const [k, v] of Object.entries(params)) if (!isNumberField(k) || typeof v !== 'number') json.push([k, jsonText(v)]);
  return { numbers, json };
}

/** The typed parameters the form holds, and why a field is not a value yet. */
function evaluate(form: FormState): { params: Record<string, unknown>; errors: Record<string, string> } {
  const params: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of NUMBER_FIELDS) {
    const r = parseNumberField(f, form.numbers[f.key] ?? '');
    if (r.error) errors[f.key] = r.error;
    else if (r.value !== undefined) params[f.key] = r.value;
  }
  for (const [k, text] of form.json) {
    const r = parseJsonField(text);
    if ('error' in r) errors[k] = `${k}: ${r.error}`;
    else params[k] = r.value;
  }
  // the node's rules over everything that parsed (types, ranges, unknown keys, JSON Schemas)
  for (const issue of checkParameters(params)) if (!errors[issue.key || '_form']) errors[issue.key || '_form'] = issue.text;
  return { params, errors };
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
const errId = (k: string) => `err-p-${k.replace(/[^A-Za-z0-9_-]/g, '_')}`;

export function ParamsForm({ profileId, current, readOnly }: { profileId: string; current: EditableFields; readOnly: boolean }) {
  const { api } = useApp();
  const [form, setForm] = useState<FormState>(() => formOf(current.parameters));
  const [basics, setBasics] = useState({ name: current.name, modelId: current.modelId, tags: tagsText(current.tags) });
  const [dirty, setDirty] = useState(false);
  const [nodeErrors, setNodeErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [newKey, setNewKey] = useState('');
  const [newKeyError, setNewKeyError] = useState<string | undefined>();
  /** "Save" was pressed while a field was wrong: the summary beside the buttons shows until no field is */
  const [refused, setRefused] = useState(false);

  // someone else's change shows up live unless this person is in the middle of editing
  const currentKey = JSON.stringify(current);
  useEffect(() => {
    if (dirty) return;
    setForm(formOf(current.parameters));
    setBasics({ name: current.name, modelId: current.modelId, tags: tagsText(current.tags) });
  }, [currentKey]);

  const checked = useMemo(() => evaluate(form), [form]);
  const basicErrors: Record<string, string> = {};
  if (basics.name.trim() === '') basicErrors.name = 'Name is required';
  if (basics.modelId.trim() === '') basicErrors.modelId = 'Model id is required';
  // what a person sees: their own field's problem first, then what the node said
  const errors: Record<string, string> = { ...nodeErrors, ...(dirty ? checked.errors : {}), ...basicErrors };

  // why the last "Save" did not save, in the form's flow beside the buttons (never over a
  // field); it goes as soon as the fields it counts are right (or the node's refusal is edited)
  const wrong = Object.keys({ ...(dirty ? checked.errors : {}), ...basicErrors }).length;
  const nodeRefusal = Object.entries(nodeErrors).find(([k]) => k !== '_form')?.[1]; // a form-wide one shows above already
  useEffect(() => {
    if (wrong === 0) setRefused(false);
  }, [wrong]);
  const notSaved = nodeRefusal !== undefined ? `Not saved: ${nodeRefusal}` : refused && wrong > 0 ? `Not saved: ${wrong} field(s) need attention.` : undefined;

  const touch = () => {
    setDirty(true);
    setNodeErrors({});
  };
  const setJson = (key: string, text: string) => {
    touch();
    setForm({ ...form, json: form.json.map(([k, t]) => [k, k === key ? text : t]) });
  };

  const addParameter = () => {
    const k = newKey.trim();
    setNewKeyError(undefined);
    if (k === '') return;
    if (isNumberField(k)) return setNewKeyError(`${k} has its own field above`);
    if (form.json.some(([x]) => x === k)) return setNewKeyError(`${k} is already in the form`);
    const unknown = checkParameters({ [k]: null }).find((i) => i.key === k && /unknown/.test(i.text));
    if (unknown) return setNewKeyError(`${unknown.text.replace(/^PROFILE_INVALID: /, '')} — a parameter the node does not know goes under "extra"`);
    touch();
    setForm({ ...form, json: [...form.json, [k, k === 'extra' ? '{}' : '']] });
    setNewKey('');
  };

  const save = async (e: Event) => {
    e.preventDefault();
    const { params, errors: errs } = checked;
    const all = { ...errs, ...basicErrors };
    if (Object.keys(all).length > 0) {
      setRefused(true);
      return;
    }
    setRefused(false);
    const patch: Record<string, unknown> = {};
    const pp = parametersPatch(current.parameters, params);
    if (Object.keys(pp).length > 0) patch.parameters = pp;
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
      setNodeErrors({});
      announce('Parameters saved.');
    } catch (err) {
      const text = errorText(err);
      const field = err instanceof ApiError ? err.field : undefined;
      let key = '_form';
      if (field?.startsWith('parameters.')) key = field.slice('parameters.'.length).split('.')[0] ?? '_form';
      else if (field === 'name' || field === 'modelId') key = field;
      else if (field?.startsWith('meta')) key = 'tags';
      setNodeErrors({ [key]: text });
    } finally {
      setBusy(false);
    }
  };

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
          {NUMBER_FIELDS.map((f) => [
            <label for={`p-${f.key}`} key={`l-${f.key}`}>
              {f.label} <span class="muted">({f.help})</span>
            </label>,
            <div key={`i-${f.key}`}>
              <input
                id={`p-${f.key}`}
                type="number"
                inputMode="decimal"
                min={f.min}
                max={f.max}
                step={f.step}
                value={form.numbers[f.key] ?? ''}
                onInput={(e) => {
                  touch();
                  const v = e.currentTarget.validity.badInput ? 'not a number' : e.currentTarget.value;
                  setForm({ ...form, numbers: { ...form.numbers, [f.key]: v } });
                }}
                {...input(f.key)}
              />
              <FieldError id={errId(f.key)} error={errors[f.key]} />
            </div>,
          ])}
        </div>
        <h3 id="json-params-title">Other parameters (JSON)</h3>
        <p class="muted" id="json-params-help">
          Each value is JSON: numbers, <code>true</code>/<code>false</code>, <code>"text in quotes"</code>, lists and objects (tools, response_format, logit_bias, stop, …). It is checked with the node's rules as you type;
          keys the node does not know go under <code>extra</code>.
        </p>
        {form.json.length === 0 && <p class="muted">None.</p>}
        <div class="form-grid" aria-labelledby="json-params-title">
          {form.json.map(([k, text]) => [
            <label for={`p-json-${k}`} key={`l-${k}`}>
              <code>{k}</code>
            </label>,
            <div key={`i-${k}`} class="json-field">
              <textarea
                id={`p-json-${k}`}
                class="json"
                rows={Math.min(14, Math.max(2, text.split('\n').length))}
                spellcheck={false}
                value={text}
                placeholder={EXAMPLES[k] ?? 'a JSON value'}
                onInput={(e) => setJson(k, e.currentTarget.value)}
                {...input(k)}
                aria-describedby={`json-params-help${errors[k] ? ` ${errId(k)}` : ''}`}
              />
              {!readOnly && (
                <button
                  type="button"
                  class="link danger"
                  aria-label={`Remove parameter ${k}`}
                  onClick={() => {
                    touch();
                    setForm({ ...form, json: form.json.filter(([x]) => x !== k) });
                  }}
                >
                  Remove
                </button>
              )}
              <FieldError id={errId(k)} error={errors[k]} />
            </div>,
          ])}
        </div>
        {!readOnly && (
          <div class="inline add-param">
            <label for="p-new-key">Add parameter</label>
            <input id="p-new-key" list="known-parameters" value={newKey} onInput={(e) => setNewKey(e.currentTarget.value)} aria-invalid={newKeyError ? 'true' : undefined} aria-describedby={newKeyError ? 'err-new' : 'p-new-key-help'} />
            <datalist id="known-parameters">
              {ADDABLE_PARAMETERS.map((k) => (
                <option key={k} value={k} />
              ))}
            </datalist>
            <button type="button" onClick={addParameter}>
              Add
            </button>
            <span id="p-new-key-help" class="muted">
              a known parameter (tools, response_format, stop, …) or <code>extra</code>
            </span>
            <FieldError id="err-new" error={newKeyError} />
          </div>
        )}
        <ErrorAlert message={errors._form} />
        {!readOnly && <ErrorAlert id="params-not-saved" message={notSaved} />}
        {!readOnly && (
          <div class="dialog-actions">
            <button
              type="button"
              disabled={!dirty}
              onClick={() => {
                setDirty(false);
                setRefused(false);
                setNodeErrors({});
                setForm(formOf(current.parameters));
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
