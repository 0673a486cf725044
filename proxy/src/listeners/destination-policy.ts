// Where a captured connection goes, decided from its original destination.
// Inbound traffic was addressed to the pod; it is delivered to the app on
// loopback at the same port (IPv4 → 127.0.0.1, IPv6 → ::1), like Istio's
// classic inbound path. Outbound traffic goes to its original address and port.
// A destination that is one of the proxy's own capture listeners would loop
// forever, so it is refused.
import type { Destination } from '../original-destination.ts';
import type { Direction } from '../stats/request-record.ts';

export type Route = { host: string; port: number } | { refused: 'loop_refused' };

export interface PolicyContext {
  /** Ports the proxy captures on (inbound and outbound). */
  capturePorts: readonly number[];
  /** Addresses of this host (pod), as text, IPv4-mapped forms unwrapped. */
  localAddresses: ReadonlySet<string>;
}

export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

/** True when sending to `destination` would land on the proxy's own capture listener. */
export function isProxyItself(
  destination: Destination,
  localAddress: string,
  context: PolicyContext,
): boolean {
  if (!context.capturePorts.includes(destination.port)) return false;
  const address = unmapIPv4(destination.address);
  return (
    address === unmapIPv4(localAddress) ||
    isLoopback(address) ||
    address === '0.0.0.0' ||
    address === '::' ||
    context.localAddresses.has(address)
  );
}

export function routeFor(
  direction: Direction,
  destination: Destination,
  localAddress: string,
  context: PolicyContext,
): Route {
  if (isProxyItself(destination, localAddress, context)) return { refused: 'loop_refused' };
  if (direction === 'inbound') {
    return { host: destination.family === 6 ? '::1' : '127.0.0.1', port: destination.port };
  }
  return { host: unmapIPv4(destination.address), port: destination.port };
}
