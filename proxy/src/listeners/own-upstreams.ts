// The proxy's own upstream connections by their 4-tuple (local address and
// port, target address and port), so that a captured connection coming from
// one of them and going where it goes is recognised as the proxy's own
// traffic captured again, whatever uid the proxy runs as. Without this a
// proxy the rules do not exempt loops through 15001 until it runs out of file
// descriptors; with it a looping request costs one extra connect. The target
// is part of the key because the kernel shares a local port between
// connections to different destinations: an app's connection may come from
// the same address and port as one of the proxy's upstreams, but never with
// the same destination while that upstream exists.
//
// An upstream socket's local port is chosen by the kernel in connect(), which
// Node issues on the tick after net.connect(). Endpoints are therefore read
// lazily: new sockets wait in `pending`, and each accept first records the
// endpoints of the pending ones (one getsockname each). The connect of every
// earlier upstream has happened by then, because Node runs the tick queue
// after each accept callback. The handle is asked directly: net.Socket's
// localPort stays undefined until the handshake completes, and a looped
// connection can be accepted before its own connect is reported.
import type net from 'node:net';
import { unmapIPv4 } from './destination-policy.ts';

/** What the registry keeps per upstream: the socket, its target, and its key once known. */
export interface OwnUpstream {
  readonly upstream: net.Socket;
  /** Where the upstream connects: `address port`. */
  readonly target: string;
  /** `local-address local-port target`, once the local end is known. */
  ownEndpoint: string | undefined;
}

export class OwnUpstreams {
  private readonly pending = new Set<OwnUpstream>();
  /** Endpoint → how many live upstreams use it (a port may serve several 4-tuples). */
  private readonly endpoints = new Map<string, number>();

  opened(connection: OwnUpstream): void {
    this.pending.add(connection);
  }

  closed(connection: OwnUpstream): void {
    if (this.pending.delete(connection)) return;
    const key = connection.ownEndpoint;
    if (key === undefined) return;
    const count = this.endpoints.get(key) ?? 0;
    if (count <= 1) this.endpoints.delete(key);
    else this.endpoints.set(key, count - 1);
  }

  /**
   * True when an accepted socket, from `remoteAddress:remotePort` and going to
   * `destination` (`address port`, its original destination), is one of our upstreams.
   */
  isOwn(
    remoteAddress: string | undefined,
    remotePort: number | undefined,
    destination: string,
  ): boolean {
    if (this.pending.size > 0) this.recordPending();
    if (this.endpoints.size === 0 || remoteAddress === undefined) return false;
    return this.endpoints.has(`${unmapIPv4(remoteAddress)} ${remotePort} ${destination}`);
  }

  private recordPending(): void {
    for (const connection of this.pending) {
      const endpoint = localEndpoint(connection.upstream);
      if (endpoint === undefined) {
        // Not connected yet (or already gone): look again at the next accept.
        if (connection.upstream.destroyed) this.pending.delete(connection);
        continue;
      }
      const key = `${unmapIPv4(endpoint.address)} ${endpoint.port} ${connection.target}`;
      connection.ownEndpoint = key;
      this.endpoints.set(key, (this.endpoints.get(key) ?? 0) + 1);
      this.pending.delete(connection);
    }
  }
}

interface SocketName {
  address?: string;
  port?: number;
}

/** getsockname of the socket's handle (libuv internals), even while it is connecting. */
function localEndpoint(socket: net.Socket): { address: string; port: number } | undefined {
  const handle = (socket as { _handle?: { getsockname?(out: SocketName): number } })._handle;
  const out: SocketName = {};
  if (handle?.getsockname === undefined || handle.getsockname(out) !== 0) return undefined;
  return out.address !== undefined && out.port !== undefined && out.port !== 0
    ? { address: out.address, port: out.port }
    : undefined;
}
