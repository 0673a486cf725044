// Headers the proxy adds to HTTP messages. They are the same for every request,
// so the bytes to insert are encoded once at start and reused for each message.
import { ok, type Parsed, parseHeaderPairs } from '../../../src/shared/grammar/index.ts';

export interface HeaderPair {
  name: string;
  value: string;
}

/**
 * Parses `name: value` pairs, one per line or comma-separated, with the same
 * grammar the injector validated the annotation with.
 */
export function parseHeaderList(raw: string): Parsed<HeaderPair[]> {
  const parsed = parseHeaderPairs(raw);
  return parsed.ok ? ok(parsed.value.map(([name, value]) => ({ name, value }))) : parsed;
}

/** The header lines to insert before a header block's final CRLF, or undefined for none. */
export function encodeHeaderLines(pairs: readonly HeaderPair[]): Buffer | undefined {
  if (pairs.length === 0) return undefined;
  return Buffer.from(pairs.map((p) => `${p.name}: ${p.value}\r\n`).join(''), 'latin1');
}

/** Outbound request headers: pod identity (when enabled) then the configured pairs. */
export function outboundRequestHeaders(options: OutboundIdentity): HeaderPair[] {
  return [...identityPairs(options), ...options.extra];
}

export interface OutboundIdentity {
  forwardPodIdentity: boolean;
  podIp: string;
  podName: string;
  extra: readonly HeaderPair[];
}

function identityPairs(options: OutboundIdentity): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  if (options.forwardPodIdentity) {
    if (options.podIp) pairs.push({ name: 'X-Forwarded-For', value: options.podIp });
    if (options.podName) pairs.push({ name: 'X-Client-Hostname', value: options.podName });
  }
  return pairs;
}

/**
 * How an outbound request head that already carries identity fields is
 * rewritten: the pod IP is appended to the last X-Forwarded-For line (the
 * end of the list, `a, b`), and the app's X-Client-Hostname lines are
 * dropped so the pod name is the only value. Field names match
 * case-insensitively (parseHead records them).
 */
export interface IdentityRewrite {
  /** `, <pod IP>`, appended to an existing value; undefined without a pod IP. */
  forwardedForSuffix: Buffer | undefined;
  /** `<pod IP>`, for an existing but empty value. */
  forwardedForValue: Buffer | undefined;
  /** Whether the app's X-Client-Hostname lines are dropped (a pod name replaces them). */
  dropClientHostname: boolean;
  /** The lines to insert when the head has X-Forwarded-For already: all but that one. */
  insertWhenForwarded: Buffer | undefined;
}

/** The rewrite for these settings, or undefined when the pod's identity is not forwarded. */
export function identityRewrite(options: OutboundIdentity): IdentityRewrite | undefined {
  if (!options.forwardPodIdentity || (!options.podIp && !options.podName)) return undefined;
  const withoutForwardedFor = identityPairs(options).filter((p) => p.name !== 'X-Forwarded-For');
  return {
    forwardedForSuffix: options.podIp ? Buffer.from(`, ${options.podIp}`, 'latin1') : undefined,
    forwardedForValue: options.podIp ? Buffer.from(options.podIp, 'latin1') : undefined,
    dropClientHostname: options.podName !== '',
    insertWhenForwarded: encodeHeaderLines([...withoutForwardedFor, ...options.extra]),
  };
}
