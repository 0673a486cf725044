// A capture listener (15001 outbound or 15006 inbound): accepts redirected
// connections, recovers each one's original destination and hands it to a
// Splice, or, when the policy declares its port `protocol: http`, to the L7
// path (an HttpConnection). Connections without a usable destination are
// reset at once.
import net from 'node:net';
import { type Logger, rateLimitedWarning } from '../log.ts';
import {
  type Destination,
  isNativeIPv6,
  originalDestinationOfFd,
  socketFd,
} from '../original-destination.ts';
import type { CompiledConnectionPolicy, Refused } from '../policy/connection-policy.ts';
import { peekHost } from '../policy/host-peek.ts';
import { HttpConnection, type Routing } from '../routing/http-connection.ts';
import { type Prelude, Splice, type SpliceSettings } from '../splice.ts';
import type { ProxyStats } from '../stats/proxy-stats.ts';
import type { Direction } from '../stats/request-record.ts';
import { type PolicyContext, type Refusal, routeFor, unmapIPv4 } from './destination-policy.ts';
import type { OwnUpstreams } from './own-upstreams.ts';

type Target = { host: string; port: number };

/** Finds where an accepted connection was going; undefined when unknown. */
export type OriginalDestinationResolver = (socket: net.Socket) => Destination | undefined;

export const soOriginalDst: OriginalDestinationResolver = (socket) => {
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  return originalDestinationOfFd(fd, isNativeIPv6(socket.localAddress));
};

/** A proxied connection as draining sees it: a Splice or an HttpConnection. */
export interface LiveConnection {
  readonly direction: Direction;
  /** Close at the next response boundary (now when idle). */
  startDrain(): void;
  /** Cut whatever is left. */
  forceClose(): void;
}

export interface CaptureListenerOptions {
  direction: Direction;
  resolve: OriginalDestinationResolver;
  policy: PolicyContext;
  stats: ProxyStats;
  settings: SpliceSettings;
  log: Logger;
  /** Live connections, so draining can reach them. */
  live: Set<LiveConnection>;
  /** The policy's route tables and the upstream pool of the L7 path; without them every port is L4. */
  routing?: Routing;
  /** Local endpoints of every listener's upstream connections (shared by both listeners). */
  ownUpstreams: OwnUpstreams;
  /** Most connections in `live` (both listeners together); more are reset at once. */
  maxConnections: number;
  /**
   * The connection-level traffic policy (policy/connection-policy.ts);
   * `current` is undefined while it blocks and limits nothing.
   */
  traffic?: { readonly current: CompiledConnectionPolicy | undefined };
}

export function createCaptureListener(options: CaptureListenerOptions): net.Server {
  const {
    direction,
    resolve,
    policy,
    stats,
    settings,
    log,
    live,
    ownUpstreams,
    maxConnections,
    routing,
  } = options;
  const traffic = options.traffic ?? { current: undefined };
  const warnLimit = rateLimitedWarning(
    log,
    'connection limit reached: new connections are reset until some close',
  );
  const warnAcceptError = rateLimitedWarning(log, 'accepting a connection failed');
  const warnLoop = rateLimitedWarning(
    log,
    "refused a connection from the proxy's own upstream: its traffic is captured again; run it as the uid the capture rules exempt",
  );
  const warnBlocked = rateLimitedWarning(
    log,
    'refused an outbound connection the traffic policy does not allow (Block All)',
  );
  const warnRateLimited = rateLimitedWarning(
    log,
    "refused a connection over its listener's connection rate limit",
  );
  const warnNotPod = rateLimitedWarning(
    log,
    'refused an inbound connection addressed to something other than a pod address',
  );
  const done = (splice: Splice) => {
    live.delete(splice);
    ownUpstreams.closed(splice);
  };
  const httpDone = (connection: HttpConnection) => live.delete(connection);
  /** Connections waiting for their first bytes (policy/host-peek.ts): they hold a socket too. */
  let waiting = 0;
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    if (live.size + waiting >= maxConnections) {
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
    // The traffic policy: undefined unless it blocks or limits something, so
    // without one this check is its whole cost.
    const enforced = traffic.current;
    if (enforced !== undefined) {
      const admission = enforced.admit(direction, route.host, route.port);
      if (admission !== 'admit') {
        enforce(enforced, admission, client, route);
        return;
      }
    }
    splice(client, route);
  });
  // Errors while accepting (EMFILE once libuv's reserve descriptor is gone,
  // ENFILE, ENOBUFS…) are counted and logged; unhandled they would end the process.
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (!server.listening) return; // a bind error: listen() reports it to its caller
    stats.acceptError(direction, err.code ?? 'unknown');
    warnAcceptError({ direction, code: err.code, error: err.message });
  });
  return server;

  function splice(client: net.Socket, route: Target, prelude?: Prelude): void {
    // Declared HTTP by the policy in force: routed request by request (proxy/src/routing/).
    if (routing !== undefined && routing.tables.lookup(direction, route.port) !== undefined) {
      live.add(
        new HttpConnection(direction, client, route, stats, settings, routing, httpDone, prelude),
      );
      return;
    }
    const splice = new Splice(direction, client, route, stats, settings, done, prelude);
    live.add(splice);
    if (policy.destinationFromKernel) ownUpstreams.opened(splice);
  }

  function refuse(
    client: net.Socket,
    reason: 'no_destination' | 'connection_limit' | 'drain_timeout' | Refusal | Refused,
    upstream = `${client.localAddress}:${client.localPort}`,
    bytesRead = 0,
  ): void {
    stats.connectionRefused(
      direction,
      reason,
      `${client.remoteAddress}:${client.remotePort}`,
      upstream,
      bytesRead,
    );
    client.on('error', () => {});
    if (client.destroyed) return;
    client.resetAndDestroy();
  }

  // ── traffic policy (proxy/src/policy/) ─────────────────────────────────────

  /** A refusal, or a wait for the Host or SNI that a Block All `host` entry needs. */
  function enforce(
    enforced: CompiledConnectionPolicy,
    admission: Exclude<ReturnType<CompiledConnectionPolicy['admit']>, 'admit'>,
    client: net.Socket,
    route: Target,
  ): void {
    if (typeof admission === 'string') {
      refuseByPolicy(client, admission, route, undefined, 0);
      return;
    }
    waiting++;
    peekHost(client, (host, prelude) => {
      waiting--;
      if (prelude === undefined) {
        // The client left first: nothing was refused, nothing went upstream.
        client.on('error', () => {});
        stats.connectionWithoutUpstream(
          direction,
          'client_reset',
          `${client.remoteAddress}:${client.remotePort}`,
          `${route.host}:${route.port}`,
          client.bytesRead,
        );
        return;
      }
      // Stopped meanwhile: close() has already cut every live connection.
      if (!server.listening) {
        refuse(client, 'drain_timeout', `${route.host}:${route.port}`, client.bytesRead);
        return;
      }
      const verdict = enforced.admitHost(direction, route.port, admission, host);
      if (verdict === 'admit') splice(client, route, prelude);
      else refuseByPolicy(client, verdict, route, host, client.bytesRead);
    });
  }

  function refuseByPolicy(
    client: net.Socket,
    reason: Refused,
    route: Target,
    host: string | undefined,
    bytesRead: number,
  ): void {
    const destination = `${route.host}:${route.port}`;
    if (reason === 'policy_blocked') warnBlocked({ destination, host });
    else warnRateLimited({ direction, port: route.port });
    refuse(client, reason, destination, bytesRead);
  }
}

function uid(): number | undefined {
  return process.getuid?.();
}
