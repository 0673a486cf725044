// The header fields the L7 path reads or rewrites, found in a head that
// parseHead has already validated (message-head.ts). One pass over the field
// lines compares each name, by length first, with a fixed set of lower-case
// names compiled once per route table; only the lines of those names are
// recorded, as offsets into the head's bytes, so nothing is copied and no
// string is made unless a route asks for a value.
//
// Then a head is rebuilt (composeHead) from its own bytes without the dropped
// lines, with extra bytes at chosen value ends (X-Forwarded-For's pod IP) and
// the added lines before the empty line: one allocation and a few copies.

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

/** Where the named fields are in one head. Reused from head to head. */
export class HeadFields {
  private readonly names: FieldNames;
  /** Flat list of SLOTS numbers per recorded line, in head order. */
  readonly lines: number[] = [];
  /** Per name: the slot offset of its first line, or -1. */
  private readonly first: Int32Array;
  /** Per name: the slot offset of its last line, or -1. */
  private readonly last: Int32Array;
  /** Offset of the head's empty line (where added lines go). */
  emptyLineAt = 0;
  private buf: Buffer = Buffer.alloc(0);

  constructor(names: FieldNames) {
    this.names = names;
    this.first = new Int32Array(names.names.length).fill(-1);
    this.last = new Int32Array(names.names.length).fill(-1);
  }

  /**
   * Scans `head` (a whole, valid head, its empty line included), byte by byte
   * in JavaScript: as in parseHead, a native indexOf per line costs more than
   * walking a short line.
   */
  scan(head: Buffer): void {
    this.buf = head;
    this.lines.length = 0;
    this.first.fill(-1);
    this.last.fill(-1);
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
      const index = this.names.lookup(head, lineStart, colon);
      if (index >= 0) {
        let valueStart = colon + 1;
        while (valueStart < lf && (head[valueStart] === SP || head[valueStart] === HT))
          valueStart++;
        let valueEnd = lf > valueStart && head[lf - 1] === CR ? lf - 1 : lf;
        while (valueEnd > valueStart && (head[valueEnd - 1] === SP || head[valueEnd - 1] === HT))
          valueEnd--;
        const slot = this.lines.length;
        this.lines.push(lineStart, valueStart, valueEnd, lf + 1, index);
        if (this.first[index] === -1) this.first[index] = slot;
        this.last[index] = slot;
      }
      i = lf + 1;
    }
    this.emptyLineAt = end;
  }

  has(index: number): boolean {
    return this.first[index] !== -1;
  }

  /** The first value of the field, or undefined. */
  value(index: number): string | undefined {
    const slot = this.first[index]!;
    if (slot < 0) return undefined;
    return this.buf.toString('latin1', this.lines[slot + 1], this.lines[slot + 2]);
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
  /** Lines (each ending in CRLF) added before the empty line. */
  readonly added: Buffer[];
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
  const drop = edit.drop;
  const append = edit.appendBytes;
  let dropped = 0;
  for (let s = 0; s < lines.length; s += SLOTS) {
    if (drop[lines[s + 4]!] === 1) dropped += lines[s + 3]! - lines[s]!;
  }
  if (dropped === 0 && append === undefined && edit.added.length === 0 && tail === undefined) {
    return head;
  }
  let size = fields.emptyLineAt + 2 - dropped;
  if (append !== undefined) size += append.length;
  for (const line of edit.added) size += line.length;
  if (tail !== undefined) size += tail.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  let cursor = 0;
  let toAppend = append;
  for (let s = 0; s <= lines.length; s += SLOTS) {
    const last = s === lines.length;
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
  for (const line of edit.added) at += line.copy(out, at);
  out[at++] = CR;
  out[at++] = LF;
  if (tail !== undefined) at += tail.copy(out, at);
  return at === size ? out : out.subarray(0, at);
}
