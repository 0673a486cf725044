// The header fields the L7 path reads or rewrites, recorded as parseHead
// validates the head (message-head.ts, FieldRecorder): each field name is
// compared, by length first, with a fixed set of lower-case names compiled
// once per route table; only the lines of those names are recorded, as
// offsets into the head's bytes, so nothing is copied and no string is made
// unless a route asks for a value.
//
// Then a head is rebuilt (composeHead) from its own bytes without the dropped
// lines, with extra bytes at chosen value ends (X-Forwarded-For's pod IP) and
// the added lines before the empty line: one allocation and a few copies.

import type { FieldRecorder, MessageHead } from '../http/message-head.ts';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;

/** A fixed set of field names, looked up by length and then byte by byte (case-insensitive). */
export class FieldNames {
  readonly names: readonly string[];
  private readonly bytes: Buffer[];
  /** Name length → indices into `names`. */
  private readonly byLength: (number[] | undefined)[] = [];

  constructor(names: Iterable<string>) {
    this.names = [...new Set([...names].map((n) => n.toLowerCase()))];
    this.bytes = this.names.map((n) => Buffer.from(n, 'latin1'));
    this.names.forEach((name, i) => {
      const list = this.byLength[name.length] ?? [];
      list.push(i);
      this.byLength[name.length] = list;
    });
  }

  /** The index of `name` (lower-case), or -1. */
  indexOfName(name: string): number {
    return this.names.indexOf(name.toLowerCase());
  }

  /** The index of the name in buf[start..end), or -1. */
  lookup(buf: Buffer, start: number, end: number): number {
    const candidates = this.byLength[end - start];
    if (candidates === undefined) return -1;
    for (let c = 0; c < candidates.length; c++) {
      const index = candidates[c]!;
      const lower = this.bytes[index]!;
      let i = 0;
      while (i < lower.length && (buf[start + i]! | 0x20) === lower[i]) i++;
      if (i === lower.length) return index;
    }
    return -1;
  }
}

/** Per recorded line: [lineStart, valueStart, valueEnd, lineEnd, nameIndex]. */
const SLOTS = 5;
/** Recorded lines a head starts with room for; more grow the list. */
const INITIAL_LINES = 16;

/**
 * Where the named fields are in one head. Reused from head to head: it is
 * filled either by parseHead as it goes (the FieldRecorder calls, one pass
 * over the head) or by scan() afterwards, and read before anything else can
 * run (matching and rebuilding a head are synchronous).
 */
export class HeadFields implements FieldRecorder {
  readonly names: FieldNames;
  /** SLOTS offsets per recorded line, in head order, relative to the head's first byte. */
  lines = new Int32Array(INITIAL_LINES * SLOTS);
  /** Numbers used in `lines` (SLOTS per line). */
  length = 0;
  /** Per name: the slot offset of its first line, or -1. */
  private readonly first: Int32Array;
  /** Per name: the slot offset of its last line, or -1. */
  private readonly last: Int32Array;
  /** Per name: the string value() last made, given again while the bytes are the same. */
  private readonly previous: string[];
  /** Offset of the head's empty line (where added lines go). */
  emptyLineAt = 0;
  /** The head's bytes are buf[base..]. */
  private buf: Buffer = Buffer.alloc(0);
  private base = 0;
  /** The head the last complete recording was of (parseHead's), or undefined after scan(). */
  recordedFor: MessageHead | undefined;

  constructor(names: FieldNames) {
    this.names = names;
    this.first = new Int32Array(names.names.length).fill(-1);
    this.last = new Int32Array(names.names.length).fill(-1);
    this.previous = names.names.map(() => '');
  }

  /** A head starts at buf[start]: forget the last one's lines. */
  begin(buf: Buffer, start: number): void {
    this.buf = buf;
    this.base = start;
    this.length = 0;
    this.recordedFor = undefined;
    // A loop, not fill(): for a dozen entries the builtin's call costs more.
    const first = this.first;
    const last = this.last;
    for (let k = 0; k < first.length; k++) {
      first[k] = -1;
      last[k] = -1;
    }
  }

  /** One field line, in absolute offsets into begin()'s buffer; kept when its name is one of ours. */
  field(
    lineStart: number,
    colon: number,
    valueStart: number,
    valueEnd: number,
    next: number,
  ): void {
    const index = this.names.lookup(this.buf, lineStart, colon);
    if (index < 0) return;
    const base = this.base;
    const slot = this.length;
    if (slot + SLOTS > this.lines.length) {
      const grown = new Int32Array(this.lines.length * 2);
      grown.set(this.lines);
      this.lines = grown;
    }
    const lines = this.lines;
    lines[slot] = lineStart - base;
    lines[slot + 1] = valueStart - base;
    lines[slot + 2] = valueEnd - base;
    lines[slot + 3] = next - base;
    lines[slot + 4] = index;
    this.length = slot + SLOTS;
    if (this.first[index] === -1) this.first[index] = slot;
    this.last[index] = slot;
  }

  /** The head's empty line starts at `emptyLineAt` (absolute): the recording of `head` is whole. */
  end(emptyLineAt: number, head: MessageHead): void {
    this.emptyLineAt = emptyLineAt - this.base;
    this.recordedFor = head;
  }

  /**
   * Records `head` (a whole, valid head, its empty line included) after the
   * fact, byte by byte in JavaScript: as in parseHead, a native indexOf per
   * line costs more than walking a short line.
   */
  scan(head: Buffer): void {
    this.begin(head, 0);
    const end = head.length;
    let i = 0;
    while (i < end && head[i] !== LF) i++;
    i++; // past the start line
    while (i < end) {
      const lineStart = i;
      const c = head[i]!;
      if (c === LF || c === CR) {
        this.emptyLineAt = lineStart;
        return;
      }
      while (head[i] !== COLON) i++;
      const colon = i;
      while (i < end && head[i] !== LF) i++;
      const lf = i < end ? i : end - 1;
      let valueStart = colon + 1;
      while (valueStart < lf && (head[valueStart] === SP || head[valueStart] === HT)) valueStart++;
      let valueEnd = lf > valueStart && head[lf - 1] === CR ? lf - 1 : lf;
      while (valueEnd > valueStart && (head[valueEnd - 1] === SP || head[valueEnd - 1] === HT))
        valueEnd--;
      this.field(lineStart, colon, valueStart, valueEnd, lf + 1);
      i = lf + 1;
    }
    this.emptyLineAt = end;
  }

  has(index: number): boolean {
    return this.first[index] !== -1;
  }

  /**
   * The first value of the field, or undefined. The same string as last time
   * when the bytes are the same: requests on a connection mostly repeat a
   * routing header's value, and comparing a few bytes costs less than making
   * (and hashing, for the route map) a new string.
   */
  value(index: number): string | undefined {
    const slot = this.first[index]!;
    if (slot < 0) return undefined;
    const buf = this.buf;
    const start = this.base + this.lines[slot + 1]!;
    const end = this.base + this.lines[slot + 2]!;
    const previous = this.previous[index]!;
    const length = end - start;
    if (previous.length === length) {
      let i = 0;
      while (i < length && previous.charCodeAt(i) === buf[start + i]) i++;
      if (i === length) return previous;
    }
    const value = buf.toString('latin1', start, end);
    this.previous[index] = value;
    return value;
  }

  /** Every value of the field, in order (each line's; not split at commas). */
  values(index: number): string[] {
    const out: string[] = [];
    for (let s = 0; s < this.length; s += SLOTS) {
      if (this.lines[s + 4] !== index) continue;
      out.push(
        this.buf.toString('latin1', this.base + this.lines[s + 1]!, this.base + this.lines[s + 2]!),
      );
    }
    return out;
  }

  /** Offset just past the last value of the field (trailing OWS excluded), or -1. */
  lastValueEnd(index: number): number {
    const slot = this.last[index]!;
    return slot < 0 ? -1 : this.lines[slot + 2]!;
  }

  /** Whether the last value of the field is empty. */
  lastValueEmpty(index: number): boolean {
    const slot = this.last[index]!;
    return slot >= 0 && this.lines[slot + 1] === this.lines[slot + 2];
  }
}

/** What composeHead changes in a head. */
export interface HeadEdit {
  /** Per name index: drop every line of that name. */
  readonly drop: Uint8Array;
  /** Bytes appended at an offset (a value's end), or undefined. */
  appendAt: number;
  appendBytes: Buffer | undefined;
  /** Lines (each ending in CRLF) added before the empty line: the first `addedCount` of `added`. */
  readonly added: readonly Buffer[];
  readonly addedCount: number;
}

/**
 * The head rebuilt: its start line and the lines not dropped, as sent, with
 * `appendBytes` inserted at `appendAt`, then the added lines, then CRLF, then
 * `tail` (body bytes sent in the same write). A head the edit does not change
 * comes back as it is when there is no tail.
 */
export function composeHead(
  head: Buffer,
  fields: HeadFields,
  edit: HeadEdit,
  tail?: Buffer,
): Buffer {
  const lines = fields.lines;
  const count = fields.length;
  const drop = edit.drop;
  const append = edit.appendBytes;
  const added = edit.added;
  const addedCount = edit.addedCount;
  let dropped = 0;
  for (let s = 0; s < count; s += SLOTS) {
    if (drop[lines[s + 4]!] === 1) dropped += lines[s + 3]! - lines[s]!;
  }
  if (dropped === 0 && append === undefined && addedCount === 0 && tail === undefined) {
    return head;
  }
  let size = fields.emptyLineAt + 2 - dropped;
  if (append !== undefined) size += append.length;
  for (let k = 0; k < addedCount; k++) size += added[k]!.length;
  if (tail !== undefined) size += tail.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  let cursor = 0;
  let toAppend = append;
  for (let s = 0; s <= count; s += SLOTS) {
    const last = s === count;
    if (!last && drop[lines[s + 4]!] !== 1) continue;
    const end = last ? fields.emptyLineAt : lines[s]!;
    if (toAppend !== undefined && edit.appendAt >= cursor && edit.appendAt < end) {
      at += head.copy(out, at, cursor, edit.appendAt);
      at += toAppend.copy(out, at);
      cursor = edit.appendAt;
      toAppend = undefined;
    }
    at += head.copy(out, at, cursor, end);
    if (!last) cursor = lines[s + 3]!;
  }
  for (let k = 0; k < addedCount; k++) at += added[k]!.copy(out, at);
  out[at++] = CR;
  out[at++] = LF;
  if (tail !== undefined) at += tail.copy(out, at);
  return at === size ? out : out.subarray(0, at);
}

/**
 * Fields an intermediary never removes for being named in Connection: the
 * body is forwarded with the framing it came with, and a request without
 * Host is not one the upstream can route.
 */
const NEVER_NOMINATED = new Set(['content-length', 'transfer-encoding', 'host']);

/**
 * The field names a head's Connection values nominate for removal (RFC 9110
 * §7.6.1: an intermediary removes each named field, then Connection itself),
 * lower-cased, without the ones NEVER_NOMINATED keeps.
 */
export function nominatedFields(fields: HeadFields, connectionIndex: number): string[] {
  const names: string[] = [];
  for (const value of fields.values(connectionIndex)) {
    for (const token of value.split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && !NEVER_NOMINATED.has(name)) names.push(name);
    }
  }
  return names;
}

/**
 * composeHead with the `nominated` fields removed as well. Those names are
 * not among the table's, so the head is scanned again against a wider set:
 * the rare path, taken only when a Connection value names more than close,
 * keep-alive or upgrade (MessageHead.connectionOptions).
 */
export function composeWithout(
  head: Buffer,
  recorded: HeadFields,
  edit: HeadEdit,
  nominated: readonly string[],
  tail?: Buffer,
): Buffer {
  const wider = new FieldNames([...recorded.names.names, ...nominated]);
  const fields = new HeadFields(wider);
  fields.scan(head);
  // FieldNames keeps the first occurrence of each name in order: the table's indices hold.
  const drop = new Uint8Array(wider.names.length);
  drop.set(edit.drop);
  for (const name of nominated) drop[wider.indexOfName(name)] = 1;
  return composeHead(head, fields, { ...edit, drop }, tail);
}
