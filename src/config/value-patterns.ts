// The value grammars of values.ts as JSON Schema formats. The injector checks a
// format with the parser itself (TypeBox's FormatRegistry), so the two cannot
// disagree there; Helm knows no custom format, so values.schema.json carries the
// regular expression below instead, which `helm install/upgrade` and
// `helm lint --strict` enforce. Each expression accepts exactly what its parser
// accepts (test/config/value-patterns.test.ts), except IPv6 addresses, where it
// only checks the characters and the prefix length: a full IPv6 expression is
// unreadable, and the pre-install/pre-upgrade hook (`outrigger validate-config`)
// runs the parser itself on the rendered configuration anyway.
import { FormatRegistry } from '@sinclair/typebox';
import {
  type Parsed,
  parseCidr,
  parseCidrSelection,
  parsePortSelection,
} from '../shared/grammar/index.ts';

const IPV4_OCTET = '(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
const IPV4 = `${IPV4_OCTET}(\\.${IPV4_OCTET}){3}`;
/** Up to three digits with a value from 0 to 32, or to 128 (parseCidrRange allows leading zeros). */
const PREFIX_32 = '(0{0,2}[0-9]|0?[12][0-9]|0?3[0-2])';
const PREFIX_128 = '(0{0,2}[0-9]|0?[1-9][0-9]|1[01][0-9]|12[0-8])';
const IPV6_LOOSE = '[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*';
const CIDR = `(${IPV4}(/${PREFIX_32})?|${IPV6_LOOSE}(/${PREFIX_128})?)`;
const PORT =
  '(0{0,4}[1-9]|0{0,3}[1-9][0-9]|0{0,2}[1-9][0-9]{2}|0?[1-9][0-9]{3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';

/** splitList's grammar: items separated by commas or newlines, blanks around and between ignored. */
const list = (item: string) => `[\\s,]*(${item}([\\s,]*[,\\n][\\s,]*${item})*)?[\\s,]*`;

/** Each format's parser (what the injector runs) and expression (what Helm runs). */
export const VALUE_FORMATS = {
  cidr: { parse: parseCidr, pattern: `^${CIDR}$` },
  'cidr-selection': {
    parse: parseCidrSelection,
    pattern: `^(\\s*\\*\\s*|${list(CIDR)})$`,
  },
  'port-selection': {
    parse: parsePortSelection,
    pattern: `^(\\s*\\*\\s*|${list(PORT)})$`,
  },
} as const satisfies Record<string, { parse: (text: string) => Parsed<unknown>; pattern: string }>;

export type ValueFormat = keyof typeof VALUE_FORMATS;

for (const [format, { parse }] of Object.entries(VALUE_FORMATS)) {
  if (!FormatRegistry.Has(format)) FormatRegistry.Set(format, (text) => parse(text).ok);
}

/** What the parser says a value of this format should be, when `format` is one of ours. */
export function formatExpectation(format: unknown, value: unknown): string | undefined {
  if (typeof format !== 'string' || !Object.hasOwn(VALUE_FORMATS, format)) return undefined;
  const parsed = VALUE_FORMATS[format as ValueFormat].parse(String(value));
  return parsed.ok ? undefined : parsed.expected;
}
