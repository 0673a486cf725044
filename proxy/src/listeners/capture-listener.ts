// A capture listener (15001 outbound or 15006 inbound): accepts redirected
// connections, recovers each one's original destination and hands it to a
// Splice. Connections without a usable destination are reset at once.
import net from 'node:net';
import type { Logger } from '../log.ts';
import {
  type Destination,
  isNativeIPv6,
  originalDestinationOfFd,
  socketFd,
} from '../original-destination.ts';
import { Splice, type SpliceSettings } from '../splice.ts';
import type { ProxyStats } from '../stats/proxy-stats.ts';
import type { Direction } from '../stats/request-record.ts';
import { type PolicyContext, type Refusal, routeFor } from './destination-policy.ts';

/** Finds where an accepted connection was going; undefined when unknown. */
export type OriginalDestinationResolver = (socket: net.Socket) => Destination | undefined;

export const soOriginalDst: OriginalDestinationResolver = (socket) => {
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  return originalDestinationOfFd(fd, isNativeIPv6(socket.localAddress));
};

export interface CaptureListenerOptions {
  direction: Direction;
  resolve: OriginalDestinationResolver;
  policy: PolicyContext;
  stats: ProxyStats;
  settings: SpliceSettings;
  log: Logger;
  /** Live connections, so draining can reach them. */
  live: Set<Splice>;
}

export function createCaptureListener(options: CaptureListenerOptions): net.Server {
  const { direction, resolve, policy, stats, settings, log, live } = options;
  const done = (splice: Splice) => live.delete(splice);
  return net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    let destination: Destination | undefined;
    try {
      destination = resolve(client);
    } catch (err) {
      log.error('original destination lookup failed', { error: String(err) });
    }
    if (destination === undefined) {
      refuse(client, 'no_destination');
      return;
    }
    const route = routeFor(direction, destination, client.localAddress ?? '', policy);
    if ('refused' in route) {
      if (log.debugEnabled)
        log.debug('refused a connection', { destination, reason: route.refused });
      refuse(client, route.refused);
      return;
    }
    live.add(new Splice(direction, client, route, stats, settings, done));
  });

  function refuse(client: net.Socket, reason: 'no_destination' | Refusal): void {
    stats.connectFailure(direction, reason);
    client.on('error', () => {});
    client.resetAndDestroy();
  }
}
