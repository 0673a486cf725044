// IPv4 and IPv6 CIDRs: the one grammar for the configuration, the annotations
// (so the webhook refuses at admission what the init container would) and
// outrigger-iptables' flags.
import ipaddr from 'ipaddr.js';
import { parseListOf, parseSelection } from './lists.ts';
import { fail, ok, type Parsed } from './parsed.ts';

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
 * address is taken as a host route (/32 or /128), as istio-iptables does.
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

/** A comma list of CIDRs sorted into families; an empty string is an empty list. */
export function parseCidrRangeList(text: string): Parsed<CidrRange[]> {
  return parseListOf(text, parseCidrRange, 'a CIDR', (expected) => expected);
}

/** A comma list of CIDRs in canonical text; an empty string is an empty list. */
export function parseCidrList(text: string): Parsed<string[]> {
  return parseListOf(text, parseCidr, 'a CIDR', (expected) => expected);
}

/** `*` (every destination) or a CIDR list; an empty string captures nothing. */
export function parseCidrSelection(text: string): Parsed<'*' | string[]> {
  return parseSelection(text, parseCidrList);
}

/** `*` or a CIDR list sorted into families (what outrigger-iptables renders). */
export function parseCidrRangeSelection(text: string): Parsed<'*' | CidrRange[]> {
  return parseSelection(text, parseCidrRangeList);
}
