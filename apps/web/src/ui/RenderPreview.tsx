/**
 * Render preview: the profile's variables (every {{name}} in the system message, the messages
 * and the chosen template) as inputs, and the exact request body the node renders for them
 * (POST /api/profiles/:id/render) — what an app sends to an OpenAI-compatible chat endpoint.
 * It follows the saved profile: re-rendered when the node's version changes or an input does.
 * Missing variables are listed; variables no text uses are reported as warnings.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { templateVariables, type RenderResult } from '@profilesync/model';
import { ApiError, errorText } from '../lib/api.js';
import { useApp } from './context.js';

export interface RenderSource {
  /** the node's version of the profile (changes when anything is saved) */
  version: string;
  systemMessage: string;
  messages: { content: string }[];
  templates: Record<string, string>;
}

/** Variable names in order of first use: system message, messages, then the template. */
export function variablesOf(src: RenderSource, template: string): string[] {
  const out: string[] = [];
  const add = (text: string) => {
    for (const v of templateVariables(text)) if (!out.includes(v)) out.push(v);
  };
  add(src.systemMessage);
  for (const m of src.messages) add(m.content);
  if (template !== '' && src.templates[template] !== undefined) add(src.templates[template]);
  return out;
}

/** The variables a render lacks: details.missing, or the names in the message ("missing variables: a, b"). */
export function missingOf(err: unknown): string[] | undefined {
  if (!(err instanceof ApiError) || err.code !== 'PROFILE_RENDER_MISSING_VARIABLES') return undefined;
  if (Array.isArray(err.details?.missing)) return err.details.missing as string[];
  const m = /missing variables?: (.+)$/.exec(err.message);
  return m ? m[1]!.split(',').map((x) => x.trim()).filter((x) => x !== '') : [];
}

export function RenderPreview({ profileId, source }: { profileId: string; source: RenderSource }) {
  const { api } = useApp();
  const [picked, setTemplate] = useState('');
  const [values, setValues] = useState<Record<string, string>>({});
  const [result, setResult] = useState<RenderResult | undefined>();
  const [problem, setProblem] = useState<{ text: string; missing?: string[] } | undefined>();
  const [busy, setBusy] = useState(false);
  const seq = useRef(0);
  const templateNames = Object.keys(source.templates).sort();
  const template = templateNames.includes(picked) ? picked : ''; // a removed template: back to none
  const names = useMemo(() => variablesOf(source, template), [source, template]);

  // the node renders what it stores: ask again when the version, the template or a value changes
  const key = JSON.stringify([source.version, template, values]);
  useEffect(() => {
    const mine = ++seq.current;
    const t = setTimeout(async () => {
      setBusy(true);
      const variables: Record<string, string> = {};
      for (const [k, v] of Object.entries(values)) if (v !== '') variables[k] = v;
      try {
        const r = await api.render(profileId, { variables, ...(template !== '' ? { template } : {}) });
        if (mine !== seq.current) return;
        setResult(r);
        setProblem(undefined);
      } catch (err) {
        if (mine !== seq.current) return;
        const missing = missingOf(err);
        setResult(undefined);
        setProblem({ text: errorText(err), ...(missing ? { missing } : {}) });
      } finally {
        if (mine === seq.current) setBusy(false);
      }
    }, 250);
    return () => clearTimeout(t);
  }, [key]);

  const body = result ? JSON.stringify(result.request, null, 2) : '';
  return (
    <section class="render card" aria-labelledby="render-title" data-testid="render-preview">
      <h2 id="render-title">Render preview</h2>
      <p class="muted">The chat request the node renders from the saved profile with these values (POST /api/profiles/{profileId}/render).</p>
      <div class="form-grid">
        <label for="render-template">Append template</label>
        <select id="render-template" value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
          <option value="">(none)</option>
          {templateNames.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        {names.length === 0 && (
          <>
            <span>Variables</span>
            <span class="muted">This prompt has no {'{{variables}}'}.</span>
          </>
        )}
        {names.map((n) => [
          <label for={`var-${n}`} key={`l-${n}`}>
            <code>{`{{${n}}}`}</code>
          </label>,
          <input
            key={`i-${n}`}
            id={`var-${n}`}
            value={values[n] ?? ''}
            aria-invalid={problem?.missing?.includes(n) ? 'true' : undefined}
            onInput={(e) => setValues({ ...values, [n]: e.currentTarget.value })}
          />,
        ])}
      </div>
      <div role="status" aria-live="polite" class="render-status" data-testid="render-status" data-state={busy ? 'busy' : problem ? 'problem' : result ? 'ok' : 'idle'}>
        {problem?.missing ? (
          <p class="error">
            Fill in {problem.missing.map((m) => `{{${m}}}`).join(', ')} to render ({problem.text.split(':')[0]}).
          </p>
        ) : problem ? (
          <p class="error">{problem.text}</p>
        ) : result && result.warnings.length > 0 ? (
          <p class="note">
            {result.warnings
              .map((w) =>
                w.code === 'RENDER_OPEN_CONFLICTS'
                  ? `${w.conflicts} open conflict${w.conflicts === 1 ? '' : 's'}: this text is a merge nobody wrote yet; resolve ${w.conflicts === 1 ? 'it' : 'them'} first (${w.code})`
                  : w.code === 'RENDER_MALFORMED_VARIABLE'
                    ? `${w.variable} in ${w.path} is not a variable: it is sent as typed (${w.code})`
                    : `{{${w.variable}}} is not used (${w.code})`,
              )
              .join('; ')}
          </p>
        ) : null}
      </div>
      {result && (
        <>
          <h3 id="render-body-title">
            Request body <span class="muted">(version {result.version.slice(0, 12)}…)</span>
          </h3>
          <pre class="json-body" aria-labelledby="render-body-title" data-testid="render-body" tabIndex={0}>
            {body}
          </pre>
        </>
      )}
    </section>
  );
}
