// Renders the iptables-restore input that captures a pod's TCP, one address
// family at a time. Pure: settings in, text out; apply.ts feeds the text to
// `iptables-restore --noflush`. docs/traffic-capture.md walks through every rule.
import type { CaptureSettings, Cidr, Family } from './settings.ts';

/** Our chains in the nat table. Everything we install lives in them, plus one jump each from PREROUTING and OUTPUT. */
export const CHAINS = {
  inbound: 'OUTRIGGER_INBOUND',
  inboundRedirect: 'OUTRIGGER_IN_REDIRECT',
  output: 'OUTRIGGER_OUTPUT',
  outboundRedirect: 'OUTRIGGER_REDIRECT',
} as const;

const OWN_CHAINS: readonly string[] = Object.values(CHAINS);

/** Every family renders its own restore input; the CLI prints them in this order. */
export const FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];

const FAMILY_LABEL: Record<Family, string> = { ipv4: 'IPv4', ipv6: 'IPv6' };

/**
 * The restore input that installs the capture rules for one family.
 *
 * `existingJumps` are our jump rules already in PREROUTING/OUTPUT (from
 * `ownJumps` on an iptables-save dump): they are deleted in the same
 * transaction, so a re-run converges instead of stacking duplicate jumps.
 * Declaring our chains flushes them under --noflush, which resets their contents.
 */
export function renderCapture(
  settings: CaptureSettings,
  family: Family,
  existingJumps: readonly string[] = [],
): string {
  const inbound = inboundRules(settings);
  const lines = [
    `# outrigger-iptables: ${FAMILY_LABEL[family]} traffic capture (nat table)`,
    '*nat',
    ...OWN_CHAINS.map((chain) => `:${chain} - [0:0]`),
    ...existingJumps.map(deleteRule),
    `-A ${CHAINS.inboundRedirect} -p tcp -j REDIRECT --to-ports ${settings.inboundCapturePort}`,
    `-A ${CHAINS.outboundRedirect} -p tcp -j REDIRECT --to-ports ${settings.outboundCapturePort}`,
    ...inbound,
    ...outputRules(settings, family),
    // Jumps last: the chains are complete before any packet can enter them.
    ...(capturesInbound(settings) ? [`-A PREROUTING -p tcp -j ${CHAINS.inbound}`] : []),
    `-A OUTPUT -p tcp -j ${CHAINS.output}`,
    'COMMIT',
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The restore input that removes everything renderCapture installs. Declaring
 * a chain creates it when missing, so `-X` never fails and cleanup is idempotent.
 */
export function renderCleanup(family: Family, existingJumps: readonly string[]): string {
  const lines = [
    `# outrigger-iptables: ${FAMILY_LABEL[family]} cleanup (nat table)`,
    '*nat',
    ...OWN_CHAINS.map((chain) => `:${chain} - [0:0]`),
    ...existingJumps.map(deleteRule),
    ...OWN_CHAINS.map((chain) => `-X ${chain}`),
    'COMMIT',
  ];
  return `${lines.join('\n')}\n`;
}

/** The jumps renderCapture would add for these settings (what cleanup expects to find). */
export function expectedJumps(settings: CaptureSettings): string[] {
  return [
    ...(capturesInbound(settings) ? [`-A PREROUTING -p tcp -j ${CHAINS.inbound}`] : []),
    `-A OUTPUT -p tcp -j ${CHAINS.output}`,
  ];
}

/**
 * Our jump rules in built-in chains, read from `iptables-save -t nat` output,
 * in the `-A CHAIN ...` form that `-D` accepts back.
 */
export function ownJumps(saveOutput: string): string[] {
  return saveOutput.split('\n').filter((line) => {
    const match = /^-A (\S+) .*-j (\S+)/.exec(line);
    return (
      match !== null && !OWN_CHAINS.includes(match[1] ?? '') && OWN_CHAINS.includes(match[2] ?? '')
    );
  });
}

function deleteRule(appendRule: string): string {
  return appendRule.replace(/^-A /, '-D ');
}

function capturesInbound(settings: CaptureSettings): boolean {
  return settings.inboundPorts === '*' || settings.inboundPorts.length > 0;
}

/** PREROUTING → OUTRIGGER_INBOUND: packets arriving from outside the pod. */
function inboundRules(settings: CaptureSettings): string[] {
  const chain = CHAINS.inbound;
  if (!capturesInbound(settings)) return [];
  return [
    ...settings.excludeInterfaces.map((name) => `-A ${chain} -i ${name} -j RETURN`),
    // Excluded ports (always including the proxy's admin, health and metrics
    // ports, which kubelet probes must reach) return before any capture rule.
    ...settings.excludeInboundPorts.map((port) => `-A ${chain} -p tcp --dport ${port} -j RETURN`),
    ...(settings.inboundPorts === '*'
      ? [`-A ${chain} -p tcp -j ${CHAINS.inboundRedirect}`]
      : settings.inboundPorts.map(
          (port) => `-A ${chain} -p tcp --dport ${port} -j ${CHAINS.inboundRedirect}`,
        )),
  ];
}

/** OUTPUT → OUTRIGGER_OUTPUT: connections opened by processes inside the pod. */
function outputRules(settings: CaptureSettings, family: Family): string[] {
  const chain = CHAINS.output;
  const ofFamily = (cidrs: readonly Cidr[]) => cidrs.filter((c) => c.family === family);
  const include = settings.includeOutboundCidrs;
  return [
    ...settings.excludeInterfaces.map((name) => `-A ${chain} -o ${name} -j RETURN`),
    ...settings.excludeOutboundPorts.map((port) => `-A ${chain} -p tcp --dport ${port} -j RETURN`),
    // The proxy's own connections go where they were meant to; capturing them would loop.
    `-A ${chain} -m owner --uid-owner ${settings.proxyUid} -j RETURN`,
    `-A ${chain} -m owner --gid-owner ${settings.proxyGid} -j RETURN`,
    // Loopback: app-to-app traffic on localhost, and the pod calling its own
    // pod IP, which the kernel also routes through lo. Both stay uncaptured.
    `-A ${chain} -o lo -j RETURN`,
    ...ofFamily(settings.excludeOutboundCidrs).map((c) => `-A ${chain} -d ${c.text} -j RETURN`),
    ...settings.includeOutboundPorts.map(
      (port) => `-A ${chain} -p tcp --dport ${port} -j ${CHAINS.outboundRedirect}`,
    ),
    ...(include === '*'
      ? [`-A ${chain} -j ${CHAINS.outboundRedirect}`]
      : ofFamily(include).map((c) => `-A ${chain} -d ${c.text} -j ${CHAINS.outboundRedirect}`)),
  ];
}
