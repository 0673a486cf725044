// Where a captured connection goes, decided from its original destination.
//
// Inbound traffic was addressed to the pod: it is delivered to that same
// address and port (the pod IP, never loopback), as Istio does since 1.10, so
// an app bound to 127.0.0.1 is as unreachable from outside as without a
// sidecar and one bound to the pod IP or 0.0.0.0 is reachable. An inbound
// original destination that is not one of the pod's own non-loopback
// addresses is refused: PREROUTING's REDIRECT rewrites any destination, so a
// neighbour could otherwise address 127.0.0.1 (or a third host) through the
// pod and have the proxy connect there for it.
//
// Outbound traffic goes to its original address and port. A destination that
// is one of the proxy's own capture listeners would loop forever, so it is
// refused.

import type { CloseReason, Direction } from '../connection-vocabulary.ts';
import type { Destination } from '../original-destination.ts';

export type Refusal = Extract<CloseReason, 'loop_refused' | 'not_pod_address'>;
export type Route = { host: string; port: number } | { refused: Refusal };

export interface PolicyContext {
  /** Ports the proxy captures on (inbound and outbound). */
  capturePorts: readonly number[];
  /** Addresses of this host (pod), as text, IPv4-mapped forms unwrapped. */
  localAddresses: { has(address: string): boolean };
  /**
   * True when destinations come from SO_ORIGINAL_DST: inbound ones must then
   * be pod addresses, and the own-upstream loop check applies. False for a
   * destination the operator fixed (tests, `--fixed-destination`), which is
   * trusted as given and says nothing about where a connection was going.
   */
  destinationFromKernel: boolean;
}

export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
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
    isUnspecified(address) ||
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
  const address = unmapIPv4(destination.address);
  if (
    direction === 'inbound' &&
    context.destinationFromKernel &&
    (isLoopback(address) || isUnspecified(address) || !context.localAddresses.has(address))
  ) {
    return { refused: 'not_pod_address' };
  }
  return { host: address, port: destination.port };
}
