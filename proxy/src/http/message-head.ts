// Parses one HTTP/1.1 header block (start line + fields, RFC 9112 §3-§5) in
// place, into a reusable MessageHead. Only what framing and statistics need is
// extracted; everything else is validated just enough to tell HTTP from garbage.

export const PARSE_OK = 0;
export const PARSE_MALFORMED = 1;
export type ParseResult = typeof PARSE_OK | typeof PARSE_MALFORMED;

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** tchar (RFC 9110 §5.6.2) lookup. */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/** Longest method token accepted when sniffing a connection's first bytes. */
export const MAX_METHOD_LENGTH = 20;

/**
 * Told of every field line parseHead passes, so that a caller that needs more
 * than MessageHead keeps (the L7 path's routing/head-fields.ts) gets it in the
 * same pass. Offsets are into parseHead's buffer; `next` is past the line's LF.
 */
export interface FieldRecorder {
  begin(buf: Buffer, start: number): void;
  field(lineStart: number, colon: number, valueStart: number, valueEnd: number, next: number): void;
  /** The head is whole; its empty line starts at `emptyLineAt`. */
  end(emptyLineAt: number, head: MessageHead): void;
}

export class MessageHead {
  // request
  method = '';
  target = '';
  authority = '';
  // response
  status = 0;
  // framing
  contentLength = -1;
  hasTransferEncoding = false;
  chunked = false;
  connectionClose = false;
  connectionUpgrade = false;
  /**
   * Connection names an option other than close, keep-alive and upgrade: a
   * field an intermediary must remove before forwarding (RFC 9110 §7.6.1).
   */
  connectionOptions = false;
  hasUpgrade = false;
  http10 = false;

  /**
   * Set once, for outbound requests that carry the pod's identity: parseHead
   * then records where the app's own identity fields are, so they can be
   * replaced (X-Client-Hostname) or extended (X-Forwarded-For).
   */
  tracksIdentity = false;
  /** Offset just past the last X-Forwarded-For value (trailing OWS excluded), or -1. */
  forwardedForEnd = -1;
  /** Whether that value is empty. */
  forwardedForEmpty = false;
  /** Start and end (past its LF) of each X-Client-Hostname line, in pairs. */
  readonly clientHostnameLines: number[] = [];

  /**
   * Set once when the access log is on: parseHead then keeps the request's
   * User-Agent and X-Request-Id for its line (nothing else reads them).
   */
  capturesLogFields = false;
  userAgent = '';
  requestId = '';

  /** Set by the L7 path, per route table: told of each field line (FieldRecorder). */
  fields: FieldRecorder | undefined;

  /** The previous head's strings, reused when the same bytes come again. */
  previousTarget = '';
  previousAuthority = '';
  previousUserAgent = '';

  reset(): void {
    this.previousTarget = this.target || this.previousTarget;
    this.previousAuthority = this.authority || this.previousAuthority;
    this.previousUserAgent = this.userAgent || this.previousUserAgent;
    this.userAgent = '';
    this.requestId = '';
    this.method = '';
    this.target = '';
    this.authority = '';
    this.status = 0;
    this.contentLength = -1;
    this.hasTransferEncoding = false;
    this.chunked = false;
    this.connectionClose = false;
    this.connectionUpgrade = false;
    this.connectionOptions = false;
    this.hasUpgrade = false;
    this.http10 = false;
    if (this.tracksIdentity) {
      this.forwardedForEnd = -1;
      this.clientHostnameLines.length = 0;
    }
  }
}

/**
 * Sniffs a connection's first bytes: `upper-case token + SP` is HTTP, anything
 * else is not. Returns 1 (HTTP), 0 (not HTTP) or -1 (need more bytes).
 */
export function looksLikeRequest(buf: Uint8Array, start: number, end: number): 1 | 0 | -1 {
  const limit = Math.min(end, start + MAX_METHOD_LENGTH + 1);
  for (let i = start; i < limit; i++) {
    const c = buf[i]!;
    if (c === SP) return i > start ? 1 : 0;
    if (c < 0x41 || c > 0x5a) return 0;
  }
  return limit - start > MAX_METHOD_LENGTH ? 0 : -1;
}

const COMMON_METHODS = ['GET', 'POST', 'PUT', 'HEAD', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT'];
const METHOD_BYTES = COMMON_METHODS.map((m) => Buffer.from(m, 'latin1'));

/** Interned method strings so the common ones allocate nothing. */
function methodString(buf: Buffer, start: number, end: number): string {
  const length = end - start;
  for (let m = 0; m < METHOD_BYTES.length; m++) {
    const bytes = METHOD_BYTES[m]!;
    if (bytes.length !== length) continue;
    let same = true;
    for (let i = 0; i < length; i++) {
      if (buf[start + i] !== bytes[i]) {
        same = false;
        break;
      }
    }
    if (same) return COMMON_METHODS[m]!;
  }
  return buf.toString('latin1', start, end);
}

/**
 * buf[start..end) as a latin1 string: `previous` itself when it has the same
 * bytes. Requests on a keep-alive connection mostly repeat their Host and
 * often their target, and comparing a few bytes costs less than a new string.
 */
function latin1(buf: Buffer, start: number, end: number, previous: string): string {
  const length = end - start;
  if (previous.length === length) {
    let i = 0;
    while (i < length && previous.charCodeAt(i) === buf[start + i]) i++;
    if (i === length) return previous;
  }
  return buf.toString('latin1', start, end);
}

/** True when buf[start..end) is `HTTP/1.0` or `HTTP/1.1`; sets head.http10. */
function isHttp1Version(buf: Buffer, start: number, end: number, head: MessageHead): boolean {
  if (end - start !== 8) return false;
  if (
    buf[start] !== 0x48 ||
    buf[start + 1] !== 0x54 ||
    buf[start + 2] !== 0x54 ||
    buf[start + 3] !== 0x50 ||
    buf[start + 4] !== 0x2f ||
    buf[start + 5] !== 0x31 ||
    buf[start + 6] !== 0x2e
  ) {
    return false;
  }
  const minor = buf[start + 7];
  if (minor !== 0x30 && minor !== 0x31) return false;
  head.http10 = minor === 0x30;
  return true;
}

/** End of a line's content: before the CR of CRLF (a bare LF is tolerated, RFC 9112 §2.2). */
function contentEnd(buf: Buffer, lineStart: number, lf: number): number {
  return lf > lineStart && buf[lf - 1] === CR ? lf - 1 : lf;
}

/** Validates a request line `method SP target SP HTTP/1.x` in buf[start..end). */
export function parseRequestLine(
  buf: Buffer,
  start: number,
  end: number,
  head: MessageHead,
): ParseResult {
  let sp1 = start;
  while (sp1 < end && TCHAR[buf[sp1]!] === 1) sp1++;
  if (sp1 === start || sp1 >= end || buf[sp1] !== SP) return PARSE_MALFORMED;
  // The version is the line's last 8 bytes and holds no SP, so the last SP is right before it.
  const sp2 = end - 9;
  if (sp2 <= sp1 + 1 || buf[sp2] !== SP) return PARSE_MALFORMED;
  if (!isHttp1Version(buf, sp2 + 1, end, head)) return PARSE_MALFORMED;
  for (let i = sp1 + 1; i < sp2; i++) {
    const c = buf[i]!;
    if (c <= SP || c === 0x7f) return PARSE_MALFORMED;
  }
  head.method = methodString(buf, start, sp1);
  head.target = latin1(buf, sp1 + 1, sp2, head.previousTarget);
  return PARSE_OK;
}

/** Validates a status line `HTTP/1.x SP 3DIGIT SP reason` in buf[start..end). */
export function parseStatusLine(
  buf: Buffer,
  start: number,
  end: number,
  head: MessageHead,
): ParseResult {
  if (end - start < 12 || !isHttp1Version(buf, start, start + 8, head)) return PARSE_MALFORMED;
  if (buf[start + 8] !== SP) return PARSE_MALFORMED;
  let status = 0;
  for (let i = start + 9; i < start + 12; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return PARSE_MALFORMED;
    status = status * 10 + d;
  }
  if (status < 100 || (end - start > 12 && buf[start + 12] !== SP)) return PARSE_MALFORMED;
  head.status = status;
  return PARSE_OK;
}

// Lower-case field names the proxy looks at.
const CONTENT_LENGTH = Buffer.from('content-length');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const CONNECTION = Buffer.from('connection');
const UPGRADE = Buffer.from('upgrade');
const HOST = Buffer.from('host');
const CHUNKED = Buffer.from('chunked');
const X_FORWARDED_FOR = Buffer.from('x-forwarded-for');
const X_CLIENT_HOSTNAME = Buffer.from('x-client-hostname');
const USER_AGENT = Buffer.from('user-agent');
const X_REQUEST_ID = Buffer.from('x-request-id');
const CLOSE = Buffer.from('close');

function nameIs(buf: Buffer, start: number, end: number, lower: Buffer): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    if ((buf[start + i]! | 0x20) !== lower[i]) return false;
  }
  return true;
}

const KEEP_ALIVE = Buffer.from('keep-alive');

/**
 * Reads the options of one Connection value (a comma-separated token list)
 * into the head, in one pass: close, upgrade, and whether any other option
 * (a field to remove before forwarding) is named. keep-alive is neither.
 */
function readConnectionOptions(buf: Buffer, start: number, end: number, head: MessageHead): void {
  let i = start;
  while (i < end) {
    while (i < end && (buf[i] === SP || buf[i] === HT || buf[i] === 0x2c)) i++;
    let j = i;
    while (j < end && buf[j] !== 0x2c) j++;
    let k = j;
    while (k > i && (buf[k - 1] === SP || buf[k - 1] === HT)) k--;
    if (k > i) {
      if (nameIs(buf, i, k, CLOSE)) head.connectionClose = true;
      else if (nameIs(buf, i, k, UPGRADE)) head.connectionUpgrade = true;
      else if (!nameIs(buf, i, k, KEEP_ALIVE)) head.connectionOptions = true;
    }
    i = j + 1;
  }
}

/** True when the last transfer coding of a Transfer-Encoding value is `chunked`. */
function endsWithChunked(buf: Buffer, start: number, end: number): boolean {
  let k = end;
  while (k > start && (buf[k - 1] === SP || buf[k - 1] === HT)) k--;
  let i = k;
  while (i > start && buf[i - 1] !== 0x2c && buf[i - 1] !== SP && buf[i - 1] !== HT) i--;
  return nameIs(buf, i, k, CHUNKED);
}

/** parseHead's answers when no head was parsed. */
const HEAD_INCOMPLETE = -1;
/** A line that breaks the grammar was seen: no more bytes can make this a head. */
export const HEAD_MALFORMED = -2;

/**
 * Parses the head that starts at buf[start], up to its first empty line, in
 * one pass that never leaves JavaScript (a native indexOf per line costs more
 * than scanning a short line byte by byte). Returns the offset just past the
 * empty line, HEAD_INCOMPLETE when no empty line comes before `limit`, or
 * HEAD_MALFORMED. `isRequest` selects the start-line grammar. Lines end with
 * CRLF or a bare LF (RFC 9112 §2.2).
 */
export function parseHead(
  buf: Buffer,
  start: number,
  limit: number,
  isRequest: boolean,
  head: MessageHead,
): number {
  head.reset();
  let lf = start;
  while (lf < limit && buf[lf] !== LF) lf++;
  if (lf >= limit) return HEAD_INCOMPLETE;
  const lineEnd = contentEnd(buf, start, lf);
  const startLine = isRequest
    ? parseRequestLine(buf, start, lineEnd, head)
    : parseStatusLine(buf, start, lineEnd, head);
  if (startLine !== PARSE_OK) return HEAD_MALFORMED;
  const recorder = head.fields;
  recorder?.begin(buf, start);

  let i = lf + 1;
  for (;;) {
    // One field line: name ":" OWS value OWS (CR) LF, or the empty line.
    const lineStart = i;
    if (i >= limit) return HEAD_INCOMPLETE;
    let c = buf[i]!;
    if (c === LF) return headEnd(head, isRequest, lineStart, i + 1);
    if (c === CR) {
      if (i + 1 >= limit) return HEAD_INCOMPLETE;
      return buf[i + 1] === LF ? headEnd(head, isRequest, lineStart, i + 2) : HEAD_MALFORMED;
    }
    if (c === SP || c === HT) return HEAD_MALFORMED; // obs-fold (RFC 9112 §5.2)
    while (i < limit && TCHAR[buf[i]!] === 1) i++;
    if (i >= limit) return HEAD_INCOMPLETE;
    if (buf[i] !== COLON || i === lineStart) return HEAD_MALFORMED;
    const colon = i++;
    while (i < limit && (buf[i] === SP || buf[i] === HT)) i++;
    const valueStart = i;
    let valueEnd = -1;
    while (i < limit) {
      c = buf[i]!;
      if (c === LF) {
        valueEnd = i;
        break;
      }
      if (c === CR) {
        if (i + 1 >= limit) return HEAD_INCOMPLETE;
        if (buf[i + 1] !== LF) return HEAD_MALFORMED; // a CR inside a value
        valueEnd = i++;
        break;
      }
      if ((c < SP && c !== HT) || c === 0x7f) return HEAD_MALFORMED;
      i++;
    }
    if (valueEnd < 0) return HEAD_INCOMPLETE;
    i++; // past the LF
    while (valueEnd > valueStart && (buf[valueEnd - 1] === SP || buf[valueEnd - 1] === HT))
      valueEnd--;
    recorder?.field(lineStart, colon, valueStart, valueEnd, i);

    const nameLength = colon - lineStart;
    if (nameLength === 14 && nameIs(buf, lineStart, colon, CONTENT_LENGTH)) {
      if (valueEnd === valueStart || valueEnd - valueStart > 15) return HEAD_MALFORMED;
      let length = 0;
      for (let k = valueStart; k < valueEnd; k++) {
        const d = buf[k]! - 0x30;
        if (d < 0 || d > 9) return HEAD_MALFORMED;
        length = length * 10 + d;
      }
      if (head.contentLength >= 0 && head.contentLength !== length) return HEAD_MALFORMED;
      head.contentLength = length;
    } else if (nameLength === 17 && nameIs(buf, lineStart, colon, TRANSFER_ENCODING)) {
      head.hasTransferEncoding = true;
      head.chunked = endsWithChunked(buf, valueStart, valueEnd);
    } else if (nameLength === 10 && nameIs(buf, lineStart, colon, CONNECTION)) {
      readConnectionOptions(buf, valueStart, valueEnd, head);
    } else if (nameLength === 7 && nameIs(buf, lineStart, colon, UPGRADE)) {
      head.hasUpgrade = true;
    } else if (nameLength === 4 && isRequest && nameIs(buf, lineStart, colon, HOST)) {
      head.authority = latin1(buf, valueStart, valueEnd, head.previousAuthority);
    } else {
      if (head.tracksIdentity) {
        if (nameLength === 15 && nameIs(buf, lineStart, colon, X_FORWARDED_FOR)) {
          head.forwardedForEnd = valueEnd;
          head.forwardedForEmpty = valueEnd === valueStart;
        } else if (nameLength === 17 && nameIs(buf, lineStart, colon, X_CLIENT_HOSTNAME)) {
          head.clientHostnameLines.push(lineStart, i);
        }
      }
      if (head.capturesLogFields && isRequest) {
        if (nameLength === 10 && nameIs(buf, lineStart, colon, USER_AGENT)) {
          head.userAgent = latin1(buf, valueStart, valueEnd, head.previousUserAgent);
        } else if (nameLength === 12 && nameIs(buf, lineStart, colon, X_REQUEST_ID)) {
          head.requestId = buf.toString('latin1', valueStart, valueEnd);
        }
      }
    }
  }
}

function headEnd(head: MessageHead, isRequest: boolean, emptyLineAt: number, end: number): number {
  if (isRequest) absoluteFormAuthority(head);
  head.fields?.end(emptyLineAt, head);
  return end;
}

/** absolute-form (`http://host/path`) and authority-form (CONNECT) targets carry the authority. */
function absoluteFormAuthority(head: MessageHead): void {
  if (head.method === 'CONNECT') {
    if (head.authority === '') head.authority = head.target;
    return;
  }
  const target = head.target;
  if (target.charCodeAt(0) === 0x2f) return; // origin-form, the common case
  const scheme = target.indexOf('://');
  if (scheme < 0) return;
  const slash = target.indexOf('/', scheme + 3);
  head.authority = target.slice(scheme + 3, slash < 0 ? undefined : slash);
  head.target = slash < 0 ? '/' : target.slice(slash);
}
