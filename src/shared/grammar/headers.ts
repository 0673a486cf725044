// HTTP header lines to add: `name: value` pairs, as the addRequestHeaders /
// addResponseHeaders annotations and the proxy's OUTRIGGER_ADD_*_HEADERS
// variables take them. One grammar for both, so a value the injector accepts is
// read the same way by the proxy.
import { quoteValue } from '../echo.ts';
import { fail, ok, type Parsed } from './parsed.ts';

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// A comma starts a new pair only when what follows looks like `name:`, so a
// value may itself hold commas (`Accept: a, b`).
const PAIR_SEPARATOR = /,(?=\s*[!#$%&'*+\-.^_`|~0-9A-Za-z]+\s*:)/;
// Header names the proxy must never add: they change how the message is framed.
const FRAMING_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'upgrade',
  'host',
]);

/** `name: value` pairs, one per line or comma-separated. */
export function parseHeaderPairs(text: string): Parsed<Array<[string, string]>> {
  const pairs: Array<[string, string]> = [];
  for (const line of text.split(/\r?\n/)) {
    for (const raw of line.split(PAIR_SEPARATOR)) {
      const item = raw.trim();
      if (item === '') continue;
      const colon = item.indexOf(':');
      const name = colon === -1 ? item : item.slice(0, colon).trim();
      const value = colon === -1 ? '' : item.slice(colon + 1).trim();
      if (colon === -1 || !HEADER_NAME.test(name)) {
        return fail(
          `${quoteValue(item)} is not a header: expected "name: value" pairs, one per line or comma-separated`,
        );
      }
      if (FRAMING_HEADERS.has(name.toLowerCase())) {
        return fail(`header ${quoteValue(name)} controls message framing and cannot be added`);
      }
      // RFC 9110 §5.5: visible ASCII, spaces, tabs and obs-text only.
      if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) {
        return fail(`header ${quoteValue(name)} has a control character in its value`);
      }
      pairs.push([name, value]);
    }
  }
  return ok(pairs);
}
