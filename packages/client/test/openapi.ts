/**
 * Test support: checks real HTTP exchanges against the node's OpenAPI 3.1 document with Ajv
 * (JSON Schema 2020-12): the operation exists for the method and path, path/query/header
 * parameters match their schemas (no undeclared query parameters), the request body matches,
 * the status is documented, and the JSON body (or each SSE event's data) matches the schema of
 * that status. A recording fetch collects the exchanges (SSE bodies are teed and parsed).
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createParser } from 'eventsource-parser';

type Json = Record<string, any>;

export interface Exchange {
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody: string | undefined;
  status: number;
  contentType: string;
  responseBody: string | undefined;
  /** data of SSE events, by event name */
  events: { event: string; data: string }[];
  /** a request that breaks the document on purpose: only the answer is checked */
  invalid?: boolean;
}

function headersOf(h: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(h).forEach((v, k) => (out[k] = v));
  return out;
}

/** A fetch that records every exchange into `log` (the caller sees the same response). */
export function recordingFetch(log: Exchange[]): (input: string, init?: RequestInit) => Promise<Response> {
  return async (input, init = {}) => {
    const res = await fetch(input, init);
    const ex: Exchange = {
      method: (init.method ?? 'GET').toUpperCase(),
      url: input,
      requestHeaders: headersOf(init.headers),
      requestBody: typeof init.body === 'string' ? init.body : undefined,
      status: res.status,
      contentType: res.headers.get('content-type') ?? '',
      responseBody: undefined,
      events: [],
    };
    log.push(ex);
    if (ex.contentType.startsWith('text/event-stream') && res.body) {
      const [mine, theirs] = res.body.tee();
      void (async () => {
        const parser = createParser({ onEvent: (e) => ex.events.push({ event: e.event ?? 'message', data: e.data }) });
        const reader = mine.getReader();
        const dec = new TextDecoder();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            parser.feed(dec.decode(value, { stream: true }));
          }
        } catch {
          /* the stream was aborted: what arrived is recorded */
        }
      })();
      return new Response(theirs, { status: res.status, statusText: res.statusText, headers: res.headers });
    }
    ex.responseBody = await res.clone().text();
    return res;
  };
}

// ajv-formats is CommonJS: its default export is the plugin, or wraps it
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

/** $refs of the document, made absolute so a sub-schema compiles on its own. */
function absolute(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(absolute);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `openapi-doc${v}` : absolute(v);
  return out;
}

export class OpenApiChecker {
  readonly #doc: Json;
  readonly #ajv: Ajv2020;
  readonly #params: Ajv2020;
  readonly #cache = new Map<unknown, ValidateFunction>();
  readonly #paramCache = new Map<unknown, ValidateFunction>();
  readonly #routes: { re: RegExp; template: string; names: string[] }[];
  /** operations seen (operationId) */
  readonly seen = new Set<string>();

  constructor(doc: Json) {
    this.#doc = doc;
    const mk = (coerce: boolean) => {
      const ajv = new Ajv2020({ strict: false, allErrors: true, coerceTypes: coerce ? 'array' : false });
      addFormats(ajv);
      ajv.addSchema({ $id: 'openapi-doc', components: absolute(doc.components) });
      return ajv;
    };
    this.#ajv = mk(false);
    this.#params = mk(true);
    this.#routes = Object.keys(doc.paths).map((template) => {
      const names: string[] = [];
      const re = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{([^}]+)\\?\}|\{([^}]+)\}/g, (_m, a, b) => (names.push(a ?? b), '([^/]+)'))}$`);
      return { re, template, names };
    });
  }

  #validator(schema: unknown, params = false): ValidateFunction {
    const cache = params ? this.#paramCache : this.#cache;
    let v = cache.get(schema);
    if (!v) {
      v = (params ? this.#params : this.#ajv).compile(absolute(schema) as Json);
      cache.set(schema, v);
    }
    return v;
  }

  #check(schema: unknown, value: unknown, where: string, errors: string[], params = false): void {
    const v = this.#validator(schema, params);
    if (!v(value)) errors.push(`${where}: ${this.#ajv.errorsText(v.errors)} (value ${JSON.stringify(value)?.slice(0, 300)})`);
  }

  /** Problems with a value that should match a component schema ([] when it does). */
  checkComponent(name: string, value: unknown): string[] {
    const errors: string[] = [];
    this.#check({ $ref: `#/components/schemas/${name}` }, value, name, errors);
    return errors;
  }

  /** Problems with one exchange ([] when it conforms). */
  check(ex: Exchange): string[] {
    const errors: string[] = [];
    const url = new URL(ex.url);
    const route = this.#routes.find((r) => r.re.test(url.pathname));
    const label = `${ex.method} ${url.pathname}${url.search} -> ${ex.status}`;
    if (!route) return [`${label}: no path in the document`];
    const op = this.#doc.paths[route.template][ex.method.toLowerCase()];
    if (!op) return [`${label}: ${ex.method} is not documented for ${route.template}`];
    if (typeof op.operationId !== 'string') errors.push(`${label}: operation without operationId`);
    else this.seen.add(op.operationId);
    const params: Json[] = op.parameters ?? [];
    const m = route.re.exec(url.pathname)!;
    route.names.forEach((name, i) => {
      const p = params.find((x) => x.in === 'path' && x.name === name);
      if (!p) errors.push(`${label}: path parameter ${name} undocumented`);
      else this.#check(p.schema, decodeURIComponent(m[i + 1]!), `${label} path ${name}`, errors, true);
    });
    for (const [k, v] of ex.invalid ? [] : url.searchParams) {
      const p = params.find((x) => x.in === 'query' && x.name === k);
      if (!p) errors.push(`${label}: query parameter ${k} undocumented`);
      else this.#check(p.schema, v, `${label} query ${k}`, errors, true);
    }
    for (const p of params.filter((x) => x.in === 'query' && x.required)) if (!url.searchParams.has(p.name)) errors.push(`${label}: required query ${p.name} missing`);
    for (const p of params.filter((x) => x.in === 'header')) {
      const v = ex.requestHeaders[p.name.toLowerCase()];
      if (v !== undefined) this.#check(p.schema, v, `${label} header ${p.name}`, errors, true);
    }
    if (ex.requestBody !== undefined && !ex.invalid) {
      const type = (ex.requestHeaders['content-type'] ?? '').split(';')[0]!;
      const media = op.requestBody?.content?.[type];
      if (!media) errors.push(`${label}: request body of type ${type} undocumented`);
      else this.#check(media.schema, JSON.parse(ex.requestBody), `${label} request body`, errors);
    }
    const resp = op.responses[String(ex.status)] ?? op.responses.default;
    if (!resp) return [...errors, `${label}: status ${ex.status} undocumented`];
    const type = ex.contentType.split(';')[0]!;
    if (ex.status === 204 || ex.status === 304) return errors;
    const media = resp.content?.[type];
    if (!media) return [...errors, `${label}: response type ${type} undocumented for ${ex.status}`];
    if (type === 'application/json') this.#check(media.schema, JSON.parse(ex.responseBody ?? 'null'), `${label} response`, errors);
    if (type === 'text/event-stream') {
      for (const e of ex.events.filter((x) => x.event === 'change')) this.#check(media.itemSchema, JSON.parse(e.data), `${label} event change`, errors);
    }
    return errors;
  }
}
