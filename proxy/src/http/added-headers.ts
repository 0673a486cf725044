// Headers the proxy adds to HTTP messages. They are the same for every request,
// so the bytes to insert are encoded once at start and reused for each message.

export interface HeaderPair {
  name: string;
  value: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A comma starts a new pair only when what follows looks like `name:`, so values
// may themselves contain commas.
const PAIR_SEPARATOR = /,(?=\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*:)/;

/**
 * Parses `name: value` pairs, one per line or comma-separated. Returns the
 * pairs, or a sentence saying what is wrong.
 */
export function parseHeaderList(raw: string): HeaderPair[] | string {
  const pairs: HeaderPair[] = [];
  for (const line of raw.split(/\r?\n/)) {
    for (const item of line.split(PAIR_SEPARATOR)) {
      if (item.trim() === '') continue;
      const colon = item.indexOf(':');
      if (colon < 0) return `expected "name: value" pairs, got ${JSON.stringify(item.trim())}`;
      const name = item.slice(0, colon).trim();
      const value = item.slice(colon + 1).trim();
      if (!TOKEN.test(name)) return `${JSON.stringify(name)} is not a valid header name`;
      // Field values may hold visible ASCII, spaces and tabs (RFC 9110 §5.5).
      if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) {
        return `the value of ${name} holds a control character`;
      }
      pairs.push({ name, value });
    }
  }
  return pairs;
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
