// Bounds on the webhook's TCP connections: how many may be open, how long a
// TLS handshake may take, and how long shutdown may wait for them. Port 8443
// is reachable from anything that can route to the pod, so every connection
// that never becomes a review must cost little and go away on its own.
// docs/security.md ("Webhook") has the figures these defaults come from.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface ConnectionBounds {
  /** Open TCP connections at most; the kernel's accept queue holds the rest briefly, then Node drops them. */
  maxConnections: number;
  /**
   * A TLS handshake not finished by then is cut (Node's default is 120 s), and
   * so is a connection through its handshake that has not sent a whole request
   * head by the same time again (Node would hold it for ever).
   */
  handshakeTimeoutMs: number;
  /** After SIGTERM, in-flight reviews get this long; then every socket is closed. */
  shutdownTimeoutMs: number;
}

/**
 * 1,000 connections: a connection that never starts TLS costs about 19 KiB
 * (measured), so a full table of them is some 19 MiB on top of the ~120 MiB the
 * process needs, well inside the chart's 256 Mi limit, while the apiserver
 * keeps only a few keep-alive connections per replica.
 */
export const DEFAULT_CONNECTION_BOUNDS: ConnectionBounds = {
  maxConnections: 1000,
  handshakeTimeoutMs: 5000,
  shutdownTimeoutMs: 15_000,
};

/** The defaults, with whatever the caller set (an undefined field keeps its default). */
export function resolveBounds(given: Partial<ConnectionBounds> = {}): ConnectionBounds {
  return {
    maxConnections: given.maxConnections ?? DEFAULT_CONNECTION_BOUNDS.maxConnections,
    handshakeTimeoutMs: given.handshakeTimeoutMs ?? DEFAULT_CONNECTION_BOUNDS.handshakeTimeoutMs,
    shutdownTimeoutMs: given.shutdownTimeoutMs ?? DEFAULT_CONNECTION_BOUNDS.shutdownTimeoutMs,
  };
}

/** How often, at most, a burst of refused connections is logged. */
const DROP_LOG_INTERVAL_MS = 10_000;

export interface ConnectionGuard {
  /**
   * Closes every connection not carrying a request: those still in their TLS
   * handshake, and those through it but idle (Node's own closeIdleConnections
   * misses a connection that has not sent its first request yet).
   */
  closeIdle(): void;
  /** Closes every connection, in flight or not: the end of the shutdown grace. */
  closeAll(): void;
}

export interface DropReport {
  /** Called once per refused connection (for a counter). */
  count(): void;
  /** Called at most once per interval with how many were refused since the last call. */
  log(dropped: number, limit: number): void;
}

/**
 * Applies the connection limit to the server and tracks raw sockets until
 * their handshake completes, so shutdown can close the ones that would
 * otherwise hold `server.close()` open until the handshake timeout.
 */
export function guardConnections(
  server: Server,
  bounds: ConnectionBounds,
  drops: DropReport,
): ConnectionGuard {
  server.maxConnections = bounds.maxConnections;

  let dropped = 0;
  let lastLog = 0;
  server.on('drop', () => {
    drops.count();
    dropped++;
    const now = Date.now();
    if (now - lastLog >= DROP_LOG_INTERVAL_MS) {
      drops.log(dropped, bounds.maxConnections);
      dropped = 0;
      lastLog = now;
    }
  });

  // A raw socket and the TLS socket wrapping it share their peer address; the
  // address pair is the only public link between the two.
  const unsecured = new Map<string, Socket>();
  const peer = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`;
  server.on('connection', (raw: Socket) => {
    const key = peer(raw);
    unsecured.set(key, raw);
    raw.once('close', () => {
      if (unsecured.get(key) === raw) unsecured.delete(key);
    });
  });
  // Requests in flight per TLS socket (more than one only with pipelining).
  const secured = new Map<TLSSocket, number>();
  // Connections through their handshake that have not sent a request yet.
  const awaitingRequest = new Map<TLSSocket, NodeJS.Timeout>();
  server.on('secureConnection', (socket: TLSSocket) => {
    unsecured.delete(peer(socket));
    secured.set(socket, 0);
    const timer = setTimeout(() => socket.destroy(), bounds.handshakeTimeoutMs);
    timer.unref();
    awaitingRequest.set(socket, timer);
    socket.once('close', () => {
      secured.delete(socket);
      clearTimeout(awaitingRequest.get(socket));
      awaitingRequest.delete(socket);
    });
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket as TLSSocket;
    const timer = awaitingRequest.get(socket);
    if (timer !== undefined) {
      clearTimeout(timer);
      awaitingRequest.delete(socket);
    }
    secured.set(socket, (secured.get(socket) ?? 0) + 1);
    response.once('close', () => {
      const inFlight = secured.get(socket);
      if (inFlight !== undefined) secured.set(socket, inFlight - 1);
    });
  });

  const closeUnsecured = () => {
    for (const raw of unsecured.values()) raw.destroy();
    unsecured.clear();
  };
  return {
    closeIdle() {
      closeUnsecured();
      for (const [socket, inFlight] of secured) if (inFlight === 0) socket.destroy();
    },
    closeAll() {
      closeUnsecured();
      for (const socket of secured.keys()) socket.destroy();
    },
  };
}
