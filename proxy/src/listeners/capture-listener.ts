// A capture listener (15001 outbound or 15006 inbound): accepts redirected
// connections, recovers each one's original destination and hands it to a
// Splice. Connections without a usable destination are reset at once.
import net from 'node:net';
import type { Direction } from '../connection-vocabulary.ts';
import { type Logger, rateLimitedWarning } from '../log.ts';
import { type Destination, originalDestination } from '../original-destination.ts';
import { Splice, type SpliceSettings } from '../splice.ts';
import type { ProxyStats } from '../stats/proxy-stats.ts';
import { type PolicyContext, type Refusal, routeFor, unmapIPv4 } from './destination-policy.ts';
import type { OwnUpstreams } from './own-upstreams.ts';

/** Finds where an accepted connection was going; undefined when unknown. */
export type OriginalDestinationResolver = (socket: net.Socket) => Destination | undefined;

export const soOriginalDst: OriginalDestinationResolver = originalDestination;

export interface CaptureListenerOptions {
  direction: Direction;
  resolve: OriginalDestinationResolver;
  policy: PolicyContext;
  stats: ProxyStats;
  settings: SpliceSettings;
  log: Logger;
  /** Live connections, so draining can reach them. */
  live: Set<Splice>;
  /** Local endpoints of every listener's upstream connections (shared by both listeners). */
  ownUpstreams: OwnUpstreams;
  /** Most connections in `live` (both listeners together); more are reset at once. */
  maxConnections: number;
}

export function createCaptureListener(options: CaptureListenerOptions): net.Server {
  const { direction, resolve, policy, stats, settings, log, live, ownUpstreams, maxConnections } =
    options;
  const warnLimit = rateLimitedWarning(
    log,
    'connection limit reached: new connections are reset until some close',
  );
  const warnAcceptError = rateLimitedWarning(log, 'accepting a connection failed');
  const warnLoop = rateLimitedWarning(
    log,
    "refused a connection from the proxy's own upstream: its traffic is captured again; run it as the uid the capture rules exempt",
  );
  const warnNotPod = rateLimitedWarning(
    log,
    'refused an inbound connection addressed to something other than a pod address',
  );
  const done = (splice: Splice) => {
    live.delete(splice);
    ownUpstreams.closed(splice);
  };
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    if (live.size >= maxConnections) {
      warnLimit({ direction, limit: maxConnections });
      refuse(client, 'connection_limit');
      return;
    }
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
    if (
      policy.destinationFromKernel &&
      ownUpstreams.isOwn(
        client.remoteAddress,
        client.remotePort,
        `${unmapIPv4(destination.address)} ${destination.port}`,
      )
    ) {
      warnLoop({ direction, from: `${client.remoteAddress}:${client.remotePort}`, uid: uid() });
      refuse(client, 'loop_refused');
      return;
    }
    const route = routeFor(direction, destination, client.localAddress ?? '', policy);
    if ('refused' in route) {
      if (route.refused === 'loop_refused') warnLoop({ direction, destination, uid: uid() });
      else warnNotPod({ destination, from: client.remoteAddress });
      refuse(client, route.refused);
      return;
    }
    const splice = new Splice(direction, client, route, stats, settings, done);
    live.add(splice);
    if (policy.destinationFromKernel) ownUpstreams.opened(splice);
  });
  // Errors while accepting (EMFILE once libuv's reserve descriptor is gone,
  // ENFILE, ENOBUFS…) are counted and logged; unhandled they would end the process.
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (!server.listening) return; // a bind error: listen() reports it to its caller
    stats.acceptError(direction, err.code ?? 'unknown');
    warnAcceptError({ direction, code: err.code, error: err.message });
  });
  return server;

  function refuse(
    client: net.Socket,
    reason: 'no_destination' | 'connection_limit' | Refusal,
  ): void {
    stats.connectionRefused(
      direction,
      reason,
      `${client.remoteAddress}:${client.remotePort}`,
      `${client.localAddress}:${client.localPort}`,
    );
    client.on('error', () => {});
    client.resetAndDestroy();
  }
}

function uid(): number | undefined {
  return process.getuid?.();
}
