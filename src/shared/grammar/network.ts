// Names and endpoints of the network around a pod: interface names, host:port.
import { parseListOf } from './lists.ts';
import { fail, ok, type Parsed } from './parsed.ts';
import { parsePort } from './ports.ts';

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

/** A comma list of interface names; an empty string is an empty list. */
export function parseInterfaceNameList(text: string): Parsed<string[]> {
  return parseListOf(text, parseInterfaceName, 'an interface name', (expected) => expected);
}

/** `host:port`, an IPv6 host in brackets (`[2001:db8::1]:80`). */
export function parseHostPort(text: string): Parsed<{ host: string; port: number }> {
  const match = /^\[?([^\]]+?)\]?:([0-9]{1,5})$/.exec(text);
  const port = match ? parsePort(match[2]!) : undefined;
  if (!match || !port?.ok) return fail('expected host:port, with a port from 1 to 65535');
  return ok({ host: match[1]!, port: port.value });
}
