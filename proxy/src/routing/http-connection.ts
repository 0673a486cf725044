// One client connection on a port the policy declares `protocol: http`: the
// request loop of the L7 path (docs/proxy.md, "The L7 path").
//
// Each request head is parsed before anything is sent upstream; the route
// table of the policy in force then decides, for this request alone, where it
// goes (a pooled keep-alive connection to the chosen backend) or what the
// proxy answers itself (no route, rate limited, an injected abort). The head
// is rebuilt without hop-by-hop fields and with the route's and the pod's
// header edits; bodies pass with the framing they came with (Content-Length,
// chunked with trailers, or a response delimited by the upstream's close).
//
// Requests are taken one at a time: the request stream stops at the end of
// each request, and bytes after it (a pipelined request) wait, with the
// client paused, until the response has gone out, so responses leave in
// request order. `Expect: 100-continue` needs nothing special: the interim
// response is passed on, then the body. After a `101` (or a `2xx` to CONNECT)
// the two connections are joined and the rest is spliced.
import type net from 'node:net';
import type { CloseReason, Direction } from '../connection-vocabulary.ts';
import type { HeldHeadBudget } from '../http/held-heads.ts';
import type { MessageHead } from '../http/message-head.ts';
import {
  MessageStream,
  NEXT_CHUNKED,
  NEXT_COMPLETE,
  NEXT_LENGTH,
  NEXT_MALFORMED,
  NEXT_OPAQUE,
  NEXT_UNTIL_CLOSE,
  S_UNTIL_CLOSE,
} from '../http/message-stream.ts';
import type { HeaderInserts } from '../http/sniffer.ts';
import type { IdleTimeout, IdleWatched } from '../idle-timeout.ts';
import type { Prelude } from '../splice.ts';
import type { ProxyStats } from '../stats/proxy-stats.ts';
import { RequestRecord } from '../stats/request-record.ts';
import { CONNECTION_FLAGS } from '../stats/response-flags.ts';
import { decideFault } from './faults.ts';
import {
  composeHead,
  composeWithout,
  type HeadEdit,
  type HeadFields,
  nominatedFields,
} from './head-fields.ts';
import {
  BAD_REQUEST_BODY,
  cachedAnswer,
  FAULT_ABORT_BODY,
  HEAD_TOO_LARGE_BODY,
  localAnswer,
  NO_ROUTE_BODY,
  RATE_LIMITED_BODY,
  UPSTREAM_FAILED_BODY,
} from './local-answers.ts';
import {
  type CompiledRewrite,
  type CompiledRoute,
  NO_ROUTE_NAME,
  RequestView,
  ROUTELESS_TABLE,
  type RouteTable,
  type RouteTables,
} from './route-table.ts';
import type {
  UpstreamConnection,
  UpstreamLoss,
  UpstreamPool,
  UpstreamTarget,
  UpstreamUser,
} from './upstream-pool.ts';

export interface HttpSettings {
  idle: IdleTimeout;
  inserts: HeaderInserts;
  heldHeads: HeldHeadBudget;
  capturesLogFields?: boolean;
}

export interface Routing {
  tables: RouteTables;
  pool: UpstreamPool;
}

const CONNECTION_CLOSE = Buffer.from('connection: close\r\n', 'latin1');
/** Body bytes copied next to their head so that both leave in one write. */
const MERGE_BODY_BYTES = 4096;
const ORIGINAL_DESTINATION = undefined;
/** Most request body bytes queued while an injected delay runs, before the client is paused. */
const MAX_QUEUED_BYTES = 64 * 1024;

/** One request and its response. */
class Exchange {
  readonly record: RequestRecord;
  readonly table: RouteTable;
  readonly route: CompiledRoute | undefined;
  upstream: UpstreamConnection | undefined;
  target: UpstreamTarget | undefined;
  /** The rebuilt head, kept to send after a delay or again after a lost reused connection. */
  head: Buffer | undefined;
  /** Body bytes that came while the head waits (an injected delay). */
  queued: Buffer[] | undefined;
  queuedBytes = 0;
  delay: NodeJS.Timeout | undefined;
  requestDone = false;
  responseDone = false;
  responseStarted = false;
  /** Answered by the proxy: request bytes go nowhere. */
  local = false;
  /** The client connection closes once this response is out. */
  closeAfter = false;
  /** An upgrade request or CONNECT: a 101 or 2xx joins the connections. */
  readonly upgrade: boolean;
  /** No body: the head alone can be sent again. */
  readonly replayable: boolean;
  retried = false;

  constructor(
    record: RequestRecord,
    table: RouteTable,
    route: CompiledRoute | undefined,
    upgrade: boolean,
    replayable: boolean,
  ) {
    this.record = record;
    this.table = table;
    this.route = route;
    this.upgrade = upgrade;
    this.replayable = replayable;
  }
}

export class HttpConnection implements IdleWatched, UpstreamUser {
  readonly direction: Direction;
  readonly client: net.Socket;
  private readonly destination: { host: string; port: number };
  private readonly stats: ProxyStats;
  private readonly settings: HttpSettings;
  private readonly routing: Routing;
  private readonly onDone: (connection: HttpConnection) => void;
  private readonly request: MessageStream;
  private readonly view = new RequestView();
  private readonly downstreamName: string;
  private readonly originalTarget: UpstreamTarget;
  private readonly openedAt = performance.now();
  private readonly openedAtWallClock = Date.now();
  private readonly edit: MutableEdit = newEdit();
  private exchange: Exchange | undefined;
  /** Client bytes after a finished request, waiting for its response to go out. */
  private held: Buffer | undefined;
  /** After a 101: every byte goes straight to this upstream. */
  private tunnel: UpstreamConnection | undefined;
  private pausedForHeld = false;
  private pausedForUpstream = false;
  /** A response head not written yet, and where its fields are (see onResponseBytes). */
  private pendingRaw: Buffer | undefined;
  private pendingFields: HeadFields | undefined;
  /** Fields the pending head's Connection names, removed as it is written; usually undefined. */
  private pendingNominated: string[] | undefined;
  private readonly responseEdit: MutableEdit = newEdit();
  /** A finished exchange's upstream, waiting for the client to take its last bytes. */
  private releasing: UpstreamConnection | undefined;
  private clientEnded = false;
  private closed = false;
  private closeReason: CloseReason | undefined;
  private sawRequest = false;
  /** The upstream socket corked while the current chunk is pushed. */
  private corked: net.Socket | undefined;
  /** Set while feed() runs the request loop, which then moves to the next request itself. */
  private feeding = false;
  draining = false;
  active = false;
  idleTicks = 0;

  constructor(
    direction: Direction,
    client: net.Socket,
    destination: { host: string; port: number },
    stats: ProxyStats,
    settings: HttpSettings,
    routing: Routing,
    onDone: (connection: HttpConnection) => void,
    prelude?: Prelude,
  ) {
    this.direction = direction;
    this.client = client;
    this.destination = destination;
    this.stats = stats;
    this.settings = settings;
    this.routing = routing;
    this.onDone = onDone;
    this.downstreamName = `${client.remoteAddress}:${client.remotePort}`;
    const name = destination.host.includes(':')
      ? `[${destination.host}]:${destination.port}`
      : `${destination.host}:${destination.port}`;
    this.originalTarget = {
      host: destination.host,
      port: destination.port,
      key: `${direction} ${name}`,
      name,
    };
    this.request = new MessageStream(
      true,
      true,
      this,
      (bytes) => this.forward(bytes),
      settings.heldHeads,
      undefined,
      { ownerEmitsHeads: true, stopsAfterMessage: true },
    );
    if (settings.capturesLogFields) this.request.captureLogFields();
    stats.connectionOpened(direction);
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    client.on('end', () => this.onClientEnd());
    client.on('error', () => this.fail('client_reset', 'DC'));
    client.on('close', () => this.onClientClose());
    settings.idle.watch(this);
    // Bytes the traffic policy read while it waited for the Host (policy/host-peek.ts).
    if (prelude !== undefined) {
      if (prelude.bytes.length > 0) this.onClientData(prelude.bytes);
      if (prelude.ended) this.onClientEnd();
    }
  }

  /** Draining: close now if idle, else after the response in flight. */
  startDrain(): void {
    this.draining = true;
    if (this.exchange === undefined && this.held === undefined && this.tunnel === undefined) {
      this.client.end();
    } else if (this.exchange !== undefined) {
      this.exchange.closeAfter = true;
    }
  }

  forceClose(): void {
    this.fail('drain_timeout', 'DT');
  }

  idleTimedOut(): void {
    this.fail('idle_timeout', this.exchange !== undefined ? 'UT' : 'SI');
  }

  // ── client side ─────────────────────────────────────────────────────────────

  private onClientData(chunk: Buffer): void {
    this.active = true;
    if (this.tunnel !== undefined) {
      this.toUpstream(this.tunnel, chunk);
      return;
    }
    if (this.request.stopped || this.held !== undefined) {
      // A request after one still being answered (pipelining): it waits.
      this.held = this.held === undefined ? chunk : Buffer.concat([this.held, chunk]);
      if (!this.pausedForHeld) {
        this.pausedForHeld = true;
        this.client.pause();
      }
      return;
    }
    this.feed(chunk);
  }

  /** Runs client bytes through the request stream, one request at a time. */
  private feed(chunk: Buffer): void {
    this.feeding = true;
    try {
      this.runRequests(chunk);
    } finally {
      this.feeding = false;
    }
  }

  private runRequests(chunk: Buffer): void {
    let rest: Buffer | undefined = chunk;
    while (rest !== undefined) {
      const taken = this.request.push(rest);
      if (this.corked !== undefined) {
        this.corked.uncork();
        this.corked = undefined;
      }
      rest = taken < rest.length ? rest.subarray(taken) : undefined;
      if (this.closed || this.tunnel !== undefined) {
        if (rest !== undefined && this.tunnel !== undefined) this.toUpstream(this.tunnel, rest);
        return;
      }
      if (!this.request.stopped) return;
      // A request ended: its response may already be out (a local answer).
      const exchange = this.exchange;
      if (exchange !== undefined) {
        exchange.requestDone = true;
        if (!this.finishIfDone(exchange)) {
          if (rest !== undefined) this.hold(rest);
          return;
        }
        if (this.closed || this.client.writableEnded) return;
      }
      this.request.resume();
    }
  }

  private hold(bytes: Buffer): void {
    this.held = this.held === undefined ? bytes : Buffer.concat([this.held, bytes]);
    if (!this.pausedForHeld) {
      this.pausedForHeld = true;
      this.client.pause();
    }
  }

  /** The exchange is over: the next request (held or still to come) may be read. */
  private nextRequest(): void {
    this.request.resume();
    const held = this.held;
    this.held = undefined;
    if (this.pausedForHeld) {
      this.pausedForHeld = false;
      if (!this.pausedForUpstream) this.client.resume();
    }
    if (held !== undefined) this.feed(held);
    if (this.clientEnded && this.exchange === undefined && !this.closed) this.endClient();
  }

  private onClientEnd(): void {
    this.clientEnded = true;
    if (this.tunnel !== undefined) {
      this.tunnel.upstream.end();
      return;
    }
    const exchange = this.exchange;
    if (exchange === undefined) {
      if (this.held === undefined) this.endClient();
      return;
    }
    if (!exchange.requestDone && this.held === undefined) {
      // The client stopped in the middle of its request: it can never be completed.
      this.abortExchange(exchange, 'DC');
      this.endClient();
    }
    // Otherwise the responses still owed go out first (nextRequest ends the client).
  }

  /**
   * Runs as each write to the client completes, in order: once none is
   * pending, the upstream (which pauses after a read whose bytes the client
   * has not taken yet) may read again.
   */
  private readonly clientWriteDone = (): void => {
    this.active = true;
    if (this.client.writableLength > 0) return;
    const releasing = this.releasing;
    if (releasing !== undefined) {
      this.releasing = undefined;
      releasing.resumeReading();
      this.routing.pool.release(releasing);
    }
    (this.tunnel ?? this.exchange?.upstream)?.resumeReading();
  };

  private toClient(bytes: Buffer): void {
    if (this.pendingRaw !== undefined) this.flushResponseHead();
    if (!this.client.destroyed) this.client.write(bytes, this.clientWriteDone);
  }

  /**
   * Response body bytes. The first ones after a response head are written
   * with it, the head rebuilt around them in one buffer, when they are few
   * (a small response then leaves in one write, as it came in one read);
   * otherwise the head goes first.
   */
  onResponseBytes(bytes: Buffer): void {
    this.active = true;
    const raw = this.pendingRaw;
    if (raw !== undefined && bytes.length <= MERGE_BODY_BYTES) {
      this.pendingRaw = undefined;
      const out = this.composeResponseHead(raw, bytes);
      if (!this.client.destroyed) this.client.write(out, this.clientWriteDone);
      return;
    }
    this.toClient(bytes);
  }

  /**
   * Writes the response head still waiting for body bytes. Called before any
   * other write and at the end of the upstream read it came in: its bytes may
   * still be in that read's buffer, which onRead keeps until they are written.
   */
  flushResponseHead(): void {
    const raw = this.pendingRaw;
    if (raw === undefined) return;
    this.pendingRaw = undefined;
    const out = this.composeResponseHead(raw);
    if (!this.client.destroyed) this.client.write(out, this.clientWriteDone);
  }

  private composeResponseHead(raw: Buffer, tail?: Buffer): Buffer {
    const nominated = this.pendingNominated;
    return nominated === undefined
      ? composeHead(raw, this.pendingFields!, this.responseEdit, tail)
      : composeWithout(raw, this.pendingFields!, this.responseEdit, nominated, tail);
  }

  private toUpstream(upstream: UpstreamConnection, bytes: Buffer): void {
    if (!upstream.write(bytes) && !this.pausedForUpstream) {
      this.pausedForUpstream = true;
      this.client.pause();
    }
  }

  onUpstreamDrain(): void {
    this.active = true;
    if (!this.pausedForUpstream) return;
    this.pausedForUpstream = false;
    if (!this.pausedForHeld) this.client.resume();
  }

  /** Request body and framing bytes, as the request stream releases them. */
  private forward(bytes: Buffer): void {
    const exchange = this.exchange;
    if (exchange === undefined || exchange.local) return;
    if (exchange.upstream !== undefined) {
      this.toUpstream(exchange.upstream, bytes);
      return;
    }
    // Waiting for an injected delay: keep the bytes, pause the client past a bound.
    exchange.queued ??= [];
    exchange.queued.push(Buffer.from(bytes));
    exchange.queuedBytes += bytes.length;
    if (exchange.queuedBytes > MAX_QUEUED_BYTES && !this.pausedForUpstream) {
      this.pausedForUpstream = true;
      this.client.pause();
    }
  }

  // ── request heads (the request stream's MessageOwner) ───────────────────────

  onHead(stream: MessageStream, head: MessageHead, headBytes: number, at: number): number {
    const raw = stream.rawHead!;
    const table =
      this.routing.tables.lookup(this.direction, this.destination.port) ?? ROUTELESS_TABLE;
    const fields = table.requestFields;
    // parseHead recorded the fields as it went, unless the table changed since
    // the last head (a reload): then they are found now, and from the next head on.
    if (head.fields !== fields || fields.recordedFor !== head) {
      fields.scan(raw);
      stream.recordFields(fields);
    }
    const record = new RequestRecord(
      this.direction,
      head.method,
      head.authority,
      head.target,
      at,
      this.downstreamName,
      this.originalTarget.name,
    );
    record.requestBytes = headBytes;
    if (head.http10) record.protocol = 'HTTP/1.0';
    if (this.settings.capturesLogFields) {
      record.userAgent = head.userAgent;
      record.requestId = head.requestId;
    }
    this.sawRequest = true;

    const connect = head.method === 'CONNECT';
    const upgrade = connect || (head.hasUpgrade && head.connectionUpgrade);
    let next: number;
    if (connect) next = NEXT_COMPLETE;
    else if (head.hasTransferEncoding) next = head.chunked ? NEXT_CHUNKED : NEXT_MALFORMED;
    else next = head.contentLength > 0 ? NEXT_LENGTH : NEXT_COMPLETE;
    if (next === NEXT_MALFORMED) return next;

    let route: CompiledRoute | undefined;
    if (table.hasRoutes) {
      this.view.reset(head, fields);
      route = table.match(this.view);
    }
    record.route = route?.name ?? NO_ROUTE_NAME;
    const exchange = new Exchange(
      record,
      table,
      route,
      upgrade,
      next === NEXT_COMPLETE && !connect,
    );
    this.exchange = exchange;
    // HTTP/1.0 keep-alive is not offered: such a client's connection closes after its response.
    exchange.closeAfter = head.connectionClose || head.http10 || this.draining;
    // A body the client holds back until it hears 100 Continue never comes after a local answer.
    const bodyWithheld = next !== NEXT_COMPLETE && expectsContinue(fields, table);

    if (table.hasRoutes && route === undefined) {
      this.answer(exchange, 404, NO_ROUTE_BODY, 'NR', bodyWithheld);
      return next;
    }
    if (route?.bucket !== undefined) {
      if (!route.bucket.take()) {
        const seconds = Math.max(1, Math.ceil(route.bucket.msUntilNextToken() / 1000));
        this.answer(
          exchange,
          429,
          RATE_LIMITED_BODY,
          'RL',
          bodyWithheld,
          `x-local-rate-limit: true\r\nretry-after: ${seconds}\r\n`,
        );
        return next;
      }
    }
    const fault = route?.fault === undefined ? undefined : decideFault(route.fault);
    if (fault !== undefined && fault.abortStatus !== 0 && fault.delayMs === 0) {
      this.answer(exchange, fault.abortStatus, FAULT_ABORT_BODY, 'FI', bodyWithheld);
      return next;
    }
    exchange.head = this.rebuildRequestHead(raw, head, exchange, route);
    const backend = route?.backends === undefined ? ORIGINAL_DESTINATION : route.backends.pick();
    exchange.target =
      backend === undefined
        ? this.originalTarget
        : {
            host: backend.host,
            port: backend.port,
            key: `${this.direction} ${backend.address}`,
            name: backend.address,
          };
    record.upstream = exchange.target.name;
    if (fault !== undefined && fault.delayMs > 0) {
      record.responseFlags = 'DI';
      exchange.delay = setTimeout(() => {
        exchange.delay = undefined;
        if (this.exchange !== exchange) return;
        if (fault.abortStatus !== 0) {
          this.answer(exchange, fault.abortStatus, FAULT_ABORT_BODY, 'DI,FI', bodyWithheld);
          this.finishIfDone(exchange);
        } else {
          this.send(exchange);
        }
      }, fault.delayMs);
      return next;
    }
    this.send(exchange, false, next !== NEXT_COMPLETE);
    return next;
  }

  insertFor(): Buffer | undefined {
    return undefined;
  }

  onBodyBytes(_stream: MessageStream, wireBytes: number, payloadBytes: number): void {
    const record = this.exchange?.record;
    if (record !== undefined) {
      record.requestBytes += wireBytes;
      record.requestBodyBytes += payloadBytes;
    }
  }

  onMessageComplete(): void {}

  onMalformed(stream: MessageStream): void {
    this.stats.parseError(this.direction);
    this.refuseRequest(stream.headTooLarge ? 431 : 400);
  }

  onNotHttp(): void {
    this.refuseRequest(400);
  }

  /** A request that is not HTTP/1 (or too large to read) on a port declared HTTP. */
  private refuseRequest(status: number): void {
    const exchange = this.exchange;
    if (exchange !== undefined) this.abortExchange(exchange, 'DC');
    this.toClient(
      cachedAnswer(status, status === 431 ? HEAD_TOO_LARGE_BODY : BAD_REQUEST_BODY, true),
    );
    this.endClient();
  }

  /** The head as it goes upstream: hop-by-hop fields out, route and pod edits in. */
  private rebuildRequestHead(
    raw: Buffer,
    head: MessageHead,
    exchange: Exchange,
    route: CompiledRoute | undefined,
  ): Buffer {
    const table = exchange.table;
    const names = table.requestNames;
    const fields = table.requestFields;
    const edit = clearEdit(this.edit, names.names.length);
    // An upgrade hands the connection over whole, its Connection options with it.
    const nominated =
      head.connectionOptions && !exchange.upgrade
        ? nominatedFields(fields, table.requestHop.connection)
        : undefined;
    const inserts = this.settings.inserts;
    markHopByHop(edit.drop, table.requestHop, exchange.upgrade);
    if (route !== undefined) {
      for (const i of route.request.drop) edit.drop[i] = 1;
      addLines(edit, route.request.added);
    }
    let lines = inserts.request;
    const identity = inserts.identity;
    if (identity !== undefined) {
      if (identity.dropClientHostname) edit.drop[table.clientHostnameIndex] = 1;
      // A client's X-Forwarded-For that its Connection names is removed: the pod's goes on a line of its own.
      const end = nominated?.includes('x-forwarded-for')
        ? -1
        : fields.lastValueEnd(table.forwardedForIndex);
      if (end >= 0 && identity.forwardedForSuffix !== undefined) {
        edit.appendAt = end;
        edit.appendBytes = fields.lastValueEmpty(table.forwardedForIndex)
          ? identity.forwardedForValue
          : identity.forwardedForSuffix;
        lines = identity.insertWhenForwarded;
      }
    }
    if (lines !== undefined) addLine(edit, lines);
    if (nominated !== undefined) return composeWithout(raw, fields, edit, nominated);
    return composeHead(raw, fields, edit);
  }

  /** Sends the exchange's head (and anything queued) on an upstream connection. */
  private send(exchange: Exchange, fresh = false, bodyFollows = false): void {
    const pool = this.routing.pool;
    const upstream = fresh
      ? pool.connectNew(this.direction, exchange.target!, this)
      : pool.acquire(this.direction, exchange.target!, this);
    exchange.upstream = upstream;
    // The response's head is recorded against the same table as the request's.
    upstream.stream.recordFields(exchange.table.responseFields);
    if (this.feeding && bodyFollows) {
      // The head and the body bytes after it in this chunk leave in one write (uncorked in runRequests).
      upstream.upstream.cork();
      this.corked = upstream.upstream;
    }
    this.toUpstream(upstream, exchange.head!);
    const queued = exchange.queued;
    if (queued !== undefined) {
      exchange.queued = undefined;
      exchange.queuedBytes = 0;
      for (const bytes of queued) this.toUpstream(upstream, bytes);
      if (this.pausedForUpstream && upstream.upstream.writableLength === 0) this.onUpstreamDrain();
    }
  }

  /** The proxy answers the request itself; its body, if any, is read and dropped. */
  private answer(
    exchange: Exchange,
    status: number,
    body: string,
    flags: string,
    bodyWithheld: boolean,
    extra?: string,
  ): void {
    exchange.local = true;
    exchange.responseStarted = true;
    exchange.responseDone = true;
    if (bodyWithheld) exchange.closeAfter = true;
    const record = exchange.record;
    record.status = status;
    record.responseFlags = flags;
    record.timeToFirstByteMs = performance.now() - record.startedAt;
    const close = exchange.closeAfter;
    const bytes =
      extra === undefined
        ? cachedAnswer(status, body, close)
        : localAnswer(status, body, close, extra);
    record.responseBytes = bytes.length;
    this.toClient(bytes);
  }

  /**
   * Publishes a finished exchange and moves on; false while it is not
   * finished. `now`: performance.now(), or the time of the upstream read
   * that ended the response (which saves reading the clock again).
   */
  private finishIfDone(exchange: Exchange, now = performance.now()): boolean {
    if (!exchange.responseDone || !(exchange.requestDone || exchange.closeAfter)) return false;
    if (this.exchange !== exchange) return true;
    this.exchange = undefined;
    const record = exchange.record;
    record.durationMs = now - record.startedAt;
    this.stats.recordRequest(record);
    const upstream = exchange.upstream;
    if (upstream !== undefined && upstream.user === this) {
      if (!exchange.requestDone) upstream.reusable = false;
      if (upstream.pausedForClient) {
        // Writes to this client still point into its read buffer: it goes back to
        // the pool once they are done (clientWriteDone), not before.
        upstream.user = undefined;
        this.releasing = upstream;
      } else {
        this.routing.pool.release(upstream, now);
      }
    }
    if (exchange.closeAfter) {
      this.endClient();
      return true;
    }
    // From inside the request loop (feed), the loop goes on by itself.
    if (!this.feeding && this.request.stopped) this.nextRequest();
    return true;
  }

  /** The exchange ends without its response: its record says why (flags). */
  private abortExchange(exchange: Exchange, flags: string): void {
    if (this.exchange !== exchange) return;
    this.exchange = undefined;
    this.pendingRaw = undefined;
    if (exchange.delay !== undefined) clearTimeout(exchange.delay);
    const record = exchange.record;
    record.durationMs = performance.now() - record.startedAt;
    if (record.responseFlags === '-' || !exchange.responseStarted) record.responseFlags = flags;
    this.stats.recordRequest(record);
    exchange.upstream?.destroy();
  }

  private endClient(): void {
    this.flushResponseHead();
    if (!this.client.destroyed && !this.client.writableEnded) this.client.end();
    this.held = undefined;
  }

  // ── responses (UpstreamUser) ─────────────────────────────────────────────────

  onResponseHead(upstream: UpstreamConnection, head: MessageHead, raw: Buffer, at: number): number {
    const exchange = this.exchange;
    if (exchange === undefined || exchange.upstream !== upstream) return NEXT_MALFORMED;
    this.active = true;
    const record = exchange.record;
    exchange.responseStarted = true;
    if (record.timeToFirstByteMs < 0) record.timeToFirstByteMs = at - record.startedAt;
    record.responseBytes += raw.length;
    const status = head.status;
    if (
      (status === 101 && exchange.upgrade) ||
      (exchange.upgrade && record.method === 'CONNECT' && status >= 200 && status < 300)
    ) {
      record.status = status;
      this.toClient(raw);
      this.startTunnel(exchange, upstream);
      return NEXT_OPAQUE;
    }
    if (status < 200) {
      this.toClient(raw); // 100 Continue, 103 Early Hints: passed on as sent
      return NEXT_COMPLETE;
    }
    record.status = status;
    let next: number;
    if (record.method === 'HEAD' || status === 204 || status === 304) next = NEXT_COMPLETE;
    else if (head.hasTransferEncoding) next = head.chunked ? NEXT_CHUNKED : NEXT_UNTIL_CLOSE;
    else if (head.contentLength > 0) next = NEXT_LENGTH;
    else if (head.contentLength === 0) next = NEXT_COMPLETE;
    else next = NEXT_UNTIL_CLOSE;
    if (head.connectionClose || head.http10 || next === NEXT_UNTIL_CLOSE) upstream.reusable = false;
    // A body delimited by the upstream's close is delimited the same way for the client.
    if (next === NEXT_UNTIL_CLOSE || this.draining || !exchange.requestDone)
      exchange.closeAfter = true;
    // Rebuilt with the body bytes of the same read (onResponseBytes), or alone after it.
    this.prepareResponseHead(raw, head, exchange);
    return next;
  }

  private prepareResponseHead(raw: Buffer, head: MessageHead, exchange: Exchange): void {
    const table = exchange.table;
    const fields = table.responseFields;
    if (head.fields !== fields || fields.recordedFor !== head) fields.scan(raw);
    this.pendingNominated = head.connectionOptions
      ? nominatedFields(fields, table.responseHop.connection)
      : undefined;
    const edit = clearEdit(this.responseEdit, table.responseNames.names.length);
    markHopByHop(edit.drop, table.responseHop, false);
    const rewrite: CompiledRewrite | undefined = exchange.route?.response;
    if (rewrite !== undefined) {
      for (const i of rewrite.drop) edit.drop[i] = 1;
      addLines(edit, rewrite.added);
    }
    const inserts = this.settings.inserts.response;
    if (inserts !== undefined) addLine(edit, inserts);
    if (exchange.closeAfter) addLine(edit, CONNECTION_CLOSE);
    this.pendingRaw = raw;
    this.pendingFields = fields;
  }

  onResponseBodyBytes(wireBytes: number, payloadBytes: number): void {
    const record = this.exchange?.record;
    if (record !== undefined) {
      record.responseBytes += wireBytes;
      record.responseBodyBytes += payloadBytes;
    }
  }

  onResponseMessageEnd(upstream: UpstreamConnection, leftover: boolean, at: number): void {
    this.flushResponseHead();
    const exchange = this.exchange;
    if (exchange === undefined || exchange.upstream !== upstream) return;
    if (exchange.record.status === 0) return; // an interim response: the final one follows
    if (leftover) upstream.reusable = false;
    exchange.responseDone = true;
    if (!this.finishIfDone(exchange, at)) {
      // The response is complete before the request (the upstream answered early):
      // the client connection closes once the rest of the request is dropped.
      exchange.closeAfter = true;
      this.finishIfDone(exchange, at);
    }
  }

  onResponseMalformed(upstream: UpstreamConnection): void {
    const exchange = this.exchange;
    if (exchange === undefined || exchange.upstream !== upstream) return;
    this.stats.parseError(this.direction);
    this.upstreamFailed(exchange, 'UC', 'upstream_reset');
  }

  onUpstreamEnd(upstream: UpstreamConnection): void {
    if (this.tunnel === upstream) {
      this.endClient();
      return;
    }
    const exchange = this.exchange;
    if (exchange === undefined || exchange.upstream !== upstream) {
      upstream.destroy();
      return;
    }
    if (upstream.stream.state === S_UNTIL_CLOSE) {
      exchange.responseDone = true;
      exchange.closeAfter = true;
      this.finishIfDone(exchange);
      upstream.destroy();
      return;
    }
    this.upstreamFailed(exchange, 'UC', 'closed');
  }

  onUpstreamLost(upstream: UpstreamConnection, reason: UpstreamLoss): void {
    if (this.tunnel === upstream) {
      this.fail(reason, CONNECTION_FLAGS[reason]);
      return;
    }
    const exchange = this.exchange;
    if (exchange === undefined || exchange.upstream !== upstream) return;
    const connectFailed = reason !== 'upstream_reset' && !upstream.connected;
    this.upstreamFailed(exchange, connectFailed ? 'UF' : 'UR', reason);
  }

  /**
   * The upstream went away during the exchange. Before any response byte the
   * client gets a 503 (or the request goes again, once, on a new connection,
   * when a reused one was closed under it and the request has no body); after
   * one the client connection is reset, since its response cannot be whole.
   */
  private upstreamFailed(exchange: Exchange, flags: string, reason: CloseReason): void {
    const upstream = exchange.upstream!;
    upstream.destroy();
    if (exchange.responseStarted) {
      this.closeReason ??= reason;
      this.abortExchange(exchange, flags);
      this.fail(reason, flags);
      return;
    }
    if (
      upstream.uses > 1 &&
      exchange.replayable &&
      exchange.requestDone &&
      !exchange.retried &&
      flags !== 'UF'
    ) {
      exchange.retried = true;
      this.send(exchange, true);
      return;
    }
    exchange.upstream = undefined;
    this.answer(exchange, 503, UPSTREAM_FAILED_BODY, flags, false);
    if (!exchange.requestDone) exchange.closeAfter = true;
    this.finishIfDone(exchange);
  }

  private startTunnel(exchange: Exchange, upstream: UpstreamConnection): void {
    upstream.reusable = false;
    this.tunnel = upstream;
    exchange.responseDone = true;
    exchange.requestDone = true;
    this.exchange = undefined;
    const record = exchange.record;
    record.durationMs = performance.now() - record.startedAt;
    this.stats.recordRequest(record);
    this.request.goOpaque();
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) this.toUpstream(upstream, held);
    if (this.pausedForHeld) {
      this.pausedForHeld = false;
      if (!this.pausedForUpstream) this.client.resume();
    }
    if (this.clientEnded) upstream.upstream.end();
  }

  // ── the end ─────────────────────────────────────────────────────────────────

  private fail(reason: CloseReason, flags: string): void {
    if (this.closed) return;
    this.closeReason ??= reason;
    const exchange = this.exchange;
    if (exchange !== undefined) this.abortExchange(exchange, flags);
    this.tunnel?.destroy();
    if (!this.client.destroyed) {
      if (this.client.writableEnded || this.client.connecting) this.client.destroy();
      else this.client.resetAndDestroy();
    }
  }

  private onClientClose(): void {
    if (this.closed) return;
    const exchange = this.exchange;
    if (exchange !== undefined) this.abortExchange(exchange, 'DC');
    this.closed = true;
    this.held = undefined;
    this.tunnel?.destroy();
    this.releasing?.destroy();
    this.settings.idle.unwatch(this);
    const closeReason = this.closeReason ?? 'closed';
    this.stats.connectionClosed(
      {
        direction: this.direction,
        downstream: this.downstreamName,
        upstream: this.originalTarget.name,
        bytesFromClient: this.client.bytesRead,
        bytesToClient: this.client.bytesWritten,
        durationMs: performance.now() - this.openedAt,
        closeReason,
        responseFlags: CONNECTION_FLAGS[closeReason],
        http: this.sawRequest,
        timestamp: this.openedAtWallClock,
      },
      false,
    );
    this.onDone(this);
  }
}

type MutableEdit = { -readonly [K in keyof HeadEdit]: HeadEdit[K] } & { added: Buffer[] };

function newEdit(): MutableEdit {
  return {
    drop: new Uint8Array(0),
    appendAt: -1,
    appendBytes: undefined,
    added: [],
    addedCount: 0,
  };
}

/**
 * The reused edit, cleared for a head of `names` field names. Loops and a
 * count rather than fill() and `length = 0`, which leave JavaScript for a
 * few entries (the request path does this twice per request).
 */
function clearEdit(edit: MutableEdit, names: number): MutableEdit {
  const drop = edit.drop;
  if (drop.length !== names) edit.drop = new Uint8Array(names);
  else for (let i = 0; i < names; i++) drop[i] = 0;
  edit.appendAt = -1;
  edit.appendBytes = undefined;
  edit.addedCount = 0;
  return edit;
}

function addLine(edit: MutableEdit, line: Buffer): void {
  edit.added[edit.addedCount++] = line;
}

function addLines(edit: MutableEdit, lines: readonly Buffer[]): void {
  for (const line of lines) edit.added[edit.addedCount++] = line;
}

/** `Expect: 100-continue` on the request just scanned. */
function expectsContinue(fields: RouteTable['requestFields'], table: RouteTable): boolean {
  const value = fields.value(table.expectIndex);
  return value !== undefined && value.toLowerCase() === '100-continue';
}

/** Marks the hop-by-hop names; an upgrade keeps Connection and Upgrade. */
function markHopByHop(drop: Uint8Array, hop: RouteTable['requestHop'], upgrade: boolean): void {
  drop[hop.connection] = upgrade ? 0 : 1;
  drop[hop.upgrade] = upgrade ? 0 : 1;
  drop[hop.keepAlive] = 1;
  drop[hop.proxyConnection] = 1;
  drop[hop.te] = 1;
}
