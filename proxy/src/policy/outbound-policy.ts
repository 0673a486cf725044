// Block All's allow list, compiled once per policy generation. An entry lets
// a captured outbound connection through when every condition it gives holds:
//
// | entry gives       | decided                | from                                    |
// |-------------------|------------------------|-----------------------------------------|
// | cidr and/or ports | at accept              | the original destination                |
// | host (and maybe   | after the first bytes, | the HTTP Host or the TLS SNI (first-    |
// | cidr, ports)      | if nothing else allows | bytes.ts), cidr/ports at accept as well |
//
// `decide` answers ALLOW when an entry without `host` matches, else the host
// patterns of the entries whose cidr and ports match (the connection waits
// for its first bytes), else BLOCK. Hosts are what the client says: an app
// can name an allowed host while connecting anywhere, unless the entry also
// pins cidr or ports. CIDRs use the repo's one grammar (src/config/values.ts).
import ipaddr from 'ipaddr.js';
import { parseCidr } from '../../../src/config/values.ts';
import type { Policy } from '../../../src/shared/policy/schema.ts';

export const ALLOW = 'allow';
export const BLOCK = 'block';

/** `api.example.com` matches that name only; `*.example.com` every name below it, not itself. */
export interface HostPattern {
  readonly exact?: string;
  /** `.example.com` for `*.example.com`. */
  readonly suffix?: string;
}

export type OutboundDecision = typeof ALLOW | typeof BLOCK | readonly HostPattern[];

interface CompiledEntry {
  range: [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined;
  ports: ReadonlySet<number> | undefined;
  host: HostPattern | undefined;
}

export class OutboundPolicy {
  private readonly entries: readonly CompiledEntry[];

  /** Undefined for allowAny: nothing to decide. */
  static compile(outbound: Policy['outbound']): OutboundPolicy | undefined {
    return outbound.mode === 'allowAny' ? undefined : new OutboundPolicy(outbound.allow);
  }

  private constructor(allow: Policy['outbound']['allow']) {
    this.entries = allow.map((entry) => ({
      range: entry.cidr === undefined ? undefined : compileCidr(entry.cidr),
      ports: entry.ports === undefined ? undefined : new Set(entry.ports),
      host: entry.host === undefined ? undefined : compileHost(entry.host),
    }));
  }

  decide(address: string, port: number): OutboundDecision {
    let parsed: ipaddr.IPv4 | ipaddr.IPv6 | null | undefined;
    const hosts: HostPattern[] = [];
    for (const entry of this.entries) {
      if (entry.ports !== undefined && !entry.ports.has(port)) continue;
      if (entry.range !== undefined) {
        parsed ??= parseAddress(address);
        if (parsed === null || !inRange(parsed, entry.range)) continue;
      }
      if (entry.host === undefined) return ALLOW;
      hosts.push(entry.host);
    }
    return hosts.length > 0 ? hosts : BLOCK;
  }
}

/** Whether a host named by the connection matches one of the patterns. */
export function hostAllowed(patterns: readonly HostPattern[], host: string): boolean {
  for (const pattern of patterns) {
    if (pattern.exact !== undefined ? host === pattern.exact : host.endsWith(pattern.suffix!)) {
      return true;
    }
  }
  return false;
}

function compileHost(host: string): HostPattern {
  const name = host.toLowerCase();
  return name.startsWith('*.') ? { suffix: name.slice(1) } : { exact: name };
}

function compileCidr(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  const cidr = parseCidr(text);
  // parsePolicy admitted only CIDRs this grammar accepts.
  if (!cidr.ok) throw new RangeError(`not a CIDR: ${text}`);
  return ipaddr.parseCIDR(cidr.value);
}

/** An IPv4-mapped IPv6 address (`::ffff:198.51.100.7`) is judged as the IPv4 it carries. */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    return ipaddr.process(address);
  } catch {
    return null;
  }
}

function inRange(
  address: ipaddr.IPv4 | ipaddr.IPv6,
  range: [ipaddr.IPv4 | ipaddr.IPv6, number],
): boolean {
  return address.kind() === range[0].kind() && address.match(range);
}
