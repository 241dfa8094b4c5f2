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

const ID = pathParam('id', 'profile id', '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$');
const common = {
  '400': errorRef('REQUEST_INVALID / REQUEST_MALFORMED_JSON: the request shape is wrong (the message names the field)'),
  '401': errorRef('AUTH_UNAUTHORIZED: missing, invalid or revoked token'),
  '403': errorRef('AUTH_FORBIDDEN: the token\'s role or grants do not allow this'),
};
const withBody = { ...common, '413': errorRef('REQUEST_TOO_LARGE'), '415': errorRef('REQUEST_UNSUPPORTED_MEDIA_TYPE') };
const notFound = { '404': errorRef('PROFILE_NOT_FOUND (or LABEL_NOT_FOUND / PROFILE_VERSION_UNAVAILABLE)') };

function op(summary: string, responses: Json, extra: Json = {}, secured = true): Json {
  return { summary, ...(secured ? {} : { security: [] }), ...extra, responses };
}

const profileFields: Json = {
  modelId: str,
  name: str,
  description: str,
  systemMessage: str,
  templates: { type: 'object', additionalProperties: str },
  parameters: { type: 'object', additionalProperties: true, description: 'temperature 0..2, top_p 0..1, max_tokens, stop[], seed, presence/frequency_penalty -2..2, extra primitive keys' },
  meta: { type: 'object', additionalProperties: true },
};

const schemas: Json = {
  ReadyStatus: {
    type: 'object',
    required: ['ready'],
    properties: {
      ready: { type: 'boolean' },
      reasons: {
        type: 'array',
        description: 'present when not ready: one per check that is not ready',
        items: { type: 'object', required: ['check', 'code', 'message'], properties: { check: { ...str, description: 'the check (store, shutdown, bus, ...)' }, code: { ...str, description: 'stable, e.g. STORE_OPENING, STORE_CLOSED, SERVER_SHUTTING_DOWN' }, message: str } },
      },
    },
  },
  Error: {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: str, message: str, details: { type: 'object' } } } },
  },
  ProfileView: {
    type: 'object',
    properties: {
      id: str,
      ...profileFields,
      labels: { type: 'object', additionalProperties: str },
      deleted: { type: 'boolean' },
      version: { type: 'string', description: 'portable version reference' },
      updatedAt: { type: 'string', format: 'date-time' },
      updatedBy: str,
    },
  },
  ProfileInput: { type: 'object', required: ['modelId', 'name'], additionalProperties: false, properties: { id: str, ...profileFields } },
  MergePatch: { type: 'object', description: 'JSON Merge Patch (RFC 7396) over the view; null removes a key; text fields merge as character diffs' },
  ProfileSummary: {
    type: 'object',
    properties: { id: str, modelId: str, name: str, version: str, updatedAt: str, labels: { type: 'array', items: str }, tags: { type: 'array', items: str }, deleted: { type: 'boolean' } },
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
  VersionInfo: { type: 'object', properties: { version: str, seq: { type: 'integer' }, at: str, actor: str, origin: str, summary: str } },
  ProfileDiff: {
    type: 'object',
    properties: {
      from: str,
      to: str,
      changes: { type: 'array', items: { type: 'object', properties: { path: str, kind: { enum: ['added', 'removed', 'changed'] }, before: {}, after: {}, text: { type: 'array' } } } },
    },
  },
  VersionBody: { type: 'object', required: ['version'], additionalProperties: false, properties: { version: str } },
  AuditRecord: { type: 'object', properties: { at: str, actor: str, origin: str, action: str, profile: str, fields: { type: 'array', items: str }, outcome: { enum: ['ok', 'denied', 'rejected'] }, details: { type: 'object' } } },
  CacheStats: {
    type: 'object',
    properties: { name: str, hits: { type: 'integer' }, misses: { type: 'integer' }, size: { type: 'integer' }, hit_rate: { type: 'number' }, ttl: { type: ['number', 'null'] }, evictions: { type: 'integer' }, bytes: { type: 'integer' } },
  },
  TokenInfo: {
    type: 'object',
    properties: { id: str, name: str, role: { enum: ['admin', 'editor', 'viewer'] }, profiles: { type: ['array', 'null'], items: str }, createdAt: str, createdBy: str, lastUsedAt: { type: ['string', 'null'] } },
  },
  TokenCreate: {
    type: 'object',
    required: ['name', 'role'],
    additionalProperties: false,
    properties: { name: str, role: { enum: ['admin', 'editor', 'viewer'] }, profiles: { type: 'array', items: str, description: 'globs on profile ids (* and ?)' } },
  },
  TokenPatch: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: { role: { enum: ['admin', 'editor', 'viewer'] }, profiles: { type: ['array', 'null'], items: str, description: 'globs on profile ids (* and ?); null = every profile' } },
  },
  Peer: {
    type: 'object',
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
  ChangeEvent: {
    type: 'object',
    description: 'data of a `change` event of GET /api/changes',
    required: ['id', 'version', 'labels', 'deleted'],
    additionalProperties: false,
    properties: { id: str, version: str, labels: { type: 'object', additionalProperties: str }, deleted: { type: 'boolean' } },
  },
  PeerCreate: { type: 'object', required: ['url', 'key'], additionalProperties: false, properties: { url: str, key: str, name: str } },
};

export function openApiDocument(): Json {
  const paths: Json = {
    '/healthz': { get: op('Liveness (no auth): 200 { status: "ok" } (or "starting" while the data dir opens)', { '200': ok({ type: 'object', properties: { status: { enum: ['ok', 'starting'] } } }), '503': ok({ type: 'object' }, 'shutting down') }, {}, false) },
    '/readyz': {
      get: op(
        'Readiness (no auth): 200 once the store is open and every readiness check passes (a bus caught up, ...); 503 with the reasons before and while shutting down. Never the dashboard.',
        { '200': ok(ref('ReadyStatus')), '503': ok(ref('ReadyStatus'), 'not ready: reasons lists each check that is not ready') },
        {},
        false,
      ),
    },
    '/openapi.json': { get: op('This document (no auth)', { '200': ok({ type: 'object' }) }, {}, false) },
    '/metrics': { get: op('Prometheus text format; token needed unless metrics.auth allows (see docs/operations.md)', { '200': { description: 'text/plain; version=0.0.4' }, '401': common['401'] }) },
    '/api/profiles': {
      get: op('List or search profiles, optionally a page at a time', { '200': ok(ref('ProfilePage')), ...common }, {
        parameters: [
          query('modelId', 'filter by model id'),
          query('label', 'only profiles with this label'),
          query('tag', 'only profiles with meta.tags containing this'),
          query('includeDeleted', 'true to include tombstones', { enum: ['true', 'false'] }),
          query('q', 'search: every word (case-insensitive) must occur in the id, name, model, description, system message, a template or a message; each row gets `match`', { type: 'string', maxLength: 256 }),
          query('sort', 'order of the rows (ties by id); default id', { enum: ['name', 'updated', 'model', 'id'] }),
          query('order', 'default desc for updated, asc otherwise', { enum: ['asc', 'desc'] }),
          query('limit', 'page size; absent = every match', { type: 'integer', minimum: 1, maximum: 1000 }),
          query('cursor', 'nextCursor of the previous page (same sort and order); a bad one is 400 PROFILE_LIST_INVALID', { type: 'string', maxLength: 2048 }),
          query('facets', 'true: also answer facets (distinct models, labels, tags of every listed profile, for filter menus)', { enum: ['true', 'false'] }),
        ],
      }),
      post: op('Create a profile', { '201': ok(ref('ProfileView'), 'created'), ...withBody, '409': errorRef('PROFILE_EXISTS'), '422': errorRef('PROFILE_INVALID / PROFILE_TOO_LARGE') }, { requestBody: jsonBody(ref('ProfileInput')) }),
    },
    '/api/profiles/{id}': {
      get: op('Current view, or a past one with ?version= or ?label=', { '200': ok(ref('ProfileView')), '304': { description: 'If-None-Match matched the ETag' }, ...common, ...notFound, '410': errorRef('PROFILE_DELETED') }, {
        parameters: [ID, query('version', 'a version reference'), query('label', 'a label name')],
      }),
      patch: op('Merge-patch the profile', { '200': ok(ref('ProfileView')), ...withBody, ...notFound, '422': errorRef('PROFILE_INVALID / PROFILE_READONLY_FIELD / PROFILE_TOO_LARGE') }, {
        parameters: [ID],
        requestBody: { required: true, content: { 'application/json': { schema: ref('MergePatch') }, 'application/merge-patch+json': { schema: ref('MergePatch') } } },
      }),
      delete: op('Tombstone the profile (history stays)', { '204': { description: 'deleted' }, ...common, ...notFound }, { parameters: [ID] }),
    },
    '/api/profiles/{id}/history': {
      get: op('Versions, newest first', { '200': ok({ type: 'object', properties: { versions: { type: 'array', items: ref('VersionInfo') } } }), ...common, ...notFound }, {
        parameters: [ID, query('limit', 'at most this many', { type: 'integer', minimum: 1 })],
      }),
    },
    '/api/profiles/{id}/diff': {
      get: op('Field-level diff between two versions', { '200': ok(ref('ProfileDiff')), ...common, ...notFound }, {
        parameters: [ID, query('from', 'version reference', str, true), query('to', 'version reference', str, true)],
      }),
    },
    '/api/profiles/{id}/revert': {
      post: op('Revert the content to a version (a new version; labels stay)', { '200': ok(ref('ProfileView')), ...withBody, ...notFound }, { parameters: [ID], requestBody: jsonBody(ref('VersionBody')) }),
    },
    '/api/profiles/{id}/labels/{label}': {
      put: op('Point a label at a version', { '200': ok(ref('ProfileView')), ...withBody, ...notFound }, {
        parameters: [ID, pathParam('label', 'label name')],
        requestBody: jsonBody(ref('VersionBody')),
      }),
      delete: op('Remove a label (extension)', { '200': ok(ref('ProfileView')), ...common, ...notFound }, { parameters: [ID, pathParam('label', 'label name')] }),
    },
    '/api/session': {
      get: op('The calling token: id, name, role, grants (extension; any role)', { '200': ok({ type: 'object', properties: { tokenId: str, name: str, role: { enum: ['admin', 'editor', 'viewer'] }, profiles: { type: ['array', 'null'], items: str }, actor: str } }), ...common }),
    },
    '/api/audit': {
      get: op('Audit records, newest first (admin)', { '200': ok({ type: 'object', properties: { records: { type: 'array', items: ref('AuditRecord') } } }), ...common }, {
        parameters: [query('profile', 'profile id'), query('since', 'ISO-8601 or ms'), query('until', 'ISO-8601 or ms'), query('actor', 'actor'), query('action', 'action'), query('limit', 'max records', { type: 'integer' })],
      }),
    },
    '/api/cache/stats': { get: op('Every cache in the process', { '200': ok({ type: 'object', properties: { caches: { type: 'array', items: ref('CacheStats') } } }), ...common }) },
    '/api/cache/clear': { post: op('Clear all caches (admin)', { '200': ok({ type: 'object', properties: { cleared: { type: 'array', items: str } } }), ...common }) },
    '/api/cache/clear/{name}': {
      post: op('Clear one cache (admin)', { '200': ok({ type: 'object', properties: { cleared: { type: 'array', items: str } } }), ...common, '404': errorRef('CACHE_NOT_FOUND') }, { parameters: [pathParam('name', 'cache name')] }),
    },
    '/api/tokens': {
      get: op('List tokens, never secrets (admin)', { '200': ok({ type: 'object', properties: { tokens: { type: 'array', items: ref('TokenInfo') } } }), ...common }),
      post: op('Create a token; the secret is shown once (admin)', { '201': ok({ allOf: [ref('TokenInfo'), { type: 'object', properties: { token: str } }] }, 'created'), ...withBody }, { requestBody: jsonBody(ref('TokenCreate')) }),
    },
    '/api/tokens/{id}': {
      patch: op('Change a token\'s role and/or grants (admin, within its own scope); its open /yjs sockets are closed or downgraded at once', { '200': ok(ref('TokenInfo')), ...withBody, '404': errorRef('TOKEN_NOT_FOUND'), '409': errorRef('TOKEN_LAST_ADMIN') }, {
        parameters: [pathParam('id', 'token id')],
        requestBody: jsonBody(ref('TokenPatch')),
      }),
      delete: op('Revoke a token (admin, within its own scope); its open /yjs sockets are closed (4401) before the answer', { '204': { description: 'revoked' }, ...common, '404': errorRef('TOKEN_NOT_FOUND'), '409': errorRef('TOKEN_LAST_ADMIN') }, { parameters: [pathParam('id', 'token id')] }),
    },
    '/api/peers': {
      get: op('Peers with sync status (admin)', {
        '200': ok({ type: 'object', properties: { sync: { enum: ['available', 'unavailable'] }, self: { type: 'object', properties: { publicKey: str, fingerprint: str } }, peers: { type: 'array', items: ref('Peer') } } }),
        ...common,
      }),
      post: op('Add a peer (extension, admin); ?dryRun=true checks it and answers the record without storing it', { '201': ok(ref('Peer'), 'added'), '200': ok(ref('Peer'), 'dryRun: what would be added'), ...withBody, '409': errorRef('PEER_EXISTS') }, {
        parameters: [query('dryRun', 'true: validate and answer the fingerprint, store nothing', { enum: ['true', 'false'] })],
        requestBody: jsonBody(ref('PeerCreate')),
      }),
    },
    '/api/peers/{id}': {
      delete: op('Remove a peer added at run time (extension, admin)', { '204': { description: 'removed' }, ...common, '404': errorRef('PEER_NOT_FOUND') }, { parameters: [pathParam('id', 'peer id')] }),
    },
    '/api/changes': {
      get: op(
        'Change feed (Server-Sent Events): one `change` event per committed change, label move and deletion; resume with Last-Event-ID',
        {
          '200': {
            description:
              'text/event-stream. Events: `change` (id EPOCH-LSN, data ChangeEvent), then after the catch-up one `ready` (no id, data { heartbeatMs, position }); `: hb` comment lines keep idle streams open',
            content: { 'text/event-stream': { schema: { type: 'string' }, itemSchema: ref('ChangeEvent') } },
          },
          ...common,
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
      get: op('Fleet members and bus status; { bus: null, members: [] } without a bus (admin)', { '200': ok(ref('Cluster')), ...common }),
    },
    '/api/sync': {
      post: op('One-shot sync with all peers; resolves when converged or timed out (admin)', { '200': ok({ type: 'object', properties: { converged: { type: 'boolean' }, peers: { type: 'array' }, durationMillis: { type: 'number' } } }), ...withBody, '503': errorRef('SYNC_UNAVAILABLE') }, {
        requestBody: jsonBody({ type: 'object', properties: { timeoutMs: { type: 'integer' } } }, false),
      }),
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'profilesync node API', version: '1', description: 'Errors: { "error": { "code", "message" } }; codes and statuses in docs/api.md. WebSockets: /sync (peer protocol), /yjs/{profileId} (y-websocket; ?token=TOKEN).' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas },
    security: [{ bearer: [] }],
    paths,
  };
}
