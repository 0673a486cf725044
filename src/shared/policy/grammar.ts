// The policy's value grammars that the proxy's data path needs too: durations
// and upstream addresses. TypeBox-free, like names.ts, so the L7 path can
// compile routes without loading the schema library; schema.ts builds its
// string patterns from these.

/** `250ms`, `1s`, `1.5s`, `2m`: a duration as Envoy and Istio write it. */
export const DURATION_PATTERN = /^(\d+(\.\d+)?)(ms|s|m)$/;

/** Milliseconds of a Duration string the schema admitted. */
export function durationMs(text: string): number {
  const m = DURATION_PATTERN.exec(text);
  if (!m) throw new RangeError(`not a duration: ${text}`);
  const unit = m[3] === 'ms' ? 1 : m[3] === 's' ? 1000 : 60_000;
  return Number(m[1]) * unit;
}

/** `host:port`, the host a DNS name, an IPv4 address or a bracketed IPv6 address. */
export const UPSTREAM_ADDRESS_PATTERN =
  /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?):([0-9]{1,5})$/;
