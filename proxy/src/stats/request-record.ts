// What the proxy knows about one HTTP request/response exchange. One object per
// request, filled in place as the bytes go by and published when it completes.
import type { Direction } from '../connection-vocabulary.ts';

export class RequestRecord {
  direction: Direction;
  method: string;
  authority: string;
  path: string;
  /** Final status; 0 when the connection ended before a response. */
  status = 0;
  /** Request bytes on the wire as the client sent them (head + body framing). */
  requestBytes = 0;
  /** Request content bytes (after chunked decoding). */
  requestBodyBytes = 0;
  responseBytes = 0;
  responseBodyBytes = 0;
  /** performance.now() at the request's first byte. */
  startedAt: number;
  /** Milliseconds from the request's first byte to the response's first byte; -1 if none. */
  timeToFirstByteMs = -1;
  /** Milliseconds from the request's first byte to the response's last byte. */
  durationMs = 0;
  downstream: string;
  upstream: string;
  /** Wall-clock time the request started (ms since epoch), for logs. */
  timestamp: number;
  /** `HTTP/1.1` or `HTTP/1.0`, as the request line said. */
  protocol = 'HTTP/1.1';
  /** Envoy-style response flags (response-flags.ts); "-" when nothing went wrong. */
  responseFlags = '-';
  /** Kept only when the access log is on; '' when absent. */
  userAgent = '';
  requestId = '';

  constructor(
    direction: Direction,
    method: string,
    authority: string,
    path: string,
    startedAt: number,
    downstream: string,
    upstream: string,
  ) {
    this.direction = direction;
    this.method = method;
    this.authority = authority;
    this.path = path;
    this.startedAt = startedAt;
    this.downstream = downstream;
    this.upstream = upstream;
    this.timestamp = Date.now();
  }

  toJSON(): Record<string, unknown> {
    return {
      timestamp: new Date(this.timestamp).toISOString(),
      direction: this.direction,
      protocol: this.protocol,
      method: this.method,
      authority: this.authority,
      path: this.path,
      status: this.status,
      requestBytes: this.requestBytes,
      requestBodyBytes: this.requestBodyBytes,
      responseBytes: this.responseBytes,
      responseBodyBytes: this.responseBodyBytes,
      timeToFirstByteMs: round(this.timeToFirstByteMs),
      durationMs: round(this.durationMs),
      responseFlags: this.responseFlags,
      downstream: this.downstream,
      upstream: this.upstream,
      userAgent: this.userAgent || undefined,
      requestId: this.requestId || undefined,
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
