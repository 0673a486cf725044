// TCP ports, lists of them, and `*` selections.
import { parseListOf, parseSelection } from './lists.ts';
import { fail, ok, type Parsed } from './parsed.ts';

const PORT_LIST = 'a comma-separated list of ports 1-65535';

export function parsePort(text: string): Parsed<number> {
  if (!/^[0-9]{1,5}$/.test(text)) return fail('expected a port number from 1 to 65535');
  const port = Number(text);
  if (port < 1 || port > 65535) return fail('expected a port number from 1 to 65535');
  return ok(port);
}

/** A port to listen on: 1 to 65535, or 0 for one the kernel picks (tests, tools). */
export function parseListeningPort(text: string): Parsed<number> {
  if (/^[0-9]{1,5}$/.test(text) && Number(text) <= 65535) return ok(Number(text));
  return fail('expected a port number from 0 to 65535 (0: any free port)');
}

/** A comma list of ports; an empty string is an empty list. */
export function parsePortList(text: string): Parsed<number[]> {
  return parseListOf(text, parsePort, 'a port', () => PORT_LIST);
}

/** `*` (every port) or a port list; an empty string captures nothing. */
export function parsePortSelection(text: string): Parsed<'*' | number[]> {
  const selection = parseSelection(text, parsePortList);
  return selection.ok ? selection : fail(`expected "*" or ${PORT_LIST}`);
}
