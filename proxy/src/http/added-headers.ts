// Headers the proxy adds to HTTP messages. They are the same for every request,
// so the bytes to insert are encoded once at start and reused for each message.
import { parseHeaderPairs } from '../../../src/config/values.ts';

export interface HeaderPair {
  name: string;
  value: string;
}

/**
 * Parses `name: value` pairs, one per line or comma-separated, with the same
 * grammar the injector validated the annotation with. Returns the pairs, or a
 * sentence saying what is wrong.
 */
export function parseHeaderList(raw: string): HeaderPair[] | string {
  const parsed = parseHeaderPairs(raw);
  return parsed.ok ? parsed.value.map(([name, value]) => ({ name, value })) : parsed.expected;
}

/** The header lines to insert before a header block's final CRLF, or undefined for none. */
export function encodeHeaderLines(pairs: readonly HeaderPair[]): Buffer | undefined {
  if (pairs.length === 0) return undefined;
  return Buffer.from(pairs.map((p) => `${p.name}: ${p.value}\r\n`).join(''), 'latin1');
}

/** Outbound request headers: pod identity (when enabled) then the configured pairs. */
export function outboundRequestHeaders(options: {
  forwardPodIdentity: boolean;
  podIp: string;
  podName: string;
  extra: readonly HeaderPair[];
}): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  if (options.forwardPodIdentity) {
    if (options.podIp) pairs.push({ name: 'X-Forwarded-For', value: options.podIp });
    if (options.podName) pairs.push({ name: 'X-Client-Hostname', value: options.podName });
  }
  return [...pairs, ...options.extra];
}
