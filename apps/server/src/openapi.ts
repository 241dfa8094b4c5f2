/**
 * The OpenAPI 3.1 document served at /openapi.json. Hand-written from DESIGN §6; a test
 * checks that every route the server registers appears here (and nothing else).
 */
type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const str: Json = { type: 'string' };
const jsonBody = (schema: Json, required = true): Json => ({ required, content: { 'application/json': { schema } } });
const ok = (schema: Json, description = 'OK'): Json => ({ description, content: { 'application/json': { schema } } });
const errorRef = (description: string): Json => ({ description, content: { 'application/json': { schema: ref('Error') } } });
const pathParam = (name: string, description: string, pattern?: string): Json => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: pattern ? { type: 'string', pattern } : str,
});
const query = (name: string, description: string, schema: Json = str, required = false): Json => ({ name, in: 'query', required, description, schema });

const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
const ID = pathParam('id', 'profile id', ID_PATTERN);
const HOOK_ID = pathParam('id', 'webhook id', '^[cw][0-9a-f]{15}$');
const LABEL = pathParam('label', 'label name', '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$');
const CONFLICT = pathParam('cid', 'conflict id (16 characters; an id of another form is CONFLICT_NOT_FOUND)');
const common = {
  '400': errorRef('REQUEST_INVALID / REQUEST_MALFORMED_JSON: the request shape is wrong (the message names the field)'),
  '401': errorRef('AUTH_UNAUTHORIZED: missing, invalid or revoked token'),
  '403': errorRef('AUTH_FORBIDDEN: the token\'s role or grants do not allow this'),
  '431': errorRef('REQUEST_HEADERS_TOO_LARGE: the request line and headers are over the node\'s header limit (message and details.limitBytes give it in bytes); the connection is closed'),
};
const withBody = { ...common, '413': errorRef('REQUEST_TOO_LARGE: the body is over the route\'s limit (message and details.limitBytes give it in bytes)'), '415': errorRef('REQUEST_UNSUPPORTED_MEDIA_TYPE') };
const notFound = { '404': errorRef('PROFILE_NOT_FOUND (or LABEL_NOT_FOUND / PROFILE_VERSION_UNAVAILABLE)') };
/** Routes that refuse a tombstoned profile (reads of a past version or a label, history, diff, revert and the log still work). */
const tombstone = { '410': errorRef('PROFILE_DELETED: the profile is deleted (a tombstone; revert it to a version to bring it back)') };

/**
 * Every other status of every operation: the error body. The node-wide failures any route can
 * answer (503 SERVER_STARTING, STORE_CLOSED, PROFILE_DAMAGED, LOG_WRITE_FAILED, ...; 500
 * INTERNAL) are not listed per operation.
 */
const otherwise = errorRef('any other status: the error body, e.g. 503 SERVER_STARTING / STORE_CLOSED / PROFILE_DAMAGED / LOG_WRITE_FAILED (retry later), 500 INTERNAL (codes in docs/errors.md)');

/** One operation. Every operation has an operationId (clients and code generators name calls by it). */
function op(operationId: string, summary: string, responses: Json, extra: Json = {}, secured = true): Json {
  return { operationId, summary, ...(secured ? {} : { security: [] }), ...extra, responses: { ...responses, default: otherwise } };
}

/** Any JSON value (a typed "anything": objects and arrays of JSON values). */
const jsonValue: Json = { description: 'any JSON value' };
const jsonObject: Json = { type: 'object', additionalProperties: jsonValue };
const int: Json = { type: 'integer' };
const bool: Json = { type: 'boolean' };
const num: Json = { type: 'number' };
const strArray: Json = { type: 'array', items: str };
const nullableStr: Json = { type: ['string', 'null'] };
const isoTime: Json = { type: 'string', format: 'date-time' };
const role: Json = { enum: ['admin', 'editor', 'viewer'] };
const cleared: Json = { type: 'object', required: ['cleared'], additionalProperties: false, properties: { cleared: strArray } };

const tool: Json = {
  type: 'object',
  required: ['type'],
  properties: {
    type: { enum: ['function', 'custom'] },
    function: { type: 'object', required: ['name'], properties: { name: str, description: str, parameters: { ...jsonObject, description: 'JSON Schema (draft 2020-12) of the arguments' }, strict: { type: ['boolean', 'null'] } } },
    custom: { type: 'object', required: ['name'], properties: { name: str, description: str, format: jsonObject } },
  },
};

/** Known OpenAI-compatible parameters keep their types; anything else lives under `extra` (profile model v2). */
const parameters: Json = {
  type: 'object',
  additionalProperties: false,
  properties: {
    temperature: { type: 'number', minimum: 0, maximum: 2 },
    top_p: { type: 'number', minimum: 0, maximum: 1 },
    max_tokens: { type: 'integer', minimum: 1 },
    max_completion_tokens: { type: 'integer', minimum: 1 },
    stop: { oneOf: [str, strArray] },
    seed: int,
    presence_penalty: { type: 'number', minimum: -2, maximum: 2 },
    frequency_penalty: { type: 'number', minimum: -2, maximum: 2 },
    logit_bias: { type: 'object', additionalProperties: num },
    response_format: jsonObject,
    tools: { type: 'array', items: tool },
    tool_choice: { oneOf: [str, jsonObject] },
    parallel_tool_calls: bool,
    reasoning_effort: str,
    verbosity: str,
    n: { type: 'integer', minimum: 1 },
    user: str,
    logprobs: bool,
    top_logprobs: int,
    modalities: strArray,
    audio: jsonObject,
    service_tier: str,
    store: bool,
    metadata: { type: 'object', additionalProperties: str },
    prediction: jsonObject,
    prompt_cache_key: str,
    safety_identifier: str,
    web_search_options: jsonObject,
    extra: { ...jsonObject, description: 'keys the node does not know (model- or provider-specific), any JSON; render puts them at the top level of the chat request' },
  },
};

const metaValue: Json = { oneOf: [{ type: ['string', 'number', 'boolean', 'null'] }, strArray] };
const message: Json = { type: 'object', required: ['role', 'content'], properties: { id: str, role: { enum: ['system', 'developer', 'user', 'assistant'] }, content: str } };

const profileFields: Json = {
  modelId: str,
  name: str,
  description: str,
  systemMessage: str,
  messages: { type: 'array', items: message, description: 'the chat prompt (profile model v2)' },
  templates: { type: 'object', additionalProperties: str },
  parameters,
  meta: { type: 'object', additionalProperties: metaValue },
};

const schemas: Json = {
  ReadyStatus: {
    type: 'object',
    required: ['ready'],
    properties: {
      ready: { type: 'boolean' },
      degraded: { type: 'boolean', enum: [true], description: 'present (true) when the node is ready but degraded: it serves, and reasons lists what is not whole (e.g. STORAGE_DAMAGED: damaged profiles answer PROFILE_DAMAGED)' },
      reasons: {
        type: 'array',
        description: 'present when not ready (one per check that is not ready) or degraded (one per degradation, with degraded: true)',
        items: { type: 'object', required: ['check', 'code', 'message'], properties: { check: { ...str, description: 'the check (store, shutdown, bus, storage, ...)' }, code: { ...str, description: 'stable, e.g. STORE_OPENING, STORE_CLOSED, SERVER_SHUTTING_DOWN, STORAGE_DAMAGED' }, message: str, degraded: { type: 'boolean', enum: [true], description: 'this reason does not make the node unready' } } },
      },
    },
  },
  Error: {
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          code: { ...str, description: 'stable code (docs/errors.md)' },
          message: str,
          details: {
            type: 'object',
            description: 'small public facts: field and in (REQUEST_INVALID), path and rule (PROFILE_INVALID: the first problem; issues: every problem of the write, at most 50), id, label, version, limit, limitBytes (REQUEST_TOO_LARGE, REQUEST_HEADERS_TOO_LARGE), missing (render), ...',
            properties: {
              issues: {
                type: 'array',
                maxItems: 50,
                description: 'PROFILE_INVALID / PROFILE_TOO_LARGE: every problem the validator found in the write (the first one is path and rule)',
                items: { type: 'object', required: ['path', 'rule', 'message'], additionalProperties: false, properties: { path: str, rule: str, message: str, suggestion: str } },
              },
            },
            additionalProperties: { oneOf: [{ type: ['string', 'number', 'boolean'] }, strArray] },
          },
        },
      },
    },
  },
  ProfileView: {
    type: 'object',
    required: ['id', 'modelId', 'name', 'description', 'systemMessage', 'templates', 'parameters', 'labels', 'meta', 'deleted', 'version', 'updatedAt', 'updatedBy'],
    additionalProperties: false,
    properties: {
      id: str,
      ...profileFields,
      labels: { type: 'object', additionalProperties: str, description: 'label -> v2 ref of a version (legacy v1. refs stay readable)' },
      deleted: bool,
      version: { type: 'string', description: 'v2 ref of this content state: v2.<profile>.<state hash>, 34 characters' },
      updatedAt: { type: 'string', description: 'ISO-8601 time of the last change (empty for a past version the node cannot date)' },
      updatedBy: str,
      conflicts: { type: 'integer', minimum: 0, description: 'open conflict records (profile model v2)' },
      schema: { enum: [1, 2], description: 'the stored schema: 2, or 1 for a profile not migrated yet (read up-converted; migrated on its first write)' },
    },
  },
  ProfileInput: { type: 'object', required: ['modelId', 'name'], additionalProperties: false, properties: { id: str, ...profileFields } },
  MergePatch: {
    type: 'object',
    description: 'JSON Merge Patch (RFC 7396) over the view; null removes a key; text fields merge as character diffs; computed fields (id, version, updatedAt, updatedBy, deleted, labels) are read-only',
    additionalProperties: false,
    properties: {
      modelId: str,
      name: str,
      description: str,
      systemMessage: str,
      messages: { type: ['array', 'null'], items: message },
      templates: { type: ['object', 'null'], additionalProperties: { type: ['string', 'null'] } },
      parameters: { type: ['object', 'null'], additionalProperties: jsonValue, description: 'merge patch over the parameters (null removes a key)' },
      meta: { type: ['object', 'null'], additionalProperties: jsonValue },
    },
  },
  ProfileSummary: {
    type: 'object',
    required: ['id', 'modelId', 'name', 'version', 'updatedAt', 'labels', 'tags', 'deleted', 'conflicts'],
    properties: { id: str, modelId: str, name: str, version: str, updatedAt: str, labels: { type: 'array', items: str, description: 'label names' }, tags: strArray, deleted: bool, conflicts: { type: 'integer', minimum: 0, description: 'open conflict records' } },
  },
  ProfilePage: {
    type: 'object',
    required: ['profiles', 'total', 'nextCursor'],
    properties: {
      profiles: {
        type: 'array',
        items: { allOf: [ref('ProfileSummary'), { type: 'object', properties: { match: { type: 'object', description: 'with ?q=: where the first word matched', properties: { field: { type: 'string', description: 'name, id, modelId, description, systemMessage, templates.NAME or messages.N' }, snippet: str } } } }] },
      },
      total: { type: 'integer', description: 'how many profiles match (all pages)' },
      nextCursor: { type: ['string', 'null'], description: 'pass as ?cursor= for the next page; null on the last page' },
      facets: { type: 'object', description: 'with ?facets=true', properties: { models: { type: 'array', items: str }, labels: { type: 'array', items: str }, tags: { type: 'array', items: str } } },
    },
  },
  VersionInfo: {
    type: 'object',
    required: ['version', 'at'],
    description: 'a version: one run of content changes (or a create, revert, delete, import, checkpoint); open: true for changes no version covers yet (listed newest)',
    properties: {
      version: { ...str, description: 'v2 ref: v2.<8 chars, the profile>.<22 chars, the content state hash> (34 characters)' },
      seq: { ...int, description: 'N of @N: 1-based, history order' },
      ref: { ...str, description: '@N' },
      at: str,
      actor: str,
      actors: strArray,
      by: str,
      origin: str,
      node: str,
      reason: {
        type: 'string',
        pattern: '^[a-z][a-z0-9-]{0,31}$',
        examples: ['idle', 'checkpoint', 'actor', 'create', 'revert', 'delete', 'import', 'label', 'startup', 'migrate', 'resolve', 'merge', 'open'],
        description:
          "how the version closed: idle, checkpoint, actor, create, revert, delete, import, label, startup, migrate, resolve or merge (this node's run, closed when a peer's changes made apart were merged in); 'open' only on the entry with open: true (changes no version covers yet). A version closed by a newer node may carry a reason this release does not know (one lowercase word): show it as it is",
      },
      message: str,
      fields: strArray,
      summary: str,
      open: bool,
      created: { ...bool, description: 'POST .../versions: whether a new version was closed' },
    },
  },
  EntryInfo: { type: 'object', required: ['version', 'seq', 'at'], additionalProperties: false, description: 'a raw log entry (?entries=raw)', properties: { version: str, seq: int, at: str, actor: str, origin: str, summary: str } },
  RenderBody: {
    type: 'object',
    additionalProperties: false,
    properties: {
      variables: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
      version: { type: 'string', minLength: 1, maxLength: 16_384, description: 'REF: @N, a label, a v2. (or legacy v1.) ref' },
      label: { type: 'string', minLength: 1, maxLength: 64 },
      template: { type: 'string', minLength: 1, maxLength: 64, description: 'append this named template as a user message' },
    },
  },
  RenderResult: {
    type: 'object',
    required: ['id', 'version', 'modelId', 'messages', 'parameters', 'warnings', 'request'],
    additionalProperties: false,
    properties: {
      id: str,
      version: str,
      modelId: str,
      messages: { type: 'array', items: { type: 'object', required: ['role', 'content'], additionalProperties: false, properties: { role: { enum: ['system', 'developer', 'user', 'assistant'] }, content: str } } },
      parameters,
      warnings: {
        type: 'array',
        description: 'RENDER_OPEN_CONFLICTS (first): the current state was rendered while merge conflicts are open; RENDER_UNUSED_VARIABLE: a variable given that no rendered text uses; RENDER_MALFORMED_VARIABLE: text that looks like a variable but is none ({{ first name }}, {{#if x}}, {{name}), sent as typed, with where it is (path)',
        items: {
          oneOf: [
            { type: 'object', required: ['code', 'variable'], additionalProperties: false, properties: { code: { const: 'RENDER_UNUSED_VARIABLE' }, variable: str } },
            { type: 'object', required: ['code', 'variable', 'path'], additionalProperties: false, properties: { code: { const: 'RENDER_MALFORMED_VARIABLE' }, variable: str, path: { type: 'string', examples: ['systemMessage', 'messages.k3m2p9x0qa.content', 'templates.greet'] } } },
            { type: 'object', required: ['code', 'conflicts'], additionalProperties: false, properties: { code: { const: 'RENDER_OPEN_CONFLICTS' }, conflicts: { type: 'integer', minimum: 1, description: 'open conflicts of the current state (rendered without version or label)' } } },
          ],
        },
      },
      request: { ...jsonObject, description: 'the exact body of an OpenAI-compatible chat completions call: model, messages, the parameters, extra keys at the top level' },
    },
  },
  CheckpointBody: { type: 'object', required: ['message'], additionalProperties: false, properties: { message: { type: 'string', minLength: 1, maxLength: 1000 } } },
  ProfileDiff: {
    type: 'object',
    properties: {
      from: str,
      to: str,
      changes: {
        type: 'array',
        items: {
          type: 'object',
          required: ['path', 'kind'],
          properties: {
            path: str,
            kind: { enum: ['added', 'removed', 'changed'] },
            before: jsonValue,
            after: jsonValue,
            text: { type: 'array', items: { type: 'object', required: ['op', 'text'], properties: { op: { enum: ['equal', 'insert', 'delete'] }, text: str } } },
          },
        },
      },
    },
  },
  VersionBody: { type: 'object', required: ['version'], additionalProperties: false, properties: { version: str } },
  Conflict: {
    type: 'object',
    required: ['id', 'field', 'kind', 'status', 'base', 'ours', 'theirs', 'merged', 'at', 'node', 'origin'],
    additionalProperties: false,
    description:
      'a conflict found when a diverged state was merged (docs/profile-model.md "Conflicts"): the same record (same id) on every node. Values are the field\'s values (strings for text, null when absent; whole profile contents for kind create). ours/theirs: the two sides as the node that detected it (node) saw them; merged: what the merge produced (and every peer now holds)',
    properties: {
      id: { type: 'string', pattern: '^[A-Za-z0-9_-]{16}$' },
      field: { ...str, description: "dotted path: systemMessage, description, templates.NAME, messages.ID.content, parameters.temperature, ...; '' for kind create (the whole profile)" },
      kind: { enum: ['text', 'scalar', 'create'] },
      status: { enum: ['open', 'resolved'] },
      base: jsonValue,
      ours: jsonValue,
      theirs: jsonValue,
      merged: jsonValue,
      at: isoTime,
      node: { ...str, description: 'the node that detected it' },
      origin: { ...str, description: 'the merge it was found in: peer:<id>, yjs:<token>, bus:<member>, or an import\'s origin' },
      resolvedAt: isoTime,
      resolvedBy: str,
      resolution: { type: 'object', required: ['keep', 'value', 'node'], additionalProperties: false, properties: { keep: { enum: ['merged', 'ours', 'theirs', 'value'] }, value: jsonValue, node: str } },
    },
  },
  ConflictList: { type: 'object', required: ['conflicts'], additionalProperties: false, properties: { conflicts: { type: 'array', items: ref('Conflict'), description: 'newest first; resolved ones stay listed' } } },
  ResolveBody: {
    type: 'object',
    required: ['keep'],
    additionalProperties: false,
    properties: {
      keep: { enum: ['merged', 'ours', 'theirs', 'value'] },
      value: { ...jsonValue, description: 'with keep: value only: the field\'s new value (null removes a template, message or key; a whole profile content for kind create)' },
    },
  },
  AuditRecord: {
    type: 'object',
    required: ['at', 'actor', 'origin', 'action', 'outcome'],
    properties: { at: str, actor: str, origin: str, action: str, profile: str, fields: strArray, outcome: { enum: ['ok', 'denied', 'rejected'] }, details: { ...jsonObject, description: 'facts of the action (JSON)' } },
  },
  CacheStats: {
    type: 'object',
    required: ['name', 'hits', 'misses', 'size', 'hit_rate', 'ttl', 'evictions'],
    additionalProperties: jsonValue,
    properties: { name: str, hits: int, misses: int, size: int, hit_rate: { type: 'number', minimum: 0, maximum: 1 }, ttl: { type: ['number', 'null'], description: 'seconds' }, evictions: int, bytes: { ...int, description: 'approximate bytes held: profiles and http-views the serialized JSON of the views, docs the stored Yjs state each doc was loaded from plus the updates written since' }, maxBytes: int, backend: str },
  },
  TokenInfo: {
    type: 'object',
    required: ['id', 'name', 'role', 'profiles', 'createdAt', 'createdBy', 'lastUsedAt'],
    properties: {
      id: str,
      name: str,
      displayName: { ...str, description: 'the person behind the token (set at creation by an admin); history, audit and presence show it' },
      email: str,
      role,
      profiles: { type: ['array', 'null'], items: str },
      createdAt: str,
      createdBy: str,
      lastUsedAt: nullableStr,
    },
  },
  TokenCreate: {
    type: 'object',
    required: ['name', 'role'],
    additionalProperties: false,
    properties: {
      name: str,
      role: { enum: ['admin', 'editor', 'viewer'] },
      profiles: { type: 'array', items: str, description: 'globs on profile ids (* and ?)' },
      displayName: { type: 'string', minLength: 1, maxLength: 100, description: 'the person who will use the token (no control characters): written as the actor of their changes' },
      email: { type: 'string', maxLength: 254, description: 'their email address' },
    },
  },
  TokenPatch: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: { role: { enum: ['admin', 'editor', 'viewer'] }, profiles: { type: ['array', 'null'], items: str, description: 'globs on profile ids (* and ?); null = every profile' } },
  },
  Peer: {
    type: 'object',
    required: ['id', 'url', 'fingerprint'],
    properties: {
      id: str,
      url: str,
      fingerprint: str,
      name: { type: ['string', 'null'] },
      source: { enum: ['config', 'added'] },
      connected: { type: 'boolean' },
      lastSeen: { type: ['string', 'null'], description: 'last frame in an authenticated session; null when never seen' },
      pending: { type: 'integer' },
      lagMillis: { type: 'number' },
      state: { enum: ['connected', 'connecting', 'backoff', 'idle', 'unavailable'] },
      lastError: { type: ['string', 'null'], description: 'code of the last failure (CRYPTO_PEER_UNKNOWN: it refused our key; SYNC_CONNECTION_LOST: nothing answered)' },
      lastErrno: { type: ['string', 'null'], description: 'with SYNC_CONNECTION_LOST: the socket error of the last dial (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH, ENOTFOUND; HTTP_<status> when a web server answered instead of /sync)' },
      nextRetryAt: { type: ['string', 'null'], description: 'while backing off: when the next dial happens' },
    },
  },
  Cluster: {
    type: 'object',
    required: ['bus', 'members'],
    properties: {
      self: { ...str, description: 'this node\'s member id (absent without a bus)' },
      ready: { type: 'boolean', description: 'this node caught up with the fleet (absent without a bus)' },
      bus: {
        type: ['object', 'null'],
        description: 'null when the node is not in a fleet (no bus.url)',
        properties: {
          connected: { type: 'boolean' },
          lagMillis: { type: 'number', description: '0 when every shard was read to its end, else the age of the newest entry applied' },
          kind: str,
          shards: { type: 'integer' },
          repairPending: { type: 'boolean' },
          unpublished: { type: 'integer', description: 'profiles waiting to be republished' },
          fallback: { type: 'array', items: str, description: 'members with standing /sync sessions while the bus is away' },
          keyMismatch: {
            type: 'object',
            description: 'what on the bus is sealed under another fleet key (a member started with another bus.key: it and this node never exchange changes); active while a live member record or an entry within the last minute says so (/readyz degraded: FLEET_KEY_MISMATCH)',
            required: ['active', 'members', 'entries', 'lastEntryAt'],
            properties: { active: { type: 'boolean' }, members: { type: 'array', items: str }, entries: { type: 'integer', description: 'entries sealed under another key, since this node started' }, lastEntryAt: { type: ['string', 'null'], description: 'ISO-8601' } },
          },
        },
      },
      members: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'url', 'lastSeen'],
          properties: { id: str, url: { ...str, description: 'HTTP base URL' }, lastSeen: { ...str, description: 'ISO-8601' }, fingerprint: str, alive: { type: 'boolean' }, ready: { type: 'boolean' }, self: { type: 'boolean' } },
        },
      },
    },
  },
  Session: {
    type: 'object',
    required: ['tokenId', 'name', 'displayName', 'role', 'profiles', 'actor'],
    properties: { tokenId: str, name: str, displayName: str, email: str, role, profiles: { type: ['array', 'null'], items: str }, actor: str },
  },
  SyncResult: {
    type: 'object',
    required: ['converged', 'peers', 'durationMillis'],
    properties: {
      converged: bool,
      peers: { type: 'array', items: { type: 'object', required: ['id', 'ok'], properties: { id: str, ok: bool, code: str, message: str, durationMillis: num } } },
      durationMillis: num,
    },
  },
  WebhookEvent: { enum: ['profile.created', 'profile.updated', 'profile.deleted', 'label.moved', 'conflict.opened', 'conflict.resolved'] },
  Webhook: {
    type: 'object',
    required: ['id', 'name', 'url', 'events', 'profiles', 'source', 'createdAt', 'status'],
    properties: {
      id: str,
      name: nullableStr,
      url: str,
      events: { type: ['array', 'null'], items: ref('WebhookEvent'), description: 'kinds delivered; null = all' },
      profiles: { type: ['array', 'null'], items: str, description: 'profile-id globs; null = all' },
      source: { enum: ['config', 'added'] },
      createdAt: nullableStr,
      status: {
        type: 'object',
        required: ['pending', 'inflight', 'delivered', 'failed', 'attempts', 'cursor', 'lastDeliveredAt', 'lastError'],
        additionalProperties: false,
        properties: {
          pending: int,
          inflight: int,
          delivered: int,
          failed: { ...int, description: 'deliveries given up after webhook.max_attempts' },
          attempts: int,
          cursor: { ...str, description: 'position (EPOCH-LSN) up to which every change was delivered or given up; persisted' },
          lastDeliveredAt: nullableStr,
          lastError: { type: ['object', 'null'], required: ['at', 'id', 'error'], additionalProperties: false, properties: { at: str, id: str, error: str } },
        },
      },
    },
  },
  WebhookCreated: {
    allOf: [ref('Webhook')],
    required: ['secret'],
    properties: { secret: { ...str, description: 'the HMAC key, answered once' } },
    unevaluatedProperties: false,
  },
  WebhookCreate: {
    type: 'object',
    required: ['url'],
    additionalProperties: false,
    properties: {
      url: { ...str, description: 'http:// or https://, no credentials' },
      events: { type: ['array', 'null'], items: ref('WebhookEvent'), minItems: 1 },
      profiles: { type: ['array', 'null'], items: str, minItems: 1, maxItems: 100, description: 'globs on profile ids (* and ?)' },
      name: nullableStr,
      secret: { ...str, minLength: 16, maxLength: 256, description: 'the HMAC key; generated (and answered once) when absent' },
    },
  },
  DeliveryAttempt: {
    type: 'object',
    required: ['id', 'profile', 'event', 'attempt', 'at', 'outcome', 'status', 'error', 'durationMillis', 'nextAttemptAt'],
    additionalProperties: false,
    properties: {
      id: { ...str, description: 'the change position EPOCH-LSN (the delivery id)' },
      profile: str,
      event: ref('WebhookEvent'),
      attempt: int,
      at: str,
      outcome: { enum: ['delivered', 'retrying', 'failed'] },
      status: { type: ['integer', 'null'], description: 'HTTP status of the receiver' },
      error: { ...nullableStr, description: 'HTTP 500, timeout, ECONNREFUSED, ...' },
      durationMillis: num,
      nextAttemptAt: nullableStr,
    },
  },
  WebhookPayload: {
    type: 'object',
    required: ['id', 'event', 'events', 'hook', 'at', 'sentAt', 'attempt', 'catchUp', 'data'],
    additionalProperties: false,
    properties: {
      id: { ...str, description: 'the change position (EPOCH-LSN); repeated deliveries of one change share it' },
      event: ref('WebhookEvent'),
      events: { type: 'array', items: ref('WebhookEvent') },
      hook: str,
      at: str,
      sentAt: str,
      attempt: int,
      catchUp: { ...bool, description: 'replayed from the log after a restart: the kinds are a best guess' },
      data: ref('ChangeEvent'),
    },
  },
  ChangeEvent: {
    type: 'object',
    description: 'data of a `change` event of GET /api/changes',
    required: ['id', 'version', 'labels', 'deleted', 'conflicts'],
    additionalProperties: false,
    properties: { id: str, version: str, labels: { type: 'object', additionalProperties: str }, deleted: { type: 'boolean' }, conflicts: { type: 'integer', minimum: 0, description: 'open conflict records (issue 13); a change that opens or resolves one is an event even when the content did not move' } },
  },
  PeerCreate: { type: 'object', required: ['url', 'key'], additionalProperties: false, properties: { url: str, key: str, name: str } },
};

export function openApiDocument(): Json {
  const paths: Json = {
    '/healthz': { get: op('getHealth', 'Liveness (no auth): 200 { status: "ok" } (or "starting" while the data dir opens)', { '200': ok({ type: 'object', required: ['status'], additionalProperties: false, properties: { status: { enum: ['ok', 'starting'] } } }), '503': ok({ type: 'object', required: ['status'], additionalProperties: false, properties: { status: { enum: ['shutting-down'] } } }, 'shutting down') }, {}, false) },
    '/readyz': {
      get: op(
        'getReadiness',
        'Readiness (no auth): 200 once the store is open and no readiness check blocks (a bus caught up, ...); a degraded node (damaged profiles) stays 200 with degraded: true and the reasons; 503 with the reasons before and while shutting down. Never the dashboard.',
        { '200': ok(ref('ReadyStatus')), '503': ok(ref('ReadyStatus'), 'not ready: reasons lists each check that is not ready') },
        {},
        false,
      ),
    },
    '/openapi.json': { get: op('getOpenApiDocument', 'This document (no auth)', { '200': ok({ type: 'object', required: ['openapi', 'info', 'paths'], properties: { openapi: str, info: jsonObject, paths: jsonObject }, additionalProperties: jsonValue }) }, {}, false) },
    '/metrics': { get: op('getMetrics', 'Prometheus text format; token needed unless metrics.auth allows (see docs/operations.md)', { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: str } } }, '401': common['401'] }) },
    '/api/profiles': {
      get: op('listProfiles', 'List or search profiles, optionally a page at a time', { '200': ok(ref('ProfilePage')), ...common }, {
        parameters: [
          query('modelId', 'filter by model id'),
          query('label', 'only profiles with this label'),
          query('tag', 'only profiles with meta.tags containing this'),
          query('includeDeleted', 'true to include tombstones', { enum: ['true', 'false'] }),
          query('q', 'search: every word (case-insensitive) must occur in the id, name, model, description, system message, a template or a message; each row gets `match`', { type: 'string', maxLength: 256 }),
          query('sort', 'order of the rows (ties by id); default id. name and model sort numeric-aware, case- and accent-blind ("Profile 9" before "Profile 10")', { enum: ['name', 'updated', 'model', 'id'] }),
          query('order', 'default desc for updated, asc otherwise', { enum: ['asc', 'desc'] }),
          query('limit', 'page size; absent = every match', { type: 'integer', minimum: 1, maximum: 1000 }),
          query('cursor', 'nextCursor of the previous page (same sort and order); a bad one is 400 PROFILE_LIST_INVALID', { type: 'string', maxLength: 2048 }),
          query('facets', 'true: also answer facets (distinct models, labels, tags of every listed profile, for filter menus)', { enum: ['true', 'false'] }),
          query('conflicts', 'open: only profiles with at least one open conflict', { enum: ['open'] }),
        ],
      }),
      post: op('createProfile', 'Create a profile', { '201': ok(ref('ProfileView'), 'created'), ...withBody, '409': errorRef('PROFILE_EXISTS'), '422': errorRef('PROFILE_INVALID / PROFILE_TOO_LARGE') }, { requestBody: jsonBody(ref('ProfileInput')) }),
    },
    '/api/profiles/{id}': {
      get: op('getProfile', 'Current view, or a past one with ?version= or ?label=', { '200': ok(ref('ProfileView')), '304': { description: 'If-None-Match matched the ETag' }, ...common, ...notFound, '410': errorRef('PROFILE_DELETED: the profile is deleted; its current view and its labels (?label=, or a label or latest as ?version=) serve nothing, while @N and v2./v1. refs (history) stay readable') }, {
        parameters: [ID, query('version', 'a version reference: @N, v2.… / v1.…, or a label name', { type: 'string', minLength: 1, maxLength: 16_384 }), query('label', 'a label name', { type: 'string', minLength: 1, maxLength: 64 })],
      }),
      patch: op('updateProfile', 'Merge-patch the profile', { '200': ok(ref('ProfileView')), ...withBody, ...notFound, ...tombstone, '422': errorRef('PROFILE_INVALID / PROFILE_READONLY_FIELD / PROFILE_TOO_LARGE') }, {
        parameters: [ID],
        requestBody: { required: true, content: { 'application/json': { schema: ref('MergePatch') }, 'application/merge-patch+json': { schema: ref('MergePatch') } } },
      }),
      delete: op('deleteProfile', 'Tombstone the profile (history stays)', { '204': { description: 'deleted' }, ...common, ...notFound, ...tombstone }, { parameters: [ID] }),
    },
    '/api/profiles/{id}/history': {
      get: op('getProfileHistory', 'Versions, newest first (the open run first, open: true); ?entries=raw lists the log entries instead', { '200': ok({ type: 'object', properties: { versions: { type: 'array', items: ref('VersionInfo') }, entries: { type: 'array', items: ref('EntryInfo') } } }), ...common, ...notFound }, {
        parameters: [ID, query('limit', 'at most this many', { type: 'integer', minimum: 1, maximum: 100_000 }), query('entries', 'raw: the log entries instead of versions', { enum: ['raw', 'versions'] })],
      }),
    },
    '/api/profiles/{id}/versions': {
      post: op('checkpointProfile', 'Checkpoint: close the current changes into a version with a message', { '201': ok(ref('VersionInfo'), 'a new version'), '200': ok(ref('VersionInfo'), 'nothing changed since the newest version: that version'), ...withBody, ...notFound, '410': errorRef('PROFILE_DELETED') }, {
        parameters: [ID],
        requestBody: jsonBody(ref('CheckpointBody')),
      }),
    },
    '/api/profiles/{id}/render': {
      post: op('renderProfile', 'Fill {{variables}} into the prompt: the messages, the parameters and the exact chat request body', { '200': ok(ref('RenderResult')), ...withBody, ...notFound, '410': errorRef('PROFILE_DELETED: the profile is deleted (its current view or a label; a past version given as @N or v2./v1. still renders)'), '422': errorRef('PROFILE_RENDER_MISSING_VARIABLES (details.missing)') }, {
        parameters: [ID],
        requestBody: jsonBody(ref('RenderBody'), false),
      }),
    },
    '/api/profiles/{id}/log': {
      get: op(
        'exportProfileLog',
        'The exact binary export of one profile\'s log (every entry with actor, origin, summary and version; hash-chained, sha-256 trailer); `POST /api/import/log` on another node takes it',
        { '200': { description: 'the export', content: { 'application/vnd.profilesync.profile-log': { schema: { type: 'string', format: 'binary' } } } }, ...common, ...notFound },
        { parameters: [ID] },
      ),
    },
    '/api/profiles/{id}/diff': {
      get: op('diffProfile', 'Field-level diff between two versions', { '200': ok(ref('ProfileDiff')), ...common, ...notFound }, {
        parameters: [ID, query('from', 'version reference', { type: 'string', minLength: 1, maxLength: 16_384 }, true), query('to', 'version reference', { type: 'string', minLength: 1, maxLength: 16_384 }, true)],
      }),
    },
    '/api/profiles/{id}/revert': {
      post: op('revertProfile', 'Revert the content to a version (a new version; labels stay)', { '200': ok(ref('ProfileView')), ...withBody, ...notFound }, { parameters: [ID], requestBody: jsonBody(ref('VersionBody')) }),
    },
    '/api/profiles/{id}/conflicts': {
      get: op('listConflicts', 'Conflicts found when diverged states merged (open and resolved, newest first)', { '200': ok(ref('ConflictList')), ...common, ...notFound }, { parameters: [ID] }),
    },
    '/api/profiles/{id}/conflicts/{cid}/resolve': {
      post: op(
        'resolveConflict',
        'Resolve a conflict: keep merged, ours, theirs or a value. A new version that replaces the field (two nodes resolving at once end in one state); the conflict is closed on every node',
        {
          '200': ok(ref('ProfileView')),
          ...withBody,
          '404': errorRef('PROFILE_NOT_FOUND or CONFLICT_NOT_FOUND'),
          '409': errorRef('CONFLICT_RESOLVED: already resolved (details: resolvedBy, resolvedAt, keep)'),
          '422': errorRef('PROFILE_INVALID: the kept value is not valid for the field (nothing changed)'),
        },
        { parameters: [ID, CONFLICT], requestBody: jsonBody(ref('ResolveBody')) },
      ),
    },
    '/api/profiles/{id}/labels/{label}': {
      put: op('setLabel', 'Point a label at a version', { '200': ok(ref('ProfileView')), ...withBody, ...notFound, ...tombstone }, {
        parameters: [ID, LABEL],
        requestBody: jsonBody(ref('VersionBody')),
      }),
      delete: op('removeLabel', 'Remove a label (an audit record, not a version)', { '204': { description: 'removed' }, ...common, ...notFound, ...tombstone }, { parameters: [ID, LABEL] }),
    },
    '/api/session': {
      get: op('getSession', 'The calling token: id, name, role, grants (extension; any role)', { '200': ok(ref('Session')), ...common }),
    },
    '/api/audit': {
      get: op('listAudit', 'Audit records, newest first (admin)', { '200': ok({ type: 'object', required: ['records'], additionalProperties: false, properties: { records: { type: 'array', items: ref('AuditRecord') } } }), ...common }, {
        parameters: [query('profile', 'profile id', { type: 'string', pattern: ID_PATTERN }), query('since', 'ISO-8601 or ms'), query('until', 'ISO-8601 or ms'), query('actor', 'actor'), query('action', 'action'), query('limit', 'max records', { type: 'integer', minimum: 1, maximum: 100_000 })],
      }),
    },
    '/api/damage': {
      get: op('getDamage', 'Profiles known to be damaged on this node (answered with 503 PROFILE_DAMAGED until repaired from a peer or a backup) and, for unscoped admins, node-level findings', {
        '200': ok({
          type: 'object',
          required: ['profiles', 'node'],
          additionalProperties: false,
          properties: {
            profiles: { type: 'array', items: { type: 'object', required: ['id', 'findings'], properties: { id: str, findings: { type: 'array', items: { type: 'object', properties: { kind: str, seq: { type: 'integer' }, message: str, at: str } } } } } },
            node: { type: 'array', items: { type: 'object', properties: { stream: str, kind: str, message: str, at: str } } },
            repaired: { type: 'array', description: 'unscoped admins: damage the node found and repaired itself when it opened (e.g. kind manifest: LevelDB\'s MANIFEST rebuilt from the table files); not damage that stays', items: { type: 'object', properties: { kind: str, message: str, at: str } } },
          },
        }),
        ...common,
      }),
    },
    '/api/cache/stats': { get: op('getCacheStats', 'Every cache in the process', { '200': ok({ type: 'object', required: ['caches'], additionalProperties: false, properties: { caches: { type: 'array', items: ref('CacheStats') } } }), ...common }) },
    '/api/cache/clear': { post: op('clearCaches', 'Clear all caches (admin)', { '200': ok(cleared), ...common }) },
    '/api/cache/clear/{name}': {
      post: op('clearCache', 'Clear one cache (admin)', { '200': ok(cleared), ...common, '404': errorRef('CACHE_NOT_FOUND') }, { parameters: [pathParam('name', 'cache name', '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$')] }),
    },
    '/api/tokens': {
      get: op('listTokens', 'List tokens, never secrets (admin)', { '200': ok({ type: 'object', required: ['tokens'], additionalProperties: false, properties: { tokens: { type: 'array', items: ref('TokenInfo') } } }), ...common }),
      post: op('createToken', 'Create a token; the secret is shown once (admin)', { '201': ok({ allOf: [ref('TokenInfo'), { type: 'object', required: ['token'], properties: { token: { ...str, description: 'the secret, shown once' } } }] }, 'created'), ...withBody }, { requestBody: jsonBody(ref('TokenCreate')) }),
    },
    '/api/tokens/{id}': {
      patch: op('updateToken', 'Change a token\'s role and/or grants (admin, within its own scope); its open /yjs sockets are closed or downgraded at once', { '200': ok(ref('TokenInfo')), ...withBody, '404': errorRef('TOKEN_NOT_FOUND'), '409': errorRef('TOKEN_LAST_ADMIN') }, {
        parameters: [pathParam('id', 'token id', '^[0-9a-z]{16}$')],
        requestBody: jsonBody(ref('TokenPatch')),
      }),
      delete: op('revokeToken', 'Revoke a token (admin, within its own scope); its open /yjs sockets are closed (4401) before the answer', { '204': { description: 'revoked' }, ...common, '404': errorRef('TOKEN_NOT_FOUND'), '409': errorRef('TOKEN_LAST_ADMIN') }, { parameters: [pathParam('id', 'token id', '^[0-9a-z]{16}$')] }),
    },
    '/api/peers': {
      get: op('listPeers', 'Peers with sync status (admin)', {
        '200': ok({ type: 'object', required: ['sync', 'peers'], properties: { sync: { enum: ['available', 'unavailable'] }, self: { type: 'object', properties: { publicKey: str, fingerprint: str } }, peers: { type: 'array', items: ref('Peer') } } }),
        ...common,
      }),
      post: op('addPeer', 'Add a peer (extension, admin); ?dryRun=true checks it and answers the record without storing it', { '201': ok(ref('Peer'), 'added'), '200': ok(ref('Peer'), 'dryRun: what would be added'), ...withBody, '409': errorRef('PEER_EXISTS') }, {
        parameters: [query('dryRun', 'true: validate and answer the fingerprint, store nothing', { enum: ['true', 'false'] })],
        requestBody: jsonBody(ref('PeerCreate')),
      }),
    },
    '/api/peers/{id}': {
      delete: op('removePeer', 'Remove a peer added at run time (extension, admin)', { '204': { description: 'removed' }, ...common, '404': errorRef('PEER_NOT_FOUND') }, { parameters: [pathParam('id', 'peer id', '^[0-9a-f]{12}$')] }),
    },
    '/api/changes': {
      get: op(
        'streamChanges',
        'Change feed (Server-Sent Events): one `change` event per committed change, label move and deletion; resume with Last-Event-ID',
        {
          '200': {
            description:
              'text/event-stream. Events: `change` (id EPOCH-LSN, data ChangeEvent), then after the catch-up one `ready` (no id, data { heartbeatMs, position }); `: hb` comment lines keep idle streams open',
            content: { 'text/event-stream': { schema: { type: 'string' }, itemSchema: ref('ChangeEvent') } },
          },
          ...common,
          '429': errorRef('TOKEN_TOO_MANY_CONNECTIONS'),
          '503': errorRef('CHANGES_TOO_MANY_CONNECTIONS'),
        },
        {
          parameters: [
            query('ids', 'comma-separated profile ids to follow (each must be granted); default: every profile the token may read', { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}(,[A-Za-z0-9][A-Za-z0-9._:-]{0,127})*$' }),
            query('since', 'resume after this event id (EPOCH-LSN); 0 = from the beginning. The Last-Event-ID header wins', { type: 'string', pattern: '^(0|[0-9a-z]{1,13}-[0-9]{1,16})$' }),
            { name: 'Last-Event-ID', in: 'header', required: false, description: 'the id of the last event received (EventSource sends it when it reconnects); 0 = from the beginning', schema: { type: 'string', pattern: '^(0|[0-9a-z]{1,13}-[0-9]{1,16})$' } },
          ],
        },
      ),
    },
    '/api/cluster': {
      get: op('getCluster', 'Fleet members and bus status; { bus: null, members: [] } without a bus (admin)', { '200': ok(ref('Cluster')), ...common }),
    },
    '/api/webhooks': {
      get: op('listWebhooks', 'Webhooks with their delivery status (admin, unscoped)', { '200': ok({ type: 'object', required: ['webhooks'], additionalProperties: false, properties: { webhooks: { type: 'array', items: ref('Webhook') } } }), ...common }),
      post: op('addWebhook', 'Add a webhook; the secret is answered once (admin, unscoped)', { '201': ok(ref('WebhookCreated'), 'added'), ...withBody, '409': errorRef('WEBHOOK_EXISTS') }, {
        requestBody: jsonBody(ref('WebhookCreate')),
      }),
    },
    '/api/webhooks/{id}': {
      get: op('getWebhook', 'One webhook with its delivery status (admin, unscoped)', { '200': ok(ref('Webhook')), ...common, '404': errorRef('WEBHOOK_NOT_FOUND') }, { parameters: [HOOK_ID] }),
      delete: op('removeWebhook', 'Remove a webhook added at run time (admin, unscoped); config-file hooks: 409 WEBHOOK_READONLY', { '204': { description: 'removed' }, ...common, '404': errorRef('WEBHOOK_NOT_FOUND'), '409': errorRef('WEBHOOK_READONLY') }, { parameters: [HOOK_ID] }),
    },
    '/api/webhooks/{id}/deliveries': {
      get: op('listWebhookDeliveries', 'The delivery log: the last attempts, newest first, with their errors (admin, unscoped)', { '200': ok({ type: 'object', required: ['deliveries'], additionalProperties: false, properties: { deliveries: { type: 'array', items: ref('DeliveryAttempt') } } }), ...common, '404': errorRef('WEBHOOK_NOT_FOUND') }, {
        parameters: [HOOK_ID, query('limit', 'at most this many (default 200)', { type: 'integer', minimum: 1, maximum: 200 })],
      }),
    },
    '/api/sync': {
      post: op('runSync', 'One-shot sync with all peers; resolves when converged or timed out (admin)', { '200': ok(ref('SyncResult')), ...withBody, '503': errorRef('SYNC_UNAVAILABLE') }, {
        requestBody: jsonBody({ type: 'object', additionalProperties: false, properties: { timeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000 } } }, false),
      }),
    },
    '/api/import/log': {
      post: op(
        'importProfileLog',
        'Import one profile log export (editor; the token needs a grant for its profile). A profile this node does not have is created with its whole history, entry by entry (same versions, actors, summaries; labels included); an existing one gets the export merged (CRDT) and reports unchanged when that added nothing',
        {
          '200': ok({ type: 'object', required: ['id', 'result', 'entries'], properties: { id: str, result: { enum: ['updated', 'unchanged'] }, entries: { type: 'integer' } } }, 'merged into an existing profile'),
          '201': ok({ type: 'object', required: ['id', 'result', 'entries'], properties: { id: str, result: { enum: ['created'] }, entries: { type: 'integer' } } }, 'created with its history'),
          ...withBody,
          '422': errorRef('PROFILE_INVALID (and other PROFILE_* codes): an entry was refused; details.importedThrough says how many were imported'),
        },
        { requestBody: { required: true, content: { 'application/vnd.profilesync.profile-log': { schema: { type: 'string', format: 'binary' } } } } },
      ),
    },
    '/api/backup': {
      post: op(
        'createBackup',
        'Stream a consistent backup of the running node (admin with every profile; a scoped admin is 403). The same format as `profilesync backup FILE`: restore it with `profilesync restore FILE`. A failure after the first byte aborts the connection (the trailer is missing, so a check refuses the file)',
        {
          '200': { description: 'the backup file', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } }, headers: { 'content-disposition': { schema: str, description: 'attachment; filename="profilesync-<UTC time>.bak"' } } },
          ...withBody,
          '503': errorRef('BACKUP_IN_PROGRESS: another backup of this node is running'),
        },
        { requestBody: jsonBody({ type: 'object', additionalProperties: false, properties: {} }, false) },
        true,
      ),
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'profilesync node API', version: '1', description: 'Errors: { "error": { "code", "message" } }; codes and statuses in docs/api.md. WebSockets: /sync (peer protocol), /yjs/{profileId} (y-websocket; ?token=TOKEN).' },
    webhooks: {
      profileChange: {
        post: {
          operationId: 'receiveProfileChange',
          summary: 'What the node POSTs to a webhook URL: one change of a profile (at-least-once; drop repeated ids). 2xx = delivered; anything else is retried with exponential backoff and jitter',
          parameters: [
            { name: 'x-profilesync-signature', in: 'header', required: true, description: 'sha256=<hex HMAC-SHA256 of the raw body with the hook secret>', schema: { type: 'string', pattern: '^sha256=[0-9a-f]{64}$' } },
            { name: 'x-profilesync-event', in: 'header', required: true, schema: ref('WebhookEvent') },
            { name: 'x-profilesync-delivery', in: 'header', required: true, description: 'the change position (= body id)', schema: str },
            { name: 'x-profilesync-attempt', in: 'header', required: true, schema: { type: 'string', pattern: '^[0-9]+$' } },
          ],
          requestBody: jsonBody(ref('WebhookPayload')),
          responses: { '200': { description: 'any 2xx: delivered' } },
        },
      },
    },
    servers: [
      { url: '/', description: 'the node serving this document' },
      { url: 'http://127.0.0.1:7878', description: 'a local node on the default port' },
    ],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas },
    security: [{ bearer: [] }],
    paths,
  };
}
