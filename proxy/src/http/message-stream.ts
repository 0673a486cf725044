// One direction of a connection seen as a sequence of HTTP/1.1 messages. It
// finds message boundaries (RFC 9112 §6) by scanning each chunk in place: head
// bytes are copied only when a head spans chunks, bodies are never copied. When
// the direction adds headers, a head is held until complete and re-emitted with
// the added lines before its final CRLF; all other bytes pass through untouched.
import type { IdentityRewrite } from './added-headers.ts';
import type { HeldHeadBudget } from './held-heads.ts';
import {
  type FieldRecorder,
  HEAD_MALFORMED,
  looksLikeRequest,
  MessageHead,
  PARSE_OK,
  parseHead,
  parseRequestLine,
  parseStatusLine,
  TCHAR,
} from './message-head.ts';

export const S_DETECT = 0;
export const S_HEAD = 1;
const S_LENGTH = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_END = 5;
const S_TRAILERS = 6;
export const S_UNTIL_CLOSE = 7;
export const S_AWAIT_SWITCH = 8;
export const S_OPAQUE = 9;

/** What follows a parsed head, as decided by the pairing logic. */
export const NEXT_COMPLETE = -1;
export const NEXT_MALFORMED = -2;
export const NEXT_OPAQUE = -3;
export const NEXT_LENGTH = S_LENGTH;
export const NEXT_CHUNKED = S_CHUNK_SIZE;
export const NEXT_UNTIL_CLOSE = S_UNTIL_CLOSE;

/** Longest header block accepted before the bytes are treated as not HTTP. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** The most a held head can need: the cap plus the 3 bytes of a CRLFCRLF cut after its first byte. */
const MAX_HEAD_CAPACITY = MAX_HEAD_BYTES + 3;
const MAX_CHUNK_SIZE = 2 ** 48;

const CRLF = Buffer.from('\r\n');
const LF_BYTE = Buffer.from('\n');
const SP_BYTE = 0x20;
const LF = 0x0a;
const CR = 0x0d;

/**
 * How a stream hands heads to its owner. The sniffer (the L4 splice) forwards
 * every byte and only inserts lines; the L7 path (proxy/src/routing/) writes
 * each head itself, rewritten, to the upstream it chose, and takes one message
 * at a time.
 */
export interface StreamMode {
  /**
   * The owner emits each head itself from `rawHead` during onHead; the stream
   * emits only body and framing bytes. Implies holding heads.
   */
  ownerEmitsHeads: boolean;
  /** push() stops at the end of each message; resume() lets it go on. */
  stopsAfterMessage: boolean;
}

const SNIFFING: StreamMode = { ownerEmitsHeads: false, stopsAfterMessage: false };

/** The connection-level logic a stream reports to (implemented by HttpSniffer). */
export interface MessageOwner {
  /** A head was parsed; returns the next state or a NEXT_* verdict. `messageStart` is performance.now(). */
  onHead(stream: MessageStream, head: MessageHead, headBytes: number, messageStart: number): number;
  /** Headers to insert into the head just parsed, or undefined. */
  insertFor(stream: MessageStream, head: MessageHead): Buffer | undefined;
  /** Body or framing bytes consumed for the current message. */
  onBodyBytes(stream: MessageStream, wireBytes: number, payloadBytes: number): void;
  onMessageComplete(stream: MessageStream): void;
  onMalformed(stream: MessageStream): void;
  /** The first bytes are not HTTP at all (no parse error). */
  onNotHttp(stream: MessageStream): void;
}

export class MessageStream {
  readonly isRequest: boolean;
  state: number;
  /** Whether heads are held back to insert headers (decided per connection). */
  readonly holdsHeads: boolean;
  /** True until the first message's head is parsed. */
  firstMessage = true;
  /** Owner-emitted heads: the bytes of the head being handed to onHead (valid during that call). */
  rawHead: Buffer | undefined;
  /** Set when a message ended and the stream stops there (StreamMode.stopsAfterMessage). */
  stopped = false;
  /** Set when the last malformed verdict was a head over the cap or the held-head budget. */
  headTooLarge = false;

  private readonly owner: MessageOwner;
  private readonly emit: (bytes: Buffer) => void;
  private readonly head = new MessageHead();
  private readonly heldHeads: HeldHeadBudget;
  private readonly identity: IdentityRewrite | undefined;
  private readonly ownerEmitsHeads: boolean;
  private readonly stopsAfterMessage: boolean;

  private remaining = 0;
  private chunkSizeDigits = 0;
  private chunkSizeDone = false;
  private sawCR = false;
  private trailerLineLength = 0;
  private messageStart = 0;
  /** performance.now() for the chunk being scanned, read on first use; -1 until then. */
  private chunkTime = -1;
  private startLineChecked = false;

  /** Partial head bytes when a head spans chunks. */
  private pending: Buffer | undefined;
  private pendingLength = 0;
  /** Index in the current chunk up to which bytes have been emitted. */
  private flushed = 0;

  constructor(
    isRequest: boolean,
    holdsHeads: boolean,
    owner: MessageOwner,
    emit: (bytes: Buffer) => void,
    heldHeads: HeldHeadBudget,
    identity?: IdentityRewrite,
    mode: StreamMode = SNIFFING,
  ) {
    this.isRequest = isRequest;
    this.ownerEmitsHeads = mode.ownerEmitsHeads;
    this.stopsAfterMessage = mode.stopsAfterMessage;
    this.holdsHeads = holdsHeads || mode.ownerEmitsHeads;
    this.state = isRequest ? S_DETECT : S_HEAD;
    this.owner = owner;
    this.emit = emit;
    this.heldHeads = heldHeads;
    this.identity = identity;
    this.head.tracksIdentity = identity !== undefined;
  }

  /** Tell `recorder` of every field line of the heads parsed from now on (FieldRecorder). */
  recordFields(recorder: FieldRecorder | undefined): void {
    this.head.fields = recorder;
  }

  /** Keep each request's User-Agent and X-Request-Id (for the access log). */
  captureLogFields(): void {
    this.head.capturesLogFields = true;
  }

  /** True when a message has started but not finished (bytes would be cut). */
  get midMessage(): boolean {
    return this.state !== S_HEAD || this.pendingLength > 0;
  }

  /**
   * Scans one chunk and forwards it (possibly with headers inserted). Returns
   * how many of its bytes were taken: all of them, unless the stream stopped
   * at the end of a message (StreamMode.stopsAfterMessage).
   */
  push(chunk: Buffer): number {
    const length = chunk.length;
    let at = 0;
    this.flushed = 0;
    this.chunkTime = -1;
    while (at < length && !this.stopped) {
      switch (this.state) {
        case S_OPAQUE:
        case S_UNTIL_CLOSE:
          this.onUntilCloseBytes(length - at);
          at = length;
          break;
        case S_DETECT: {
          const verdict = looksLikeRequest(chunk, at, length);
          if (verdict === 0) {
            this.owner.onNotHttp(this);
            this.state = S_OPAQUE;
          } else {
            this.state = S_HEAD;
          }
          break;
        }
        case S_HEAD:
          at = this.scanHead(chunk, at, length);
          break;
        case S_LENGTH: {
          const n = Math.min(this.remaining, length - at);
          this.remaining -= n;
          at += n;
          this.owner.onBodyBytes(this, n, n);
          if (this.remaining === 0) this.complete();
          break;
        }
        case S_CHUNK_SIZE:
          at = this.scanChunkSize(chunk, at, length);
          break;
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, length - at);
          this.remaining -= n;
          at += n;
          this.owner.onBodyBytes(this, n, n);
          if (this.remaining === 0) {
            this.state = S_CHUNK_END;
            this.sawCR = false;
          }
          break;
        }
        case S_CHUNK_END: {
          const c = chunk[at++]!;
          this.owner.onBodyBytes(this, 1, 0);
          if (c === CR && !this.sawCR) {
            this.sawCR = true;
          } else if (c === LF) {
            this.state = S_CHUNK_SIZE;
            this.chunkSizeDigits = 0;
            this.chunkSizeDone = false;
            this.remaining = 0;
          } else {
            this.malformed();
          }
          break;
        }
        case S_TRAILERS:
          at = this.scanTrailers(chunk, at, length);
          break;
        case S_AWAIT_SWITCH:
          // Bytes before the server has accepted or refused the switch: the
          // client speaks the new protocol already, so stop parsing.
          this.owner.onNotHttp(this);
          this.state = S_OPAQUE;
          break;
      }
    }
    if (this.flushed < at) {
      this.emit(this.flushed === 0 && at === length ? chunk : chunk.subarray(this.flushed, at));
    }
    return at;
  }

  /** Lets a stream that stopped at a message's end take the next message. */
  resume(): void {
    this.stopped = false;
  }

  private onUntilCloseBytes(n: number): void {
    if (this.state === S_UNTIL_CLOSE) this.owner.onBodyBytes(this, n, n);
  }

  /**
   * The time the current chunk arrived, read once per chunk: the heads and
   * message ends it holds all happened at once as far as the proxy can tell.
   */
  now(): number {
    if (this.chunkTime < 0) this.chunkTime = performance.now();
    return this.chunkTime;
  }

  /** Stops parsing: the rest of the connection is opaque bytes. Held head bytes are released. */
  goOpaque(): void {
    if (this.state === S_OPAQUE) return;
    this.state = S_OPAQUE;
    if (this.pendingLength > 0) {
      if (this.holdsHeads) this.emit(Buffer.from(this.pending!.subarray(0, this.pendingLength)));
      this.pendingLength = 0;
    }
    this.releaseHeld();
  }

  /** Gives the partial-head buffer back (a head was parsed, the stream went opaque or closed). */
  releaseHeld(): void {
    if (this.pending === undefined) return;
    this.heldHeads.give(this.pending.length);
    this.pending = undefined;
    this.pendingLength = 0;
  }

  /** The request asked to switch protocols: wait for the response to say whether it did. */
  awaitSwitch(): void {
    this.state = S_AWAIT_SWITCH;
  }

  /** Back to expecting a new message (after a refused Upgrade). */
  expectNextMessage(): void {
    if (this.state === S_AWAIT_SWITCH) this.state = S_HEAD;
  }

  private malformed(): void {
    this.owner.onMalformed(this);
    this.goOpaque();
  }

  private complete(): void {
    this.state = S_HEAD;
    if (this.stopsAfterMessage) this.stopped = true;
    this.owner.onMessageComplete(this);
  }

  private scanHead(chunk: Buffer, start: number, length: number): number {
    let at = start;
    if (this.pendingLength === 0) {
      // Empty lines before a start line are ignored, as receivers do (RFC 9112 §2.2).
      while (at < length && (chunk[at] === CR || chunk[at] === LF)) at++;
      if (at === length) return at;
      this.messageStart = this.now();
      this.startLineChecked = false;
      // The common case, a whole head in this chunk, in one pass. A head ends
      // at its first empty line, CRLF or bare LF (RFC 9112 §2.2).
      const end = parseHead(
        chunk,
        at,
        Math.min(length, at + MAX_HEAD_BYTES),
        this.isRequest,
        this.head,
      );
      if (end >= 0) {
        if (this.ownerEmitsHeads) {
          if (at > this.flushed) this.emit(chunk.subarray(this.flushed, at));
          this.flushed = end;
          this.rawHead = at === 0 && end === length ? chunk : chunk.subarray(at, end);
          this.afterHead(end - at);
          this.rawHead = undefined;
          return end;
        }
        const insert = this.holdsHeads ? this.owner.insertFor(this, this.head) : undefined;
        if (insert !== undefined) {
          const beforeEmptyLine = end - emptyLineLength(chunk, end);
          this.emitWithInsert(chunk, this.flushed, beforeEmptyLine, insert, false);
          this.flushed = beforeEmptyLine;
        }
        this.afterHead(end - at);
        return end;
      }
      // Malformed already, or over the cap, or not even the start of a start
      // line: decided now, so the bytes are not held waiting for an end.
      if (
        end === HEAD_MALFORMED ||
        length - at > MAX_HEAD_BYTES ||
        !this.startLineValid(chunk, at, length) ||
        !this.hold(chunk, at, length)
      ) {
        this.headTooLarge =
          end !== HEAD_MALFORMED &&
          (length - at > MAX_HEAD_BYTES || this.startLineValid(chunk, at, length));
        this.malformedHead(chunk, at, length);
        return at;
      }
      if (this.holdsHeads) {
        if (at > this.flushed) this.emit(chunk.subarray(this.flushed, at));
        this.flushed = length;
      }
      return length;
    }

    // The head began in an earlier chunk: find its end in the new bytes only
    // (a byte-by-byte chunking must not rescan the head each time), then parse once.
    const before = this.pendingLength;
    const take = Math.min(length - at, MAX_HEAD_BYTES - before + 3);
    if (!this.hold(chunk, at, at + take)) {
      this.headTooLarge = true;
      this.malformedHead(this.pending!, 0, before, before);
      return at;
    }
    const pending = this.pending!;
    const end = headEnd(pending, Math.max(0, before - 2), this.pendingLength);
    if (end >= 0 && end <= MAX_HEAD_BYTES) {
      const fromChunk = end - before;
      if (!this.parsed(pending, 0, end)) {
        this.malformedHead(pending, 0, this.pendingLength, before);
        return at;
      }
      if (this.ownerEmitsHeads) {
        // The copy's memory stays valid after releaseHeld: only the budget is given back.
        this.rawHead = pending.subarray(0, end);
        this.flushed = at + fromChunk;
        this.releaseHeld();
        this.afterHead(end);
        this.rawHead = undefined;
        return at + fromChunk;
      }
      if (this.holdsHeads) {
        const insert = this.owner.insertFor(this, this.head);
        const emptyLine = emptyLineLength(pending, end);
        if (insert === undefined) {
          this.emit(Buffer.from(pending.subarray(0, end)));
        } else {
          this.emitWithInsert(pending, 0, end - emptyLine, insert, true);
          this.emit(emptyLine === 2 ? CRLF : LF_BYTE);
        }
        this.flushed = at + fromChunk;
      }
      // Parsed: the copy is not needed any more (a later split head takes a new one).
      this.releaseHeld();
      this.afterHead(end);
      return at + fromChunk;
    }
    if (
      this.pendingLength > MAX_HEAD_BYTES ||
      !this.startLineValid(pending, 0, this.pendingLength)
    ) {
      this.headTooLarge = this.pendingLength > MAX_HEAD_BYTES;
      this.malformedHead(pending, 0, this.pendingLength, before);
      return at;
    }
    if (this.holdsHeads) this.flushed = at + take;
    return at + take;
  }

  /**
   * Emits the head's bytes buf[from..to) (all but its empty line), then the
   * inserted lines. With the pod's identity forwarded, the app's own
   * X-Client-Hostname lines are left out and the pod IP is appended to its
   * last X-Forwarded-For value instead of sent as a line of its own. `copy`
   * when `buf` is the held-head copy, which is given back after this.
   */
  private emitWithInsert(
    buf: Buffer,
    from: number,
    to: number,
    insert: Buffer,
    copy: boolean,
  ): void {
    const identity = this.identity;
    const head = this.head;
    const appendAt = identity?.forwardedForSuffix === undefined ? -1 : head.forwardedForEnd;
    const drops = identity?.dropClientHostname ? head.clientHostnameLines : NO_DROPS;
    if (appendAt < 0 && drops.length === 0) {
      this.emit(copy ? Buffer.from(buf.subarray(from, to)) : buf.subarray(from, to));
      this.emit(insert);
      return;
    }
    let cursor = from;
    const piece = (start: number, end: number) => {
      if (end > start)
        this.emit(copy ? Buffer.from(buf.subarray(start, end)) : buf.subarray(start, end));
    };
    const append = () => {
      piece(cursor, appendAt);
      this.emit(
        (head.forwardedForEmpty ? identity!.forwardedForValue : identity!.forwardedForSuffix)!,
      );
      cursor = appendAt;
    };
    let appended = appendAt < 0;
    for (let k = 0; k < drops.length; k += 2) {
      if (!appended && appendAt <= drops[k]!) {
        append();
        appended = true;
      }
      piece(cursor, drops[k]!);
      cursor = drops[k + 1]!;
    }
    if (!appended) append();
    piece(cursor, to);
    const lines = appendAt >= 0 ? identity!.insertWhenForwarded : insert;
    if (lines !== undefined) this.emit(lines);
  }

  /**
   * The sender finished (FIN) in the middle of a head, which can therefore
   * never complete: true when a partial head is held, so the owner can let
   * its bytes go as they came.
   */
  get holdsPartialHead(): boolean {
    return this.state === S_HEAD && this.pendingLength > 0;
  }

  private parsed(buf: Buffer, start: number, end: number): boolean {
    return parseHead(buf, start, end, this.isRequest, this.head) > 0;
  }

  /** Checks the start line as soon as it is complete, so garbage is not held for long. */
  private startLineValid(buf: Buffer, start: number, end: number): boolean {
    if (this.startLineChecked) return true;
    const lf = buf.indexOf(LF, start);
    if (lf < 0 || lf >= end) return startLinePrefixValid(buf, start, end, this.isRequest);
    this.startLineChecked = true;
    const lineEnd = lf > start && buf[lf - 1] === CR ? lf - 1 : lf;
    const result = this.isRequest
      ? parseRequestLine(buf, start, lineEnd, this.head)
      : parseStatusLine(buf, start, lineEnd, this.head);
    return result === PARSE_OK;
  }

  /**
   * A head that cannot be parsed. On a connection's first request it may just
   * be another protocol; otherwise it is a parse error. Held bytes are released
   * by goOpaque; `releasedFromPending` counts held bytes belonging to the chunk.
   */
  private malformedHead(buf: Buffer, start: number, end: number, releasedFromPending = -1): void {
    if (releasedFromPending >= 0) {
      // Only bytes held from earlier chunks are re-emitted; this chunk's bytes
      // are still unflushed and go out with the rest of the chunk.
      this.pendingLength = releasedFromPending;
    }
    if (this.isRequest && this.firstMessage && looksLikeRequest(buf, start, end) !== 1) {
      this.owner.onNotHttp(this);
      this.goOpaque();
    } else {
      this.malformed();
    }
  }

  /**
   * Copies head bytes aside until the head is complete. The copy grows by
   * doubling but never beyond the per-head cap, and only while the shared
   * budget allows; false (nothing copied) when it does not.
   */
  private hold(chunk: Buffer, from: number, to: number): boolean {
    const needed = this.pendingLength + (to - from);
    const capacity = this.pending === undefined ? 0 : this.pending.length;
    if (capacity < needed) {
      const size = Math.min(MAX_HEAD_CAPACITY, Math.max(4096, needed * 2));
      if (!this.heldHeads.take(size - capacity)) return false;
      const grown = Buffer.allocUnsafe(size);
      if (this.pending !== undefined) this.pending.copy(grown, 0, 0, this.pendingLength);
      this.pending = grown;
    }
    chunk.copy(this.pending!, this.pendingLength, from, to);
    this.pendingLength = needed;
    return true;
  }

  private afterHead(headBytes: number): void {
    this.firstMessage = false;
    const next = this.owner.onHead(this, this.head, headBytes, this.messageStart);
    switch (next) {
      case NEXT_COMPLETE:
        this.complete();
        return;
      case NEXT_MALFORMED:
        this.malformed();
        return;
      case NEXT_OPAQUE:
        this.goOpaque();
        return;
      case S_LENGTH:
        this.remaining = this.head.contentLength;
        this.state = S_LENGTH;
        return;
      case S_CHUNK_SIZE:
        this.chunkSizeDigits = 0;
        this.chunkSizeDone = false;
        this.remaining = 0;
        this.state = S_CHUNK_SIZE;
        return;
      default:
        this.state = next;
    }
  }

  /** chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1). */
  private scanChunkSize(chunk: Buffer, at: number, length: number): number {
    const begin = at;
    while (at < length) {
      const c = chunk[at++]!;
      if (c === LF) {
        if (this.chunkSizeDigits === 0) {
          this.owner.onBodyBytes(this, at - begin, 0);
          this.malformed();
          return at;
        }
        this.owner.onBodyBytes(this, at - begin, 0);
        if (this.remaining === 0) {
          this.state = S_TRAILERS;
          this.trailerLineLength = 0;
        } else {
          this.state = S_CHUNK_DATA;
        }
        return at;
      }
      if (this.chunkSizeDone) continue; // extension bytes up to the line end
      const digit = hexValue(c);
      if (digit >= 0) {
        this.remaining = this.remaining * 16 + digit;
        this.chunkSizeDigits++;
        if (this.remaining > MAX_CHUNK_SIZE) {
          this.owner.onBodyBytes(this, at - begin, 0);
          this.malformed();
          return at;
        }
      } else if (c === 0x3b || c === 0x20 || c === 0x09 || c === CR) {
        this.chunkSizeDone = true;
      } else {
        this.owner.onBodyBytes(this, at - begin, 0);
        this.malformed();
        return at;
      }
    }
    this.owner.onBodyBytes(this, at - begin, 0);
    return at;
  }

  /** trailer-section CRLF after the last chunk (RFC 9112 §7.1.2). */
  private scanTrailers(chunk: Buffer, at: number, length: number): number {
    const begin = at;
    while (at < length) {
      const c = chunk[at++]!;
      if (c === LF) {
        if (this.trailerLineLength === 0) {
          this.owner.onBodyBytes(this, at - begin, 0);
          this.complete();
          return at;
        }
        this.trailerLineLength = 0;
      } else if (c !== CR) {
        this.trailerLineLength++;
      }
    }
    this.owner.onBodyBytes(this, at - begin, 0);
    return at;
  }
}

/** 2 when the head's empty line (ending at `end`) is CRLF, 1 when it is a bare LF. */
function emptyLineLength(buf: Buffer, end: number): number {
  return buf[end - 2] === CR ? 2 : 1;
}

/**
 * Offset just past the first empty line (LF LF or LF CR LF) in buf[from..to),
 * or -1: where parseHead would stop, found without parsing.
 */
function headEnd(buf: Buffer, from: number, to: number): number {
  let lf = buf.indexOf(LF, from);
  while (lf >= 0 && lf + 1 < to) {
    const next = buf[lf + 1];
    if (next === LF) return lf + 2;
    if (next === CR && lf + 2 < to && buf[lf + 2] === LF) return lf + 3;
    lf = buf.indexOf(LF, lf + 1);
  }
  return -1;
}

const HTTP_1 = Buffer.from('HTTP/1.', 'latin1');
const NO_DROPS: readonly number[] = [];

/**
 * Whether the bytes of a start line that has not ended yet can still become
 * one: a status line starts with `HTTP/1.`, a request line with a method
 * token. Anything else is decided at once instead of being held.
 */
function startLinePrefixValid(
  buf: Buffer,
  start: number,
  end: number,
  isRequest: boolean,
): boolean {
  if (!isRequest) {
    const n = Math.min(end - start, HTTP_1.length);
    for (let i = 0; i < n; i++) if (buf[start + i] !== HTTP_1[i]) return false;
    return true;
  }
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === SP_BYTE) return i > start;
    if (TCHAR[c] !== 1) return false;
  }
  return true;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x57;
  return -1;
}
