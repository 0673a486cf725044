// Value grammars shared by the configuration file and the pod override
// annotations. Each parser returns the parsed value or a sentence saying what
// was expected, so the caller can name the key and the value in its message.
import ipaddr from 'ipaddr.js';
import { quoteValue } from '../echo.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; expected: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(expected: string): Parsed<T> => ({ ok: false, expected });

/** Splits a comma (or newline) separated list, dropping blanks around items. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function parseBoolean(text: string): Parsed<boolean> {
  if (text === 'true') return ok(true);
  if (text === 'false') return ok(false);
  return fail('expected "true" or "false"');
}

export function parsePort(text: string): Parsed<number> {
  if (!/^[0-9]{1,5}$/.test(text)) return fail('expected a port number from 1 to 65535');
  const port = Number(text);
  if (port < 1 || port > 65535) return fail('expected a port number from 1 to 65535');
  return ok(port);
}

/** A comma list of ports; an empty string is an empty list. */
export function parsePortList(text: string): Parsed<number[]> {
  const ports: number[] = [];
  for (const item of splitList(text)) {
    const port = parsePort(item);
    if (!port.ok)
      return fail(`${quoteValue(item)} is not a port: a comma-separated list of ports 1-65535`);
    ports.push(port.value);
  }
  return ok(ports);
}

/** `*` (every port) or a port list; an empty string captures nothing. */
export function parsePortSelection(text: string): Parsed<'*' | number[]> {
  if (text.trim() === '*') return ok('*');
  const list = parsePortList(text);
  return list.ok ? list : fail(`expected "*" or ${list.expected.replace(/^.*?: /, '')}`);
}

export type AddressFamily = 'ipv4' | 'ipv6';

/** A CIDR sorted into its address family, as the init program renders it. */
export interface CidrRange {
  readonly family: AddressFamily;
  /** `address/prefix` in canonical form, exactly as iptables takes it after `-d`. */
  readonly text: string;
}

const CIDR_EXPECTED = 'expected an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or fd00::/8';

/**
 * An IPv4 or IPv6 CIDR in canonical form (`10.0.0.0/8`, `2001:db8::/32`). A bare
 * address is taken as a host route (/32 or /128), as istio-iptables does. The
 * one CIDR grammar: the configuration, the annotations (so the webhook refuses
 * at admission what the init container would) and outrigger-iptables' flags.
 */
export function parseCidrRange(text: string): Parsed<CidrRange> {
  const [address = '', prefix, ...rest] = text.split('/');
  if (rest.length > 0) return fail(CIDR_EXPECTED);
  // ipaddr.js and node:net accept `fe80::1%eth0`, but ip6tables refuses a zone
  // id: a rule matches an address, whatever interface it arrived on.
  if (address.includes('%'))
    return fail(`${CIDR_EXPECTED}; a zone id (%interface) cannot be matched by iptables`);
  const v4 = ipaddr.IPv4.isValidFourPartDecimal(address);
  if (!v4 && !ipaddr.IPv6.isValid(address)) return fail(CIDR_EXPECTED);
  const max = v4 ? 32 : 128;
  if (prefix !== undefined && !/^[0-9]{1,3}$/.test(prefix)) {
    return fail(`expected a prefix length from 0 to ${max} after "/"`);
  }
  const bits = prefix === undefined ? max : Number(prefix);
  if (bits > max) return fail(`expected a prefix length from 0 to ${max} after "/"`);
  return ok({ family: v4 ? 'ipv4' : 'ipv6', text: `${ipaddr.parse(address).toString()}/${bits}` });
}

/** The CIDR grammar of parseCidrRange, giving the canonical text alone. */
export function parseCidr(text: string): Parsed<string> {
  const range = parseCidrRange(text);
  return range.ok ? ok(range.value.text) : range;
}

/** A comma list of CIDRs; an empty string is an empty list. */
export function parseCidrList(text: string): Parsed<string[]> {
  const cidrs: string[] = [];
  for (const item of splitList(text)) {
    const cidr = parseCidr(item);
    if (!cidr.ok) return fail(`${quoteValue(item)} is not a CIDR: ${cidr.expected}`);
    cidrs.push(cidr.value);
  }
  return ok(cidrs);
}

/** `*` (every destination) or a CIDR list; an empty string captures nothing. */
export function parseCidrSelection(text: string): Parsed<'*' | string[]> {
  if (text.trim() === '*') return ok('*');
  return parseCidrList(text);
}

export const QUANTITY = /^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[mkMGTPE]|[KMGTPE]i)?$/;
const SUFFIX_SCALE: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * A Kubernetes resource quantity (`250m`, `64Mi`, `1.5`, `1e3`), returned as its
 * numeric value so requests and limits can be compared.
 */
export function parseQuantity(text: string): Parsed<number> {
  const match = QUANTITY.exec(text);
  if (!match) return fail('expected a Kubernetes quantity such as 100m, 0.5, 128Mi or 1Gi');
  const number = Number(match[1]);
  const suffix = match[3] ?? '';
  if (/^[eE]/.test(suffix)) return ok(number * 10 ** Number(suffix.slice(1)));
  return ok(number * (SUFFIX_SCALE[suffix] ?? 1));
}

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

/**
 * `name: value` pairs, one per line or comma-separated, as the
 * addRequestHeaders / addResponseHeaders annotations and the proxy's
 * OUTRIGGER_ADD_*_HEADERS variables take them. One grammar for both, so a value
 * the injector accepts is read the same way by the proxy.
 */
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

/**
 * A network interface name as Linux takes it (net/core/dev.c dev_valid_name:
 * 1 to 15 bytes, not `.` or `..`, no `/`, `:` or white space), narrowed to
 * the characters interface names use in practice, with iptables' trailing `+`
 * wildcard. A leading `-` is refused so that a flag (`-c --dry-run`) is never
 * mistaken for a name.
 */
export function parseInterfaceName(text: string): Parsed<string> {
  if (
    !/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,13}[A-Za-z0-9_.+-]?$/.test(text) ||
    text === '.' ||
    text === '..'
  )
    return fail(
      'expected an interface name of 1 to 15 letters, digits, _ . or - (not first), optionally ending in the + wildcard',
    );
  return ok(text);
}

/** A container image reference: no whitespace, not empty. */
export function parseImage(text: string): Parsed<string> {
  if (text === '' || /\s/.test(text))
    return fail(
      'expected a container image reference such as registry.example/outrigger/proxy:1.0',
    );
  return ok(text);
}

/** RFC 1123 subdomain, as Kubernetes names ConfigMaps (apimachinery IsDNS1123Subdomain). */
export const DNS1123_SUBDOMAIN =
  /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_SUBDOMAIN_MAX = 253;

/**
 * The name of a traffic policy ConfigMap (sidecar.outrigger.dev/policy and the
 * configuration's policy keys), or an empty string for "no policy", which opts
 * a pod or namespace out of a default.
 */
export function parsePolicyName(text: string): Parsed<string> {
  if (text === '') return ok('');
  if (text.length > DNS1123_SUBDOMAIN_MAX || !DNS1123_SUBDOMAIN.test(text)) {
    return fail(
      `expected a ConfigMap name (a DNS-1123 subdomain: at most ${DNS1123_SUBDOMAIN_MAX} lower-case letters, digits, "-" and ".", starting and ending with a letter or digit), or "" for no policy`,
    );
  }
  return ok(text);
}
