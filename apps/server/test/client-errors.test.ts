/**
 * What the HTTP parser refuses before there is a request (oversized headers, bytes that are not
 * HTTP, a request too slow to arrive) and bodies over a route's limit: every answer has the API's
 * error shape `{ error: { code, message, details? } }` with a stable code, the limits it names
 * are in bytes, and the node keeps serving. Real node on 127.0.0.1, raw sockets.
 */
import { maxHeaderSize } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientErrorHandler } from '../src/client-errors.js';
import { LOG_IMPORT_BODY_LIMIT } from '../src/routes/transfer.js';
import { ADMIN, http, profileInput, rawHttp, startTestServer, type TestServer } from './helpers.js';

const BODY_LIMIT = 64 * 1024;
let t: TestServer;

beforeAll(async () => {
  t = await startTestServer({ bodyLimit: BODY_LIMIT });
});
afterAll(async () => {
  await t?.stop();
});

const lsn = () => t.server.node.log.info().lastLsn;

describe('what the HTTP parser refuses', () => {
  it('headers over the size limit: 431 REQUEST_HEADERS_TOO_LARGE naming the limit in bytes, the connection closed, the node serving on', async () => {
    const before = lsn();
    const r = await rawHttp(t.url, `GET /api/profiles HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${ADMIN}\r\nx-request-id: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.headers.get('connection')).toBe('close');
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.body).toEqual({
      error: {
        code: 'REQUEST_HEADERS_TOO_LARGE',
        message: `the request line and headers are larger than the limit of ${maxHeaderSize} bytes`,
        details: { limitBytes: maxHeaderSize },
      },
    });
    // fetch sees the same answer
    const f = await http(t.url, 'GET', '/api/profiles', { headers: { 'x-request-id': 'a'.repeat(20_000) } });
    expect([f.status, f.body.error.code]).toEqual([431, 'REQUEST_HEADERS_TOO_LARGE']);
    expect((await http(t.url, 'GET', '/healthz', { token: null })).status).toBe(200);
    expect(lsn()).toBe(before);
  });

  it('bytes that are not HTTP: 400 REQUEST_INVALID with the parser reason, the connection closed', async () => {
    const header = await rawHttp(t.url, 'GET /api/profiles HTTP/1.1\r\nhost: 127.0.0.1\r\nno colon here\r\n\r\n');
    expect(header.status).toBe(400);
    expect(header.body).toEqual({ error: { code: 'REQUEST_INVALID', message: 'malformed HTTP request', details: { reason: expect.stringMatching(/^HPE_/) } } });
    const notHttp = await rawHttp(t.url, '\u0001\u0002 hello there\r\n\r\n');
    expect(notHttp.status).toBe(400);
    expect(notHttp.body.error.code).toBe('REQUEST_INVALID');
    expect((await http(t.url, 'GET', '/healthz', { token: null })).status).toBe(200);
  });

  it('a request that did not arrive in time: 408 REQUEST_TIMEOUT (the answer the handler writes on a real socket)', async () => {
    // Node raises ERR_HTTP_REQUEST_TIMEOUT only after headersTimeout (60 s) checked every 30 s:
    // the handler is driven directly on a real TCP connection instead of waiting for it
    const handler = clientErrorHandler();
    const server: Server = createServer((socket) => handler(Object.assign(new Error('request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const r = await rawHttp(`http://127.0.0.1:${port}`, 'GET / HTTP/1.1\r\n');
      expect(r.status).toBe(408);
      expect(r.body).toEqual({ error: { code: 'REQUEST_TIMEOUT', message: 'the request (its headers, or its whole body) did not arrive in time' } });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('bodies over the limit name it', () => {
  it('413 REQUEST_TOO_LARGE: the message and details.limitBytes give the route limit (body_limit for JSON routes)', async () => {
    const before = lsn();
    const over = await http(t.url, 'POST', '/api/profiles', { body: profileInput('big', { systemMessage: 'x'.repeat(100 * 1024) }) });
    expect(over.status).toBe(413);
    expect(over.body).toEqual({
      error: { code: 'REQUEST_TOO_LARGE', message: `request body is larger than the limit of ${BODY_LIMIT} bytes (body_limit)`, details: { limitBytes: BODY_LIMIT } },
    });
    // a log import has its own, larger bound (a declared length over it is refused before reading)
    const importLog = await rawHttp(
      t.url,
      `POST /api/import/log HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${ADMIN}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${LOG_IMPORT_BODY_LIMIT + 1}\r\nconnection: close\r\n\r\n`,
    );
    expect(importLog.status).toBe(413);
    expect(importLog.body).toEqual({
      error: { code: 'REQUEST_TOO_LARGE', message: `request body is larger than the limit of ${LOG_IMPORT_BODY_LIMIT} bytes`, details: { limitBytes: LOG_IMPORT_BODY_LIMIT } },
    });
    expect(lsn()).toBe(before);
  });
});
