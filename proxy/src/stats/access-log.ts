// Access-log lines, one per HTTP exchange and one per opaque TCP connection,
// in one of two formats chosen once at start:
// - `json`: the record's fields (request-record.ts, connection-record.ts);
// - `text`: Envoy's default format, field for field, so tools that read
//   Envoy's lines read these:
//   [START] "METHOD PATH PROTOCOL" CODE FLAGS BYTES_RECEIVED BYTES_SENT DURATION_MS
//   UPSTREAM_SERVICE_TIME "X-FORWARDED-FOR" "USER-AGENT" "X-REQUEST-ID" "AUTHORITY" "UPSTREAM_HOST"
//   followed by the direction. Fields the proxy does not know are "-".
import type { AccessLogFormat } from '../../../src/shared/contract.ts';
import type { ConnectionRecord } from './connection-record.ts';
import type { RequestRecord } from './request-record.ts';

export interface AccessLogLines {
  request(record: RequestRecord): string;
  connection(record: ConnectionRecord): string;
}

export function accessLogLines(format: AccessLogFormat): AccessLogLines {
  return format === 'json' ? JSON_LINES : TEXT_LINES;
}

const JSON_LINES: AccessLogLines = {
  request: (record) => JSON.stringify(record),
  connection: (record) =>
    JSON.stringify({
      timestamp: new Date(record.timestamp).toISOString(),
      direction: record.direction,
      protocol: 'tcp',
      requestBytes: record.bytesFromClient,
      responseBytes: record.bytesToClient,
      durationMs: Math.round(record.durationMs * 1000) / 1000,
      responseFlags: record.responseFlags,
      closeReason: record.closeReason,
      downstream: record.downstream,
      upstream: record.upstream,
    }),
};

const TEXT_LINES: AccessLogLines = {
  request: (r) =>
    `[${new Date(r.timestamp).toISOString()}] "${r.method} ${quoted(r.path)} ${r.protocol}" ${r.status} ${r.responseFlags} ${r.requestBytes} ${r.responseBytes} ${Math.round(r.durationMs)} - "-" "${quoted(r.userAgent)}" "${quoted(r.requestId)}" "${quoted(r.authority)}" "${r.upstream}" ${r.direction}`,
  connection: (r) =>
    `[${new Date(r.timestamp).toISOString()}] "- - -" 0 ${r.responseFlags} ${r.bytesFromClient} ${r.bytesToClient} ${Math.round(r.durationMs)} - "-" "-" "-" "-" "${r.upstream}" ${r.direction}`,
};

/** A request's own text inside quotes: "-" when empty, quotes and control bytes escaped. */
function quoted(value: string): string {
  if (value === '') return '-';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control bytes is the point
  return /["\\\x00-\x1f\x7f]/.test(value) ? JSON.stringify(value).slice(1, -1) : value;
}
