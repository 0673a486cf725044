// One proxied connection: the accepted client socket, one upstream socket, and
// bytes carried both ways through an HttpSniffer. Backpressure: when a write
// cannot complete the reading side pauses until it has (see onUpstreamRead for
// why the upstream side does not wait for 'drain'). Half-close: a FIN from
// one side becomes end() on the other (both sockets allow half-open). Errors
// on one side reset the other, so a peer sees what the far end did.
import net from 'node:net';
import type { BufferPool } from './buffer-pool.ts';
import type { CloseReason, Direction } from './connection-vocabulary.ts';
import type { HeldHeadBudget } from './http/held-heads.ts';
import { type HeaderInserts, HttpSniffer, type SnifferEvents } from './http/sniffer.ts';
import type { IdleTimeout, IdleWatched } from './idle-timeout.ts';
import type { OwnUpstream } from './listeners/own-upstreams.ts';
import type { ProxyStats } from './stats/proxy-stats.ts';
import type { RequestRecord } from './stats/request-record.ts';
import { CONNECTION_FLAGS } from './stats/response-flags.ts';

export interface SpliceSettings {
  connectTimeoutMs: number;
  idle: IdleTimeout;
  inserts: HeaderInserts;
  readBuffers: BufferPool;
  /** Partial heads held by every connection together. */
  heldHeads: HeldHeadBudget;
  /** Keep User-Agent and X-Request-Id on the records (the access log is on). */
  capturesLogFields?: boolean;
}

/**
 * How long a connection whose upstream could not be reached waits for the
 * client's first bytes before it is reset: long enough for a client that
 * writes its request right after connecting (every HTTP client) to have it
 * read, so it gets a 503 rather than a reset; short enough that a client
 * waiting for a server greeting learns of the failure almost at once.
 */
export const FIRST_BYTES_WAIT_MS = 100;

const SERVICE_UNAVAILABLE = Buffer.from(
  'HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: 31\r\nconnection: close\r\n\r\nupstream connect error (proxy)\n',
  'latin1',
);

export class Splice implements SnifferEvents, IdleWatched, OwnUpstream {
  readonly direction: Direction;
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  private readonly sniffer: HttpSniffer;
  private readonly stats: ProxyStats;
  private readonly settings: SpliceSettings;
  private readonly onDone: (splice: Splice) => void;
  private readonly openedAt = performance.now();
  private readonly openedAtWallClock = Date.now();
  /** Which side sent its FIN first: says who cut an unfinished exchange. */
  private firstEnd: 'client' | 'upstream' | undefined;
  /** Set while an unreachable upstream waits for the client's first bytes. */
  private unreachable: { reason: CloseReason; timer: NodeJS.Timeout } | undefined;
  /** Flags for requests the proxy answered itself (its 503). */
  private answeredFlags: string | undefined;
  private readonly downstreamName: string;
  private readonly upstreamName: string;
  private connected = false;
  private closeReason: CloseReason | undefined;
  private clientClosed = false;
  private upstreamClosed = false;
  private finished = false;
  private closeAfterChunk = false;
  private upstreamBytes = 0;
  private upstreamPaused = false;
  private readonly readBuffer: Buffer;
  active = false;
  idleTicks = 0;
  readonly target: string;
  ownEndpoint: string | undefined;

  constructor(
    direction: Direction,
    client: net.Socket,
    target: { host: string; port: number },
    stats: ProxyStats,
    settings: SpliceSettings,
    onDone: (splice: Splice) => void,
  ) {
    this.direction = direction;
    this.client = client;
    this.stats = stats;
    this.settings = settings;
    this.onDone = onDone;
    this.downstreamName = `${client.remoteAddress}:${client.remotePort}`;
    this.upstreamName = `${target.host}:${target.port}`;
    this.target = `${target.host} ${target.port}`;
    stats.connectionOpened(direction);

    client.setNoDelay(true);
    // Connect at once: server-speaks-first protocols must not wait for the client.
    this.readBuffer = settings.readBuffers.acquire();
    const upstream = net.connect({
      host: target.host,
      port: target.port,
      allowHalfOpen: true,
      noDelay: true,
      // Responses are read into one reused buffer instead of a fresh one per read.
      onread: { buffer: this.readBuffer, callback: (n, buffer) => this.onUpstreamRead(n, buffer) },
    });
    this.upstream = upstream;
    upstream.setTimeout(settings.connectTimeoutMs);

    this.sniffer = new HttpSniffer(
      direction,
      settings.inserts,
      this,
      this.downstreamName,
      this.upstreamName,
      (bytes) => this.toUpstream(bytes),
      (bytes) => this.toClient(bytes),
      settings.heldHeads,
      settings.capturesLogFields,
    );

    client.on('data', (chunk: Buffer) => {
      this.active = true;
      this.sniffer.clientData(chunk);
      if (this.unreachable !== undefined) this.decideUnreachable();
    });
    client.on('end', () => {
      this.firstEnd ??= 'client';
      this.sniffer.clientEnded();
      if (this.unreachable !== undefined) this.resetUnreachable();
      else upstream.end();
    });
    upstream.on('end', () => {
      this.firstEnd ??= 'upstream';
      // An upstream that closes after the client's FIN is answering it: the client left (DC).
      if (this.answerUnansweredRequest('closed', this.firstEnd === 'client' ? 'DC' : 'UC')) return;
      this.sniffer.upstreamEnded();
      client.end();
    });
    upstream.on('connect', () => {
      this.connected = true;
      // From here on the shared idle timer watches the connection (idle-timeout.ts).
      upstream.setTimeout(0);
      settings.idle.watch(this);
    });
    upstream.on('timeout', () => this.fail('connect_timeout'));
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.connected)
        this.connectFailed(err.code === 'ECONNREFUSED' ? 'upstream_refused' : 'error');
      else if (!this.answerUnansweredRequest('upstream_reset', 'UR')) this.fail('upstream_reset');
    });
    client.on('error', () => this.fail('client_reset'));
    client.on('close', () => {
      this.clientClosed = true;
      this.maybeFinished();
    });
    upstream.on('close', () => {
      this.upstreamClosed = true;
      this.maybeFinished();
    });
  }

  /** Draining: HTTP connections close after their current response; idle ones now. */
  startDrain(): void {
    if (this.sniffer.startDrain()) this.closeGracefully();
  }

  /** Drain deadline reached: cut what is left. */
  forceClose(): void {
    this.fail('drain_timeout');
  }

  // ── SnifferEvents ────────────────────────────────────────────────────────────

  onRecord(record: RequestRecord): void {
    this.stats.recordRequest(record);
  }

  onParseError(): void {
    this.stats.parseError(this.direction);
  }

  idleTimedOut(): void {
    this.fail('idle_timeout');
  }

  onClosingResponseSent(): void {
    // The sniffer reports this mid-chunk: close once the chunk has been written.
    this.closeAfterChunk = true;
  }

  // ── data path ────────────────────────────────────────────────────────────────

  private toUpstream(bytes: Buffer): void {
    if (this.upstream.destroyed) return;
    if (!this.upstream.write(bytes) && !this.client.isPaused()) {
      this.client.pause();
      this.upstream.once('drain', () => this.client.resume());
    }
  }

  private toClient(bytes: Buffer): void {
    if (!this.client.destroyed) this.client.write(bytes, this.clientWriteDone);
  }

  /**
   * Bytes from the upstream, in the connection's reused read buffer. A write
   * the kernel did not take at once keeps a reference to that buffer, so
   * reading pauses until every pending write to the client has completed: the
   * next read cannot overwrite bytes still waiting to go out, and a slow reader
   * holds at most one buffer.
   *
   * Reading resumes from the write callbacks, not on 'drain': the socket emits
   * 'drain' only after a write() that reached its highWaterMark (64 KiB since
   * Node 22). A short read, or any read into a buffer smaller than that, that
   * the kernel takes only in part leaves writableLength below the mark, so
   * 'drain' never comes and the connection would stall until a timeout.
   */
  private onUpstreamRead(length: number, buffer: Uint8Array): boolean {
    this.active = true;
    this.upstreamBytes += length;
    const chunk = Buffer.from(buffer.buffer, buffer.byteOffset, length);
    this.sniffer.upstreamData(chunk);
    if (this.closeAfterChunk) this.closeGracefully();
    if (this.client.writableLength > 0 && !this.client.destroyed) {
      this.upstream.pause();
      this.upstreamPaused = true;
      this.stats.upstreamReadPaused();
    }
    return true;
  }

  /** Runs as each write to the client completes (or fails), in write order. */
  private readonly clientWriteDone = (): void => {
    this.active = true;
    if (!this.upstreamPaused || this.client.writableLength > 0) return;
    this.upstreamPaused = false;
    this.stats.upstreamReadResumed();
    if (!this.upstream.destroyed) this.upstream.resume();
  };

  private closeGracefully(): void {
    this.client.end();
    this.upstream.end();
  }

  /**
   * The upstream could not be reached. A client that has sent an HTTP request
   * gets a 503 (flag UF). One that has sent nothing yet may be about to: it
   * gets FIRST_BYTES_WAIT_MS for its first bytes, then the 503 if they are an
   * HTTP request, a reset otherwise (opaque traffic, or silence).
   */
  private connectFailed(reason: CloseReason): void {
    this.stats.connectFailure(this.direction, reason);
    this.upstream.destroy();
    if (this.answerUnansweredRequest(reason, 'UF')) return;
    if (this.client.bytesRead === 0 && this.firstEnd === undefined && !this.client.destroyed) {
      const timer = setTimeout(() => this.resetUnreachable(), FIRST_BYTES_WAIT_MS);
      timer.unref();
      this.unreachable = { reason, timer };
      return;
    }
    this.closeReason ??= reason;
    reset(this.client);
  }

  /** The client spoke after the upstream failed: answer it, reset it, or wait for more of its head. */
  private decideUnreachable(): void {
    const { reason, timer } = this.unreachable!;
    if (this.answerUnansweredRequest(reason, 'UF')) {
      clearTimeout(timer);
      this.unreachable = undefined;
    } else if (this.sniffer.opaque) this.resetUnreachable();
  }

  private resetUnreachable(): void {
    const pending = this.unreachable;
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    this.unreachable = undefined;
    this.closeReason ??= pending.reason;
    reset(this.client);
  }

  /**
   * When the upstream goes away (refused, reset or closed) before sending a
   * single byte while the client waits on an HTTP request, the client gets a
   * 503 instead of a bare disconnect, its record carrying `flags`. Returns
   * false when that does not apply.
   */
  private answerUnansweredRequest(reason: CloseReason, flags: string): boolean {
    if (!this.sniffer.awaitingFirstResponse || this.upstreamBytes > 0) return false;
    this.closeReason ??= reason;
    this.answeredFlags = flags;
    this.sniffer.failWaiting(503);
    this.upstream.destroy();
    this.client.end(SERVICE_UNAVAILABLE);
    return true;
  }

  private fail(reason: CloseReason): void {
    if (!this.connected && reason === 'connect_timeout') {
      this.connectFailed(reason);
      return;
    }
    this.closeReason ??= reason;
    // Pass a reset on as a reset; timeouts and drain cut both sides the same way.
    reset(this.client);
    reset(this.upstream);
  }

  private maybeFinished(): void {
    if (this.finished || !this.clientClosed || !this.upstreamClosed) return;
    this.finished = true;
    this.settings.idle.unwatch(this);
    if (this.unreachable !== undefined) clearTimeout(this.unreachable.timer);
    const closeReason = this.closeReason ?? 'closed';
    this.sniffer.closed(this.answeredFlags ?? this.unfinishedFlags(closeReason));
    // Both sockets are closed: no pending write can still point into the buffer.
    this.settings.readBuffers.release(this.readBuffer);
    this.stats.connectionClosed(
      {
        direction: this.direction,
        downstream: this.downstreamName,
        upstream: this.upstreamName,
        bytesFromClient: this.client.bytesRead,
        bytesToClient: this.client.bytesWritten,
        durationMs: performance.now() - this.openedAt,
        closeReason,
        responseFlags: CONNECTION_FLAGS[closeReason],
        http: this.sniffer.sawHttpRequest,
        timestamp: this.openedAtWallClock,
      },
      this.sniffer.opaque,
    );
    this.onDone(this);
  }

  /** Why requests still waiting at the close got no whole response (response-flags.ts). */
  private unfinishedFlags(reason: CloseReason): string {
    if (reason === 'closed') return this.firstEnd === 'upstream' ? 'UC' : 'DC';
    if (reason === 'idle_timeout') return 'UT';
    return CONNECTION_FLAGS[reason];
  }
}

/**
 * Closes with RST when connected (so the peer sees an abort), else just
 * destroys. libuv forbids a reset after a shutdown (end()): the handle would
 * never close, so an ended socket is destroyed instead.
 */
function reset(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting || socket.writableEnded || socket.readyState === 'closed') socket.destroy();
  else socket.resetAndDestroy();
}
