import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, newId } from '@reelay/core';

/** Node's parser codes for requests it stops reading, and what the client is told. */
function parserRefusal(code: string | undefined): ApiError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ApiError(431, 'invalid_request', 'Request headers are larger than this server accepts (16 KB in all)');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ApiError(408, 'invalid_request', 'The request was not received in time');
    case 'HPE_INVALID_METHOD':
      return new ApiError(400, 'invalid_request', 'Malformed HTTP request: unknown method');
    case 'HPE_INVALID_URL':
      return new ApiError(400, 'invalid_request', 'Malformed HTTP request: the request target has bytes a URL cannot hold');
    case 'HPE_INVALID_HEADER_TOKEN':
      return new ApiError(400, 'invalid_request', 'Malformed HTTP request: a header name or value has bytes a header cannot hold');
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'invalid_request', 'Malformed HTTP request: Content-Length is invalid or conflicts with Transfer-Encoding');
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return new ApiError(400, 'invalid_request', 'Malformed HTTP request: the chunked body is not valid');
    default:
      return new ApiError(400, 'invalid_request', 'Malformed HTTP request');
  }
}

/** A complete HTTP/1.1 answer in the API's error shape, for a socket no Express response exists on. */
function rawAnswer(err: ApiError): string {
  const body = JSON.stringify(err.toBody());
  const reason =
    { 400: 'Bad Request', 405: 'Method Not Allowed', 408: 'Request Timeout', 417: 'Expectation Failed', 431: 'Request Header Fields Too Large' }[err.status] ??
    'Error';
  return [
    `HTTP/1.1 ${err.status} ${reason}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Request-Id: ${newId('req')}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** Sends the answer, then closes: at once once it is written, or after a second for a client that keeps sending. */
function endWith(socket: Duplex, answer: string): void {
  socket.once('finish', () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
  socket.end(answer);
}

/**
 * Answers what Node's HTTP server answers itself, in the API's error shape: requests its parser
 * refuses (bad header bytes, oversized headers, broken chunking — by default a bare 400/431 with
 * no body), an `Expect` other than 100-continue (a bare 417), and CONNECT (by default the socket
 * is just closed).
 */
export function guardHttpServer(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node's own handler: write only when no response of this socket has started, or the
    // client would read two answers mixed.
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    endWith(socket, rawAnswer(parserRefusal(err.code)));
  });
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const err = new ApiError(417, 'invalid_request', 'Expect: only 100-continue is supported', 'Expect');
    const body = JSON.stringify(err.toBody());
    res.writeHead(417, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'x-request-id': newId('req') });
    res.end(body);
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    endWith(socket, rawAnswer(new ApiError(405, 'invalid_request', 'CONNECT is not supported: this is not a proxy')));
  });
}
