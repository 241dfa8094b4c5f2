/**
 * What Node's HTTP parser refuses before there is a request (its 'clientError' event): headers
 * over the size limit, bytes that are not HTTP, a request not received in time. Node (and
 * Fastify's default handler) would answer these with a body of their own; here they get the
 * API's error shape `{ error: { code, message, details? } }` with a stable code, then the
 * connection is closed (the parser cannot go on on it).
 */
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody, type HttpError } from './http-errors.js';

/** The answer to a parser error (`err.code` is Node's: HPE_*, ERR_HTTP_REQUEST_TIMEOUT). */
export function clientErrorAnswer(err: { code?: string }): HttpError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        code: 'REQUEST_HEADERS_TOO_LARGE',
        message: `the request line and headers are larger than the limit of ${maxHeaderSize} bytes`,
        details: { limitBytes: maxHeaderSize },
      };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'REQUEST_TIMEOUT', message: 'the request (its headers, or its whole body) did not arrive in time' };
    default:
      return { status: 400, code: 'REQUEST_INVALID', message: 'malformed HTTP request', ...(err.code ? { details: { reason: err.code } } : {}) };
  }
}

const REASONS: Readonly<Record<number, string>> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

export interface ClientErrorLogger {
  info(obj: object, msg: string): void;
}

/**
 * A 'clientError' listener: writes the coded answer (unless the socket is gone, or a response
 * is already under way on it) and closes the connection.
 */
export function clientErrorHandler(logger?: ClientErrorLogger): (err: Error & { code?: string }, socket: Duplex) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const e = clientErrorAnswer(err);
    const reqId = randomUUID();
    logger?.info({ reqId, status: e.status, code: e.code, reason: err.code }, 'request refused by the HTTP parser');
    // a response being written on this connection (pipelined request) cannot be followed by another
    const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (!socket.writable || (current && !current.writableFinished)) {
      socket.destroy();
      return;
    }
    const body = JSON.stringify(errorBody(e));
    const head = [
      `HTTP/1.1 ${e.status} ${REASONS[e.status] ?? 'Error'}`,
      'content-type: application/json; charset=utf-8',
      `content-length: ${Buffer.byteLength(body)}`,
      'cache-control: no-store',
      `x-request-id: ${reqId}`,
      'connection: close',
    ].join('\r\n');
    socket.end(`${head}\r\n\r\n${body}`, () => socket.destroy());
  };
}
