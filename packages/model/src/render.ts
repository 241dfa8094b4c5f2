/**
 * Render (DESIGN §6 second round): fills `{{name}}` variables into the profile's chat prompt and
 * returns the exact body an OpenAI-compatible chat call takes. Pure; shared by the node and the SDK.
 *
 * Syntax. A variable is `{{`, optional spaces, a name (`[A-Za-z_][A-Za-z0-9_.-]*`), optional
 * spaces, `}}`. `\{{` is a literal `{{` (the backslash is dropped); any other backslash is kept.
 * A `{{` that does not start a variable is literal text (so `{{{x}}}` renders `{`, x, `}`).
 * Messages: a non-empty systemMessage first (role system), then `messages` in order, then the
 * named template (if asked for) as a user message. Variables a rendered text uses but the caller
 * did not give: PROFILE_RENDER_MISSING_VARIABLES with details.missing (names, in order of first
 * use). Text that looks like a variable but is none (`{{ first name }}`, `{{#if x}}`, `{{name}`):
 * warnings RENDER_MALFORMED_VARIABLE (it is sent as typed). Variables given but unused: warnings
 * RENDER_UNUSED_VARIABLE. Values: strings; numbers and booleans are written with String().
 */
import { ModelErrorCode, modelError } from './errors.js';
import type { JsonObject, Message, ProfileParameters, RenderedMessage, RenderResult, RenderVariables, RenderWarning, Role } from './types.js';

const NAME_START = /[A-Za-z_]/;
const VAR = /^\{\{ *([A-Za-z_][A-Za-z0-9_.-]*) *\}\}/;
/**
 * A `{{` that opens no variable but was meant to: `{{` ... `}}` with no brace or newline inside
 * (`{{ first name }}`, `{{1x}}`, `{{#if x}}`, `{{ x | upper }}`), or a name closed by one brace
 * (`{{name}`). `{{{x}}}` (a brace around a variable) and `\{{` (a literal) are not.
 */
const MALFORMED = /^\{\{(?:[^{}\n]{0,64}\}\}| *[A-Za-z_][A-Za-z0-9_.-]* *\}(?!\}))/;

/** A text split into literal parts (even indexes) and variable names (odd indexes). */
type Compiled = string | string[];

/** Compiles a text; a text without `{{` stays the string itself (no allocation). */
export function compileTemplate(text: string): Compiled {
  return compileText(text);
}

/** compileTemplate, also pushing each malformed variable's text (MALFORMED) to `malformed`. */
function compileText(text: string, malformed?: string[]): Compiled {
  let j = text.indexOf('{{');
  if (j < 0) return text;
  const parts: string[] = [];
  let lit = '';
  let i = 0;
  while (j >= 0) {
    if (j > 0 && text.charCodeAt(j - 1) === 92 /* \ */) {
      lit += text.slice(i, j - 1) + '{{';
      i = j + 2;
    } else {
      const m = NAME_START.test(text.charAt(j + 2)) || text.charCodeAt(j + 2) === 32 ? VAR.exec(text.slice(j, j + 2 + 256)) : null;
      if (m === null) {
        if (malformed !== undefined && text.charCodeAt(j + 2) !== 123 /* { */) {
          const bad = MALFORMED.exec(text.slice(j, j + 2 + 66));
          if (bad !== null) malformed.push(bad[0]);
        }
        lit += text.slice(i, j + 1);
        i = j + 1;
      } else {
        parts.push(lit + text.slice(i, j), m[1]!);
        lit = '';
        i = j + m[0].length;
      }
    }
    j = text.indexOf('{{', i);
  }
  lit += text.slice(i);
  if (parts.length === 0) return lit;
  parts.push(lit);
  return parts;
}

/** The variable names a text uses, in order of first use. */
export function templateVariables(text: string): string[] {
  const c = compileTemplate(text);
  if (typeof c === 'string') return [];
  const out: string[] = [];
  for (let i = 1; i < c.length; i += 2) if (!out.includes(c[i]!)) out.push(c[i]!);
  return out;
}

/** A compiled text and the warnings it gives on every render (malformed variables). */
interface CompiledText {
  text: Compiled;
  warnings: RenderWarning[];
}

interface CompiledProfile {
  system: CompiledText | null;
  messages: { role: Role; text: CompiledText }[];
  templates: Map<string, CompiledText>;
}

const NO_WARNINGS: RenderWarning[] = [];

function compileAt(text: string, path: string): CompiledText {
  const bad: string[] = [];
  const compiled = compileText(text, bad);
  return { text: compiled, warnings: bad.length === 0 ? NO_WARNINGS : bad.map((variable) => ({ code: 'RENDER_MALFORMED_VARIABLE', variable, path })) };
}

/** Compiled prompts per frozen view: rendering the same (hot, frozen) view again skips parsing. */
const COMPILED = new WeakMap<object, CompiledProfile>();

export interface RenderableProfile {
  id: string;
  version: string;
  modelId: string;
  systemMessage: string;
  messages: readonly Message[];
  templates: Readonly<Record<string, string>>;
  parameters: ProfileParameters;
}

function compileProfile(p: RenderableProfile): CompiledProfile {
  let c = COMPILED.get(p);
  if (c !== undefined) return c;
  c = {
    system: p.systemMessage.length > 0 ? compileAt(p.systemMessage, 'systemMessage') : null,
    messages: p.messages.map((m) => ({ role: m.role, text: compileAt(m.content, `messages.${m.id}.content`) })),
    templates: new Map(),
  };
  if (Object.isFrozen(p)) COMPILED.set(p, c);
  return c;
}

function valueOf(variables: RenderVariables, name: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(variables, name)) return undefined;
  const v = variables[name];
  return typeof v === 'string' ? v : String(v);
}

function checkVariables(variables: unknown): RenderVariables {
  if (variables === undefined || variables === null) return {};
  if (typeof variables !== 'object' || Array.isArray(variables)) {
    throw modelError(ModelErrorCode.RENDER_INVALID, 'variables must be an object of NAME: VALUE', { path: 'variables' });
  }
  for (const [k, v] of Object.entries(variables)) {
    if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) {
      throw modelError(ModelErrorCode.RENDER_INVALID, `variable '${k.slice(0, 64)}' must be a string, a finite number or a boolean`, { path: `variables.${k.slice(0, 64)}`, variable: k.slice(0, 64) });
    }
  }
  return variables as RenderVariables;
}

/**
 * Renders the profile's prompt with `variables`; `template` appends that named template as a
 * user message. `openConflicts`: the open conflicts of the state rendered, when the caller
 * renders the current state (a warning RENDER_OPEN_CONFLICTS comes first). Throws PROFILE_RENDER_MISSING_VARIABLES, PROFILE_RENDER_INVALID or
 * PROFILE_TEMPLATE_NOT_FOUND.
 */
export function render(profile: RenderableProfile, variables?: RenderVariables, opts: { template?: string; openConflicts?: number } = {}): RenderResult {
  const vars = checkVariables(variables);
  const c = compileProfile(profile);
  let template: CompiledText | undefined;
  if (opts.template !== undefined) {
    const name = opts.template;
    template = c.templates.get(name);
    if (template === undefined) {
      if (typeof name !== 'string' || !Object.prototype.hasOwnProperty.call(profile.templates, name)) {
        throw modelError(ModelErrorCode.TEMPLATE_NOT_FOUND, `template '${String(name).slice(0, 64)}' is not defined on ${profile.id}`, { id: profile.id, template: String(name).slice(0, 64) });
      }
      template = compileAt(profile.templates[name]!, `templates.${name}`);
      c.templates.set(name, template);
    }
  }
  const used = new Set<string>();
  let missing: string[] | undefined;
  const fill = (t: Compiled): string => {
    if (typeof t === 'string') return t;
    let out = t[0]!;
    for (let i = 1; i < t.length; i += 2) {
      const name = t[i]!;
      // a name seen before was already found missing or not (a Set, not missing.includes: a
      // profile may hold ~100,000 distinct variables, and a scan per name took seconds)
      const seen = used.has(name);
      used.add(name);
      const v = valueOf(vars, name);
      if (v === undefined) {
        if (missing === undefined) missing = [name];
        else if (!seen) missing.push(name);
      } else out += v;
      out += t[i + 1]!;
    }
    return out;
  };
  const messages: RenderedMessage[] = [];
  const warnings: RenderWarning[] = [];
  // the caller renders a state whose merge recorded conflicts nobody resolved yet: its text may be a mix nobody wrote
  if (opts.openConflicts !== undefined && opts.openConflicts > 0) warnings.push({ code: 'RENDER_OPEN_CONFLICTS', conflicts: opts.openConflicts });
  if (c.system !== null) {
    messages.push({ role: 'system', content: fill(c.system.text) });
    if (c.system.warnings.length > 0) warnings.push(...c.system.warnings);
  }
  for (const m of c.messages) {
    messages.push({ role: m.role, content: fill(m.text.text) });
    if (m.text.warnings.length > 0) warnings.push(...m.text.warnings);
  }
  if (template !== undefined) {
    messages.push({ role: 'user', content: fill(template.text) });
    if (template.warnings.length > 0) warnings.push(...template.warnings);
  }
  if (missing !== undefined) {
    throw modelError(ModelErrorCode.RENDER_MISSING_VARIABLES, `missing variables: ${missing.join(', ')}`, { id: profile.id, missing });
  }
  for (const k in vars) {
    if (Object.prototype.hasOwnProperty.call(vars, k) && !used.has(k)) warnings.push({ code: 'RENDER_UNUSED_VARIABLE', variable: k });
  }
  return {
    id: profile.id,
    version: profile.version,
    modelId: profile.modelId,
    messages,
    parameters: profile.parameters,
    warnings,
    request: chatRequest(profile.modelId, messages, profile.parameters),
  };
}

/**
 * The body of an OpenAI-compatible chat completions call: `model`, `messages`, every known
 * parameter, then the keys of `parameters.extra` at the top level (provider-specific options).
 */
export function chatRequest(modelId: string, messages: readonly RenderedMessage[], parameters: ProfileParameters): JsonObject {
  const body: JsonObject = { model: modelId, messages: messages as unknown as JsonObject[] };
  for (const k in parameters) {
    if (k === 'extra') continue;
    const v = parameters[k];
    if (v !== undefined) body[k] = v as JsonObject;
  }
  const extra = parameters.extra;
  if (extra !== undefined) for (const k in extra) body[k] = extra[k]!;
  return body;
}
