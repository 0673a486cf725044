// The host a connection names in its first bytes: the Host of an HTTP/1.x
// request head (or its absolute-form target), or the server_name of a TLS
// ClientHello (RFC 6066 §3). Block All's `host` entries are judged on it.
// Pure and total: any input, truncated, oversized or garbage, gives an answer
// and never an exception. The caller bounds how many bytes it offers.
import { HEAD_MALFORMED, looksLikeRequest, MessageHead, parseHead } from '../http/message-head.ts';

/** More bytes could still name a host. */
export const NEED_MORE = 'more';
/** No host will come: not HTTP or TLS, no Host or SNI, or a malformed message. */
export const NO_HOST = 'none';
export type FirstBytesHost = { host: string } | typeof NEED_MORE | typeof NO_HOST;

const TLS_HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const SERVER_NAME_EXTENSION = 0x0000;
const HOST_NAME_TYPE = 0x00;
const RECORD_HEADER = 5;
const HANDSHAKE_HEADER = 4;

export function hostOfFirstBytes(bytes: Buffer): FirstBytesHost {
  if (bytes.length === 0) return NEED_MORE;
  if (bytes[0] === TLS_HANDSHAKE) return serverNameOf(bytes);
  const http = looksLikeRequest(bytes, 0, bytes.length);
  if (http === -1) return NEED_MORE;
  if (http === 0) return NO_HOST;
  const head = new MessageHead();
  const end = parseHead(bytes, 0, bytes.length, true, head);
  if (end === HEAD_MALFORMED) return NO_HOST;
  if (end < 0) return NEED_MORE;
  return named(hostOfAuthority(head.authority));
}

/** `Host: API.example.com:8080` → `api.example.com`; `[2001:db8::1]:80` → `2001:db8::1`. */
export function hostOfAuthority(authority: string): string {
  let host = authority.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end < 0 ? '' : host.slice(1, end);
  }
  const colon = host.indexOf(':');
  if (colon >= 0) host = host.slice(0, colon);
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function named(host: string): FirstBytesHost {
  return host === '' ? NO_HOST : { host };
}

/**
 * The SNI host name of a ClientHello, which may span several handshake
 * records (TLS 1.3 with large key shares): their fragments are joined until
 * the message is whole.
 */
function serverNameOf(bytes: Buffer): FirstBytesHost {
  const fragments: Buffer[] = [];
  let held = 0;
  let offset = 0;
  let messageLength = -1;
  for (;;) {
    if (messageLength >= 0 && held >= HANDSHAKE_HEADER + messageLength) break;
    if (offset + RECORD_HEADER > bytes.length) return NEED_MORE;
    // ContentType handshake, ProtocolVersion 3.x (1.0 to 1.3 all say 3.1-3.3 here).
    if (bytes[offset] !== TLS_HANDSHAKE || bytes[offset + 1] !== 0x03) return NO_HOST;
    const recordLength = bytes.readUInt16BE(offset + 3);
    if (recordLength === 0) return NO_HOST;
    const start = offset + RECORD_HEADER;
    const end = Math.min(start + recordLength, bytes.length);
    fragments.push(bytes.subarray(start, end));
    held += end - start;
    if (messageLength < 0 && held >= HANDSHAKE_HEADER) {
      const header = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
      if (header[0] !== CLIENT_HELLO) return NO_HOST;
      messageLength = header.readUIntBE(1, 3);
    }
    if (end < start + recordLength) {
      // The record is cut: enough if the message already is, else wait.
      if (messageLength >= 0 && held >= HANDSHAKE_HEADER + messageLength) break;
      return NEED_MORE;
    }
    offset = end;
  }
  const message = Buffer.concat(fragments).subarray(
    HANDSHAKE_HEADER,
    HANDSHAKE_HEADER + messageLength,
  );
  return clientHelloServerName(message);
}

/**
 * RFC 8446 §4.1.2 ClientHello: legacy_version(2) random(32)
 * legacy_session_id<0..32> cipher_suites<2..2^16-2>
 * legacy_compression_methods<1..2^8-1> extensions<8..2^16-1>.
 */
function clientHelloServerName(hello: Buffer): FirstBytesHost {
  let i = 2 + 32;
  if (i + 1 > hello.length) return NO_HOST;
  i += 1 + hello[i]!;
  if (i + 2 > hello.length) return NO_HOST;
  i += 2 + hello.readUInt16BE(i);
  if (i + 1 > hello.length) return NO_HOST;
  i += 1 + hello[i]!;
  if (i + 2 > hello.length) return NO_HOST; // no extensions: no SNI
  const extensionsEnd = Math.min(i + 2 + hello.readUInt16BE(i), hello.length);
  i += 2;
  while (i + 4 <= extensionsEnd) {
    const type = hello.readUInt16BE(i);
    const length = hello.readUInt16BE(i + 2);
    const start = i + 4;
    if (start + length > extensionsEnd) return NO_HOST;
    if (type === SERVER_NAME_EXTENSION) return serverNameList(hello, start, start + length);
    i = start + length;
  }
  return NO_HOST;
}

/** RFC 6066 §3 ServerNameList: the first host_name entry. */
function serverNameList(hello: Buffer, start: number, end: number): FirstBytesHost {
  if (start + 2 > end) return NO_HOST;
  const listEnd = Math.min(start + 2 + hello.readUInt16BE(start), end);
  let i = start + 2;
  while (i + 3 <= listEnd) {
    const type = hello[i]!;
    const length = hello.readUInt16BE(i + 1);
    const nameStart = i + 3;
    if (nameStart + length > listEnd) return NO_HOST;
    if (type === HOST_NAME_TYPE) {
      const name = hello.toString('latin1', nameStart, nameStart + length);
      // A host name is printable ASCII; anything else matches no entry.
      if (/[^\x21-\x7e]/.test(name)) return NO_HOST;
      return named(hostOfAuthority(name));
    }
    i = nameStart + length;
  }
  return NO_HOST;
}
