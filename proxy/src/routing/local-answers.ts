// The answers the L7 path gives itself, in Envoy's words where it has them:
// no route (404), rate limited (429 with x-local-rate-limit and retry-after),
// an injected abort, an upstream that could not be reached or went away
// before answering (503), a request that is not HTTP/1 (400) or whose head is
// over the cap (431).

const http = process.getBuiltinModule('node:http');

export const NO_ROUTE_BODY = 'route not found\n';
export const RATE_LIMITED_BODY = 'local_rate_limited\n';
export const FAULT_ABORT_BODY = 'fault filter abort\n';
export const UPSTREAM_FAILED_BODY = 'upstream connect error or disconnect/reset before headers\n';
export const BAD_REQUEST_BODY = 'bad request\n';
export const HEAD_TOO_LARGE_BODY = 'request header fields too large\n';

/** `HTTP/1.1 status reason`, a plain-text body and the given extra lines (each ending CRLF). */
export function localAnswer(status: number, body: string, close: boolean, extra = ''): Buffer {
  const reason = http.STATUS_CODES[status] ?? 'Unknown';
  return Buffer.from(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}${close ? 'connection: close\r\n' : ''}\r\n${body}`,
    'latin1',
  );
}

/** The answers that do not vary, made once. */
const cache = new Map<string, Buffer>();
export function cachedAnswer(status: number, body: string, close: boolean): Buffer {
  const key = `${status} ${close} ${body}`;
  let bytes = cache.get(key);
  if (bytes === undefined) {
    bytes = localAnswer(status, body, close);
    if (cache.size < 1024) cache.set(key, bytes);
  }
  return bytes;
}
