// Turns `outrigger-iptables` arguments into CaptureSettings. Every value is
// checked here, before any rule is rendered or applied, so a typo in an
// annotation fails the init container with a message naming the flag instead
// of half-programming the pod's network namespace.
import { Command, Option } from 'commander';
import { IPTABLES_FLAGS, PORTS, PROXY_GID, PROXY_UID } from '../shared/contract.ts';
import {
  type Grammar,
  parseCidrRangeList,
  parseCidrRangeSelection,
  parseInterfaceNameList,
  parseNumericId,
  parsePort,
  parsePortList,
  parsePortSelection,
} from '../shared/grammar/index.ts';
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

  const inboundPorts = flag(f.includeInboundPorts, raw.b, parsePortSelection);
  const includeOutboundCidrs = flag(f.includeOutboundIPRanges, raw.i, parseCidrRangeSelection);
  return {
    mode: 'REDIRECT',
    outboundCapturePort: flag(f.outboundPort, raw.p, parsePort),
    inboundCapturePort: flag(f.inboundPort, raw.z, parsePort),
    proxyUid: flag(f.proxyUid, raw.u, parseNumericId),
    proxyGid: flag(f.proxyGid, raw.g, parseNumericId),
    inboundPorts: inboundPorts === '*' ? '*' : unique(inboundPorts),
    excludeInboundPorts: unique([
      ...PROXY_OWN_PORTS,
      ...flag(f.excludeInboundPorts, raw.d, parsePortList),
    ]),
    includeOutboundCidrs: includeOutboundCidrs === '*' ? '*' : uniqueCidrs(includeOutboundCidrs),
    excludeOutboundCidrs: uniqueCidrs(flag(f.excludeOutboundIPRanges, raw.x, parseCidrRangeList)),
    includeOutboundPorts: unique(flag(f.includeOutboundPorts, raw.q, parsePortList)),
    excludeOutboundPorts: unique(flag(f.excludeOutboundPorts, raw.o, parsePortList)),
    excludeInterfaces: flag(f.excludeInterfaces, raw.c, parseInterfaceNameList),
  };
}

/** The flag's value in the shared grammar (the one admission checked it with), or INVALID_FLAG. */
function flag<T>(name: string, value: string, grammar: Grammar<T>): T {
  const parsed = grammar(value);
  if (!parsed.ok) throw errors.INVALID_FLAG(name, value, parsed.expected);
  return parsed.value;
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

function uniqueCidrs(cidrs: readonly Cidr[]): Cidr[] {
  const seen = new Set<string>();
  return cidrs.filter((c) => !seen.has(c.text) && seen.add(c.text));
}
