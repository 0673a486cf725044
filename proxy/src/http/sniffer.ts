// Watches both directions of one proxied connection as HTTP/1.1, pairing each
// response with its request in order (a FIFO, for pipelining), and publishes a
// RequestRecord per exchange. It never changes framing; it only inserts the
// configured header lines. Anything that stops making sense as HTTP turns the
// whole connection into opaque bytes.
import type { Direction } from '../connection-vocabulary.ts';
import { RequestRecord } from '../stats/request-record.ts';
import type { IdentityRewrite } from './added-headers.ts';
import { type HeldHeadBudget, UNBOUNDED_HELD_HEADS } from './held-heads.ts';
import type { MessageHead } from './message-head.ts';
import {
  type MessageOwner,
  MessageStream,
  NEXT_CHUNKED,
  NEXT_COMPLETE,
  NEXT_LENGTH,
  NEXT_MALFORMED,
  NEXT_OPAQUE,
  NEXT_UNTIL_CLOSE,
  S_AWAIT_SWITCH,
  S_DETECT,
  S_OPAQUE,
  S_UNTIL_CLOSE,
} from './message-stream.ts';

export interface SnifferEvents {
  onRecord(record: RequestRecord): void;
  onParseError(): void;
  /** A response carrying the drain-time `Connection: close` has been forwarded. */
  onClosingResponseSent(): void;
}

/** The header lines a connection inserts; encoded once at start. */
export interface HeaderInserts {
  request: Buffer | undefined;
  response: Buffer | undefined;
  /** Response lines while draining: `response` plus `Connection: close`. */
  responseWhileDraining: Buffer;
  /** How requests' own identity fields are rewritten (outbound, forwardPodIdentity). */
  identity?: IdentityRewrite | undefined;
}

export class HttpSniffer implements MessageOwner {
  readonly request: MessageStream;
  readonly response: MessageStream;
  /** Requests waiting for their response, oldest first. */
  private readonly waiting: RequestRecord[] = [];
  /** Set when the next response should say `Connection: close` (draining). */
  private draining = false;

  private readonly direction: Direction;
  private readonly inserts: HeaderInserts;
  private readonly events: SnifferEvents;
  private readonly downstream: string;
  private readonly upstream: string;
  /** Request whose body is being read (the newest in `waiting`). */
  private requestRecord: RequestRecord | undefined;
  private switchRequested = false;
  private responseInterim = false;
  private closingResponse = false;
  private http = false;
  private readonly capturesLogFields: boolean;

  constructor(
    direction: Direction,
    inserts: HeaderInserts,
    events: SnifferEvents,
    downstream: string,
    upstream: string,
    toUpstream: (bytes: Buffer) => void,
    toClient: (bytes: Buffer) => void,
    heldHeads: HeldHeadBudget = UNBOUNDED_HELD_HEADS,
    capturesLogFields = false,
  ) {
    this.capturesLogFields = capturesLogFields;
    this.direction = direction;
    this.inserts = inserts;
    this.events = events;
    this.downstream = downstream;
    this.upstream = upstream;
    this.request = new MessageStream(
      true,
      inserts.request !== undefined,
      this,
      toUpstream,
      heldHeads,
      inserts.identity,
    );
    // Responses are always held so that draining can add `Connection: close`.
    this.response = new MessageStream(false, true, this, toClient, heldHeads);
    if (capturesLogFields) this.request.captureLogFields();
  }

  /** True once the client has sent something that parsed as an HTTP request head. */
  get sawHttpRequest(): boolean {
    return this.http;
  }

  /** True when HTTP requests wait and no response byte has come back yet. */
  get awaitingFirstResponse(): boolean {
    return this.waiting.length > 0 && !this.opaque && this.waiting[0]!.timeToFirstByteMs < 0;
  }

  get opaque(): boolean {
    return this.request.state === S_OPAQUE;
  }

  /** True when no message is in flight in either direction (a clean point to close). */
  get idle(): boolean {
    return this.waiting.length === 0 && !this.request.midMessage && !this.response.midMessage;
  }

  /**
   * The proxy is draining: from now on each final response says
   * `Connection: close`. Returns true when the connection can close at once
   * (HTTP, and no message in flight either way).
   */
  startDrain(): boolean {
    this.draining = true;
    return this.http && !this.opaque && this.idle;
  }

  clientData(chunk: Buffer): void {
    this.request.push(chunk);
  }

  upstreamData(chunk: Buffer): void {
    // HTTP servers never speak first: a greeting means another protocol.
    if (this.request.state === S_DETECT) this.toOpaque();
    this.response.push(chunk);
  }

  /**
   * The client finished sending. A request head it left unfinished can never
   * complete: its held bytes go to the upstream as they came.
   */
  clientEnded(): void {
    if (this.request.holdsPartialHead) this.toOpaque();
  }

  /**
   * The upstream finished sending: ends a read-until-close response, and lets
   * an unfinished response head go to the client as it came.
   */
  upstreamEnded(): void {
    if (this.response.state === S_UNTIL_CLOSE) this.finishResponse(performance.now());
    else if (this.response.holdsPartialHead) this.toOpaque();
  }

  /**
   * The connection is gone: requests still waiting are published with status 0
   * (or the proxy's own 503) and `flags`, which say why they got no whole response.
   */
  closed(flags: string): void {
    this.request.releaseHeld();
    this.response.releaseHeld();
    const now = performance.now();
    for (const record of this.waiting) {
      record.durationMs = now - record.startedAt;
      record.responseFlags = flags;
      this.events.onRecord(record);
    }
    this.waiting.length = 0;
    this.requestRecord = undefined;
  }

  /** Answers an HTTP client whose upstream could not be reached. */
  failWaiting(status: number): void {
    const record = this.waiting[0];
    if (record !== undefined) {
      record.status = status;
      record.timeToFirstByteMs = performance.now() - record.startedAt;
    }
  }

  // ── MessageOwner ─────────────────────────────────────────────────────────────

  onHead(
    stream: MessageStream,
    head: MessageHead,
    headBytes: number,
    messageStart: number,
  ): number {
    return stream.isRequest
      ? this.onRequestHead(head, headBytes, messageStart)
      : this.onResponseHead(head, headBytes, messageStart);
  }

  insertFor(stream: MessageStream, head: MessageHead): Buffer | undefined {
    if (stream.isRequest) return this.inserts.request;
    if (head.status < 200 && head.status !== 101) return undefined; // interim responses stay as sent
    if (this.draining) {
      this.closingResponse = true;
      return this.inserts.responseWhileDraining;
    }
    return this.inserts.response;
  }

  onBodyBytes(stream: MessageStream, wireBytes: number, payloadBytes: number): void {
    if (stream.isRequest) {
      const record = this.requestRecord;
      if (record !== undefined) {
        record.requestBytes += wireBytes;
        record.requestBodyBytes += payloadBytes;
      }
    } else {
      const record = this.waiting[0];
      if (record !== undefined) {
        record.responseBytes += wireBytes;
        record.responseBodyBytes += payloadBytes;
      }
    }
  }

  onMessageComplete(stream: MessageStream): void {
    if (stream.isRequest) {
      this.requestRecord = undefined;
      if (this.switchRequested) {
        this.switchRequested = false;
        stream.awaitSwitch();
      }
      return;
    }
    if (this.responseInterim) return;
    this.finishResponse(stream.now());
  }

  onMalformed(): void {
    this.events.onParseError();
    this.toOpaque();
  }

  onNotHttp(): void {
    this.toOpaque();
  }

  // ── pairing ──────────────────────────────────────────────────────────────────

  private onRequestHead(head: MessageHead, headBytes: number, messageStart: number): number {
    const record = new RequestRecord(
      this.direction,
      head.method,
      head.authority,
      head.target,
      messageStart,
      this.downstream,
      this.upstream,
    );
    record.requestBytes = headBytes;
    if (head.http10) record.protocol = 'HTTP/1.0';
    if (this.capturesLogFields) {
      record.userAgent = head.userAgent;
      record.requestId = head.requestId;
    }
    this.http = true;
    this.waiting.push(record);
    this.requestRecord = record;
    if (head.method === 'CONNECT') {
      this.switchRequested = true;
      return NEXT_COMPLETE;
    }
    this.switchRequested = head.hasUpgrade && head.connectionUpgrade;
    if (head.hasTransferEncoding) {
      // A request body must end in chunked to be delimited (RFC 9112 §6.3 item 4).
      return head.chunked ? NEXT_CHUNKED : NEXT_MALFORMED;
    }
    if (head.contentLength > 0) return NEXT_LENGTH;
    return NEXT_COMPLETE;
  }

  private onResponseHead(head: MessageHead, headBytes: number, messageStart: number): number {
    const record = this.waiting[0];
    if (record === undefined) return NEXT_MALFORMED; // a response nobody asked for
    record.responseBytes += headBytes;
    if (record.timeToFirstByteMs < 0) record.timeToFirstByteMs = messageStart - record.startedAt;
    const status = head.status;
    this.responseInterim = false;
    if (status === 101) {
      // Switching Protocols: the rest of the connection belongs to the new protocol.
      record.status = 101;
      this.publish(record, messageStart);
      this.waiting.shift();
      this.toOpaque();
      return NEXT_OPAQUE;
    }
    if (status < 200) {
      this.responseInterim = true; // 100 Continue, 103 Early Hints: the final response follows
      return NEXT_COMPLETE;
    }
    record.status = status;
    if (this.request.state === S_AWAIT_SWITCH) {
      if (record.method === 'CONNECT' && status < 300) {
        this.finishResponse(this.response.now());
        this.toOpaque();
        return NEXT_OPAQUE;
      }
      this.request.expectNextMessage(); // the switch was refused; HTTP goes on
    }
    // RFC 9112 §6.3: responses to HEAD and 204/304 never carry content.
    if (record.method === 'HEAD' || status === 204 || status === 304) return NEXT_COMPLETE;
    if (head.hasTransferEncoding) return head.chunked ? NEXT_CHUNKED : NEXT_UNTIL_CLOSE;
    if (head.contentLength > 0) return NEXT_LENGTH;
    if (head.contentLength === 0) return NEXT_COMPLETE;
    return NEXT_UNTIL_CLOSE;
  }

  private finishResponse(now: number): void {
    const record = this.waiting.shift();
    if (record === undefined) return;
    if (record === this.requestRecord) this.requestRecord = undefined;
    this.publish(record, now);
    if (this.closingResponse && this.waiting.length === 0) {
      this.closingResponse = false;
      this.events.onClosingResponseSent();
    }
  }

  private publish(record: RequestRecord, now: number): void {
    record.durationMs = now - record.startedAt;
    this.events.onRecord(record);
  }

  /** Both directions stop parsing; exchanges in flight are dropped from the statistics. */
  private toOpaque(): void {
    this.waiting.length = 0;
    this.requestRecord = undefined;
    this.request.goOpaque();
    this.response.goOpaque();
  }
}
