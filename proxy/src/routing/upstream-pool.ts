// Upstream connections of the L7 path, kept alive between requests in a
// bounded pool per upstream. Each connection reads its responses with its own
// MessageStream (owner-emitted heads, one message at a time) and reports them
// to the client connection using it; between requests it sits idle in the
// pool, where any byte or close from the upstream retires it.
//
// Bounds: at most MAX_IDLE_PER_UPSTREAM idle connections per upstream and
// MAX_IDLE_TOTAL in all; a connection in use belongs to one client
// connection, so those are bounded by the proxy's connection limit. An idle
// connection is closed after POOL_IDLE_MS, below the 5 s keep-alive timeout
// of Node's http server (undici keeps 4 s for the same reason): a server that
// closes an idle connection just as the proxy reuses it loses the request.
// That race is still possible with other servers; a request without a body
// that meets it is sent again once on a new connection (http-connection.ts).
import net from 'node:net';
import type { BufferPool } from '../buffer-pool.ts';
import type { CloseReason, Direction } from '../connection-vocabulary.ts';
import type { HeldHeadBudget } from '../http/held-heads.ts';
import type { MessageHead } from '../http/message-head.ts';
import { type MessageOwner, MessageStream } from '../http/message-stream.ts';
import type { OwnUpstream, OwnUpstreams } from '../listeners/own-upstreams.ts';
import type { ProxyStats } from '../stats/proxy-stats.ts';

export const MAX_IDLE_PER_UPSTREAM = 128;
export const MAX_IDLE_TOTAL = 1024;
export const POOL_IDLE_MS = 3_000;
const SWEEP_MS = 1_000;

/** Why an upstream connection stopped serving the exchange on it. */
export type UpstreamLoss = Extract<
  CloseReason,
  'upstream_refused' | 'connect_timeout' | 'error' | 'upstream_reset' | 'closed'
>;

/** The client connection an upstream connection is working for. */
export interface UpstreamUser {
  /** Where the response goes. */
  readonly client: net.Socket;
  /** One read has been processed: anything held for it goes out now. */
  flushResponseHead(): void;
  /** A response head; returns the response stream's next state (message-stream.ts NEXT_*). */
  onResponseHead(upstream: UpstreamConnection, head: MessageHead, raw: Buffer, at: number): number;
  /** Body and framing bytes of the response, in order, to go to the client. */
  onResponseBytes(bytes: Buffer): void;
  onResponseBodyBytes(wireBytes: number, payloadBytes: number): void;
  /**
   * A message ended (a final response, or an interim 1xx); `leftover`: bytes
   * followed it. `at`: performance.now() of the read that ended it.
   */
  onResponseMessageEnd(upstream: UpstreamConnection, leftover: boolean, at: number): void;
  onResponseMalformed(upstream: UpstreamConnection): void;
  /** The upstream closed its side (FIN). */
  onUpstreamEnd(upstream: UpstreamConnection): void;
  /** Connect failed, or the connection was reset. */
  onUpstreamLost(upstream: UpstreamConnection, reason: UpstreamLoss): void;
  /** A write that filled the upstream's buffer has drained. */
  onUpstreamDrain(): void;
}

export interface UpstreamTarget {
  host: string;
  port: number;
  /** The pool key: direction and `host:port`. */
  key: string;
  /** For records: `host:port` as the route or the original destination names it. */
  name: string;
}

export interface PoolSettings {
  connectTimeoutMs: number;
  heldHeads: HeldHeadBudget;
  stats: ProxyStats;
  /** Registers upstream endpoints for the loop guard (capture-listener.ts), or undefined. */
  ownUpstreams: OwnUpstreams | undefined;
  lookup: net.LookupFunction;
  /** Read buffers (buffer-pool.ts), one per upstream connection while it lives. */
  readBuffers: BufferPool;
}

export class UpstreamConnection implements MessageOwner, OwnUpstream {
  readonly upstream: net.Socket;
  readonly key: string;
  readonly name: string;
  readonly direction: Direction;
  readonly stream: MessageStream;
  user: UpstreamUser | undefined;
  connected = false;
  /** Exchanges started on this connection, the current one included. */
  uses = 0;
  /** False once anything says it cannot carry another request. */
  reusable = true;
  /** performance.now() when it went idle into the pool. */
  idleSince = 0;
  ownEndpoint: string | undefined;
  /** Reading stopped until the client has taken what was written from the read buffer. */
  pausedForClient = false;
  private readonly readBuffer: Buffer;
  private readonly host: string;
  private readonly port: number;
  private readonly pool: UpstreamPool;

  constructor(pool: UpstreamPool, direction: Direction, target: UpstreamTarget) {
    const settings = pool.settings;
    this.pool = pool;
    this.direction = direction;
    this.key = target.key;
    this.name = target.name;
    this.host = target.host;
    this.port = target.port;
    this.stream = new MessageStream(
      false,
      true,
      this,
      (bytes) => this.user?.onResponseBytes(bytes),
      settings.heldHeads,
      undefined,
      { ownerEmitsHeads: true, stopsAfterMessage: true },
    );
    this.readBuffer = settings.readBuffers.acquire();
    const socket = net.connect({
      host: target.host,
      port: target.port,
      allowHalfOpen: true,
      noDelay: true,
      lookup: settings.lookup,
      // As the splice does: responses are read into one reused buffer (see onRead).
      onread: { buffer: this.readBuffer, callback: (n, buffer) => this.onRead(n, buffer) },
    });
    this.upstream = socket;
    socket.setTimeout(settings.connectTimeoutMs);
    socket.on('connect', () => {
      this.connected = true;
      socket.setTimeout(0);
    });
    socket.on('timeout', () => this.lost('connect_timeout'));
    socket.on('end', () => {
      this.reusable = false;
      if (this.user === undefined) this.pool.retire(this);
      else this.user.onUpstreamEnd(this);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.connected) this.lost('upstream_reset');
      else this.lost(err.code === 'ECONNREFUSED' ? 'upstream_refused' : 'error');
    });
    socket.on('drain', () => this.user?.onUpstreamDrain());
    socket.on('close', () => {
      this.reusable = false;
      settings.ownUpstreams?.closed(this);
      this.pool.retire(this);
      // Closed: no write can still point into the buffer.
      settings.readBuffers.release(this.readBuffer);
    });
    settings.ownUpstreams?.opened(this);
  }

  /** `address port` the loop guard compares with original destinations. */
  get target(): string {
    return `${this.upstream.remoteAddress ?? this.host} ${this.port}`;
  }

  write(bytes: Buffer): boolean {
    return this.upstream.destroyed ? true : this.upstream.write(bytes);
  }

  destroy(): void {
    this.reusable = false;
    this.user = undefined;
    this.upstream.destroy();
  }

  private lost(reason: UpstreamLoss): void {
    this.reusable = false;
    if (!this.connected && reason !== 'upstream_reset') {
      this.pool.settings.stats.connectFailure(this.direction, reason);
    }
    const user = this.user;
    this.user = undefined;
    this.upstream.destroy();
    user?.onUpstreamLost(this, reason);
  }

  /**
   * Bytes from the upstream, in the connection's reused read buffer. Whatever
   * is written to the client from it and not taken by the kernel at once
   * still points into it, so reading pauses until the client has taken every
   * pending write (the user resumes it from its write callbacks), as in the
   * splice.
   */
  private onRead(length: number, buffer: Uint8Array): boolean {
    const user = this.user;
    if (user === undefined) {
      // Bytes nobody asked for: this connection cannot be trusted with a request.
      this.pool.retire(this);
      this.upstream.destroy();
      return false;
    }
    const client = user.client;
    this.process(Buffer.from(buffer.buffer, buffer.byteOffset, length));
    // Whoever this read was for: a head held back for body bytes goes out now, from this buffer.
    user.flushResponseHead();
    if (client.writableLength > 0 && !client.destroyed && !this.upstream.destroyed) {
      this.pausedForClient = true;
      this.upstream.pause();
    }
    return true;
  }

  /** The client took every pending write: reading may go on. */
  resumeReading(): void {
    if (!this.pausedForClient) return;
    this.pausedForClient = false;
    if (!this.upstream.destroyed) this.upstream.resume();
  }

  private process(chunk: Buffer): void {
    let rest = chunk;
    for (;;) {
      const taken = this.stream.push(rest);
      if (!this.stream.stopped) return;
      this.stream.resume();
      const leftover = taken < rest.length;
      const user: UpstreamUser | undefined = this.user;
      if (user === undefined) return;
      user.onResponseMessageEnd(this, leftover, this.stream.now());
      // An interim response leaves the same user waiting for the final one.
      if (!leftover || this.user !== user) {
        if (leftover) this.destroy();
        return;
      }
      rest = rest.subarray(taken);
    }
  }

  // ── MessageOwner (the response stream) ──────────────────────────────────────

  onHead(stream: MessageStream, head: MessageHead, _headBytes: number, at: number): number {
    return this.user!.onResponseHead(this, head, stream.rawHead!, at);
  }

  insertFor(): Buffer | undefined {
    return undefined;
  }

  onBodyBytes(_stream: MessageStream, wireBytes: number, payloadBytes: number): void {
    this.user?.onResponseBodyBytes(wireBytes, payloadBytes);
  }

  onMessageComplete(): void {}

  onMalformed(): void {
    this.reusable = false;
    this.user?.onResponseMalformed(this);
  }

  onNotHttp(): void {
    this.onMalformed();
  }
}

export class UpstreamPool {
  readonly settings: PoolSettings;
  private readonly idle = new Map<string, UpstreamConnection[]>();
  private idleCount = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(settings: PoolSettings) {
    this.settings = settings;
  }

  /** An idle connection to the target, or a new one; `user` owns it until release. */
  acquire(direction: Direction, target: UpstreamTarget, user: UpstreamUser): UpstreamConnection {
    const list = this.idle.get(target.key);
    let connection: UpstreamConnection | undefined;
    while (list !== undefined && list.length > 0) {
      const candidate = list.pop()!;
      this.idleCount--;
      if (candidate.reusable && !candidate.upstream.destroyed) {
        connection = candidate;
        break;
      }
    }
    connection ??= new UpstreamConnection(this, direction, target);
    connection.user = user;
    connection.uses++;
    return connection;
  }

  /** A fresh connection, never an idle one (a request sent again after a reused one failed). */
  connectNew(direction: Direction, target: UpstreamTarget, user: UpstreamUser): UpstreamConnection {
    const connection = new UpstreamConnection(this, direction, target);
    connection.user = user;
    connection.uses++;
    return connection;
  }

  /**
   * The exchange on it is over: kept for the next request if it can carry
   * one. `now`: performance.now(), or a moment ago (the read that ended the
   * response), when the caller has one.
   */
  release(connection: UpstreamConnection, now = performance.now()): void {
    connection.user = undefined;
    if (!connection.reusable || connection.upstream.destroyed || !connection.connected) {
      connection.upstream.destroy();
      return;
    }
    let list = this.idle.get(connection.key);
    if (list === undefined) {
      list = [];
      this.idle.set(connection.key, list);
    }
    if (list.length >= MAX_IDLE_PER_UPSTREAM || this.idleCount >= MAX_IDLE_TOTAL) {
      connection.upstream.end();
      return;
    }
    connection.idleSince = now;
    list.push(connection);
    this.idleCount++;
    this.startSweeper();
  }

  /** Takes a connection out of the idle lists (it closed, or misbehaved). */
  retire(connection: UpstreamConnection): void {
    connection.reusable = false;
    const list = this.idle.get(connection.key);
    const i = list?.indexOf(connection) ?? -1;
    if (i >= 0) {
      list!.splice(i, 1);
      this.idleCount--;
      if (list!.length === 0) this.idle.delete(connection.key);
    }
    if (connection.user === undefined && !connection.upstream.destroyed) connection.upstream.end();
  }

  /** Idle connections now, all upstreams together. */
  get idleConnections(): number {
    return this.idleCount;
  }

  /** Closes every idle connection (shutdown). */
  closeIdle(): void {
    for (const list of this.idle.values()) for (const c of list) c.upstream.destroy();
    this.idle.clear();
    this.idleCount = 0;
    this.stopSweeper();
  }

  private startSweeper(): void {
    if (this.sweeper !== undefined) return;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  private stopSweeper(): void {
    if (this.sweeper === undefined) return;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private sweep(): void {
    const oldest = performance.now() - POOL_IDLE_MS;
    for (const [key, list] of this.idle) {
      // Oldest first: connections are pushed as they go idle and reused from the end.
      let n = 0;
      while (n < list.length && list[n]!.idleSince <= oldest) n++;
      for (const c of list.splice(0, n)) c.upstream.end();
      this.idleCount -= n;
      if (list.length === 0) this.idle.delete(key);
    }
    if (this.idleCount === 0) this.stopSweeper();
  }
}
