// Values that came from outside (an annotation, a uid, a flag) are echoed back
// in deny messages and log lines, and their size is whatever the sender chose:
// a 2 MiB annotation would become a 2 MiB log line and a 2 MiB answer. Every
// such echo goes through here and shows a prefix and the original length.

/** Characters of a value shown before it is cut; enough for any honest value. */
export const ECHO_LIMIT = 256;

/**
 * The value as it is when short; otherwise its first `limit` characters (never
 * splitting a surrogate pair) and how long it was.
 */
export function echoText(value: string, limit = ECHO_LIMIT): string {
  if (value.length <= limit) return value;
  return `${prefix(value, limit)}… (${value.length} characters)`;
}

/**
 * The value as a JSON string literal when short; otherwise a quoted prefix and
 * the original length outside the quotes, so the quotes never lie about what
 * the value held: `"aaaa…" (2097152 characters)`.
 */
export function quoteValue(value: unknown, limit = ECHO_LIMIT): string {
  if (typeof value !== 'string') {
    const json = JSON.stringify(value) ?? String(value);
    return json.length <= limit
      ? json
      : `${prefix(json, limit)}… (${json.length} characters of JSON)`;
  }
  if (value.length <= limit) return JSON.stringify(value);
  return `${JSON.stringify(`${prefix(value, limit)}…`)} (${value.length} characters)`;
}

function prefix(value: string, limit: number): string {
  const code = value.charCodeAt(limit - 1);
  // A high surrogate at the cut would leave half a character behind.
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit);
}
