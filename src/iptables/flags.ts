// Turns `outrigger-iptables` arguments into CaptureSettings. Every value is
// checked here, before any rule is rendered or applied, so a typo in an
// annotation fails the init container with a message naming the flag instead
// of half-programming the pod's network namespace.
import { Command, Option } from 'commander';
import { IPTABLES_FLAGS, PORTS, PROXY_GID, PROXY_UID } from '../shared/contract.ts';
import { quoteValue } from '../shared/echo.ts';
import { parseCidrRange, parseInterfaceName } from '../shared/grammar/index.ts';
import { errors } from './errors.ts';
import type { CaptureSettings, Cidr, Invocation } from './settings.ts';

/** Raw option values as commander hands them over (all strings). */
interface RawFlags {
  p: string;
  z: string;
  u: string;
  g: string;
  m: string;
  b: string;
  d: string;
  i: string;
  x: string;
  q: string;
  o: string;
  c: string;
  dryRun: boolean;
  cleanup: boolean;
}

/** The proxy listens on these itself; redirecting them inbound would hide it from probes. */
const PROXY_OWN_PORTS = [PORTS.admin, PORTS.health, PORTS.prometheus] as const;

const MAX_ID = 4294967294; // (uid_t)-1 means "no change" to the kernel, so it is not a real id.

export interface Output {
  writeOut(text: string): void;
  writeErr(text: string): void;
}

const processOutput: Output = {
  writeOut: (text) => process.stdout.write(text),
  writeErr: (text) => process.stderr.write(text),
};

export function buildCommand(output: Output = processOutput): Command {
  const f = IPTABLES_FLAGS;
  return new Command('outrigger-iptables')
    .description(
      "Program the pod's network namespace so that TCP in and out goes through the Outrigger proxy.",
    )
    .addOption(
      new Option(`${f.outboundPort} <port>`, 'outbound capture port').default(
        String(PORTS.outboundCapture),
      ),
    )
    .addOption(
      new Option(`${f.inboundPort} <port>`, 'inbound capture port').default(
        String(PORTS.inboundCapture),
      ),
    )
    .addOption(
      new Option(`${f.proxyUid} <uid>`, 'proxy uid (never redirected)').default(String(PROXY_UID)),
    )
    .addOption(
      new Option(`${f.proxyGid} <gid>`, 'proxy gid (never redirected)').default(String(PROXY_GID)),
    )
    .addOption(new Option(`${f.mode} <mode>`, 'interception mode').default('REDIRECT'))
    .addOption(
      new Option(
        `${f.includeInboundPorts} <ports>`,
        "inbound ports to capture: '*', a comma list, or '' for none",
      ).default('*'),
    )
    .addOption(
      new Option(`${f.excludeInboundPorts} <ports>`, 'inbound ports never captured').default(''),
    )
    .addOption(
      new Option(
        `${f.includeOutboundIPRanges} <cidrs>`,
        "outbound CIDRs to capture: '*', a comma list, or '' for none",
      ).default('*'),
    )
    .addOption(
      new Option(`${f.excludeOutboundIPRanges} <cidrs>`, 'outbound CIDRs never captured').default(
        '',
      ),
    )
    .addOption(
      new Option(
        `${f.includeOutboundPorts} <ports>`,
        'outbound ports always captured (unless their CIDR is excluded)',
      ).default(''),
    )
    .addOption(
      new Option(`${f.excludeOutboundPorts} <ports>`, 'outbound ports never captured').default(''),
    )
    .addOption(
      new Option(
        `${f.excludeInterfaces} <names>`,
        'interfaces left alone in both directions',
      ).default(''),
    )
    .option('--dry-run', 'print the iptables-restore input for IPv4 and IPv6 and exit')
    .option('--cleanup', 'remove every chain and jump this program installs')
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: output.writeOut, writeErr: output.writeErr });
}

/**
 * Parses and validates the arguments (without the node and script paths).
 * Throws an OutriggerError (INVALID_FLAG) for a bad value, or commander's
 * CommanderError for an unknown flag, a missing value or --help.
 */
export function parseInvocation(args: readonly string[], output?: Output): Invocation {
  const command = buildCommand(output);
  command.parse([...args], { from: 'user' });
  const raw = command.opts<RawFlags>();
  const action = raw.dryRun
    ? raw.cleanup
      ? 'dry-run-cleanup'
      : 'dry-run'
    : raw.cleanup
      ? 'cleanup'
      : 'apply';
  return { action, settings: settingsFromFlags(raw) };
}

function settingsFromFlags(raw: RawFlags): CaptureSettings {
  const f = IPTABLES_FLAGS;
  if (raw.m === 'TPROXY') {
    throw errors.INVALID_FLAG(f.mode, raw.m, 'TPROXY is not implemented yet; use REDIRECT');
  }
  if (raw.m !== 'REDIRECT') throw errors.INVALID_FLAG(f.mode, raw.m, 'expected REDIRECT');

  const userExcludedInbound = portList(f.excludeInboundPorts, raw.d);
  return {
    mode: 'REDIRECT',
    outboundCapturePort: port(f.outboundPort, raw.p),
    inboundCapturePort: port(f.inboundPort, raw.z),
    proxyUid: id(f.proxyUid, raw.u),
    proxyGid: id(f.proxyGid, raw.g),
    inboundPorts: raw.b.trim() === '*' ? '*' : portList(f.includeInboundPorts, raw.b),
    excludeInboundPorts: unique([...PROXY_OWN_PORTS, ...userExcludedInbound]),
    includeOutboundCidrs: raw.i.trim() === '*' ? '*' : cidrList(f.includeOutboundIPRanges, raw.i),
    excludeOutboundCidrs: cidrList(f.excludeOutboundIPRanges, raw.x),
    includeOutboundPorts: portList(f.includeOutboundPorts, raw.q),
    excludeOutboundPorts: portList(f.excludeOutboundPorts, raw.o),
    excludeInterfaces: list(raw.c).map((name) => {
      const parsed = parseInterfaceName(name);
      if (!parsed.ok) throw errors.INVALID_FLAG(f.excludeInterfaces, name, parsed.expected);
      return parsed.value;
    }),
  };
}

/** Comma-separated items, trimmed; the empty string is the empty list. */
function list(value: string): string[] {
  if (value.trim() === '') return [];
  return value.split(',').map((item) => item.trim());
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

function port(flag: string, value: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= 65535)) throw errors.INVALID_FLAG(flag, value, 'expected a port 1-65535');
  return n;
}

function portList(flag: string, value: string): number[] {
  return unique(
    list(value).map((item) => {
      try {
        return port(flag, item);
      } catch {
        throw errors.INVALID_FLAG(flag, value, `${quoteValue(item)} is not a port 1-65535`);
      }
    }),
  );
}

function id(flag: string, value: string): number {
  const n = /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= 0 && n <= MAX_ID)) {
    throw errors.INVALID_FLAG(flag, value, `expected a numeric id 0-${MAX_ID}`);
  }
  return n;
}

function cidrList(flag: string, value: string): Cidr[] {
  const cidrs = list(value).map((item) => {
    const cidr = parseCidrRange(item);
    if (!cidr.ok) {
      throw errors.INVALID_FLAG(flag, value, `${quoteValue(item)} is not a CIDR: ${cidr.expected}`);
    }
    return cidr.value;
  });
  const seen = new Set<string>();
  return cidrs.filter((c) => !seen.has(c.text) && seen.add(c.text));
}
