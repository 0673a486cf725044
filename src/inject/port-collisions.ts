// App containerPorts on one of the proxy's own ports. The proxy listens on
// them in the pod's shared network namespace, so one of the two cannot bind:
// such a pod is refused, unless the user has excluded the port from inbound
// capture, which says they know the port is the app's: then it only warns.
// Pure: no I/O.
import type { V1Pod } from '@kubernetes/client-node';
import type { InjectionConfig } from '../config/schema.ts';
import { errors } from '../errors.ts';
import { PORTS } from '../shared/contract.ts';
import type { Overrides } from './overrides.ts';
import { includedInboundPorts } from './render.ts';

/** The proxy's ports, each with the name the message gives it. */
export function proxyPorts(config: InjectionConfig): Map<number, string> {
  return new Map([
    [config.proxy.outboundPort, 'outbound capture'],
    [config.proxy.inboundPort, 'inbound capture'],
    [PORTS.admin, 'admin'],
    [PORTS.health, 'health'],
    [PORTS.prometheus, 'Prometheus'],
  ]);
}

/**
 * Throws OUTRIGGER_PROXY_PORT_CONFLICT for the first app port on a proxy port
 * the user has not excluded from capture; returns a warning for each excluded one.
 */
export function checkProxyPortCollisions(
  pod: V1Pod,
  config: InjectionConfig,
  overrides: Overrides,
): string[] {
  const ours = proxyPorts(config);
  const include = includedInboundPorts(config, overrides);
  const exclude = new Set(overrides.excludeInboundPorts ?? config.interception.excludeInboundPorts);
  const excludedByUser = (port: number) =>
    exclude.has(port) || (include !== '*' && !include.includes(port));
  const warnings: string[] = [];
  for (const container of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    for (const { containerPort, protocol } of container.ports ?? []) {
      const use = ours.get(containerPort);
      if (use === undefined || (protocol !== undefined && protocol !== 'TCP')) continue;
      if (!excludedByUser(containerPort)) {
        throw errors.PROXY_PORT_CONFLICT(container.name, containerPort, use);
      }
      warnings.push(
        `container ${container.name} declares port ${containerPort}, the proxy's ${use} port; it is excluded from capture, but the app and the proxy cannot both listen on it`,
      );
    }
  }
  return warnings;
}
