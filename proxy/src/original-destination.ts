// Recovers where a redirected connection was going: after an iptables REDIRECT
// the kernel keeps the pre-NAT destination in conntrack, and
// getsockopt(SO_ORIGINAL_DST) reads it back. Node has no binding for that
// option, so libc's getsockopt is called through koffi (prebuilt for glibc and
// musl; no compiler at install time — see docs/proxy.md).
import { createRequire } from 'node:module';
import type net from 'node:net';
import type Koffi from 'koffi';
import { errors } from './errors.ts';

export interface Destination {
  /** Textual address (dotted IPv4 or RFC 5952 IPv6). */
  address: string;
  port: number;
  family: 4 | 6;
}

const SOL_IP = 0;
const SOL_IPV6 = 41;
/** SO_ORIGINAL_DST (linux/netfilter_ipv4.h) and IP6T_SO_ORIGINAL_DST share the number 80. */
const SO_ORIGINAL_DST = 80;
const SOCKADDR_IN_SIZE = 16;
const SOCKADDR_IN6_SIZE = 28;

type GetSockOpt = (
  fd: number,
  level: number,
  name: number,
  value: Buffer,
  length: Uint32Array,
) => number;

let getsockopt: GetSockOpt | undefined;

// koffi is required (its CommonJS build), on first use: its ES build imports
// node:fs and node:util whole, which loads about 6 MiB of Node internals (fs
// promises, readline, worker_threads) the proxy never uses.
const require = createRequire(import.meta.url);

function loadLibc(): GetSockOpt {
  const koffi = require('koffi') as typeof Koffi;
  // glibc first, then the musl names Alpine uses.
  const candidates = [
    'libc.so.6',
    `libc.musl-${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}.so.1`,
    'libc.so',
  ];
  let lastError: unknown;
  for (const name of candidates) {
    try {
      const lib = koffi.load(name);
      return lib.func(
        'int getsockopt(int fd, int level, int name, _Inout_ uint8_t *value, _Inout_ uint32_t *length)',
      ) as GetSockOpt;
    } catch (err) {
      lastError = err;
    }
  }
  throw errors.ORIGINAL_DESTINATION_UNAVAILABLE(`cannot load libc: ${String(lastError)}`);
}

// Reused for every call: the data path allocates nothing here but the result.
const value = Buffer.alloc(SOCKADDR_IN6_SIZE);
const length = new Uint32Array(1);

/**
 * Reads SO_ORIGINAL_DST of a connected socket's file descriptor. `ipv6` selects
 * IP6T_SO_ORIGINAL_DST; IPv4-mapped IPv6 sockets must use the IPv4 call.
 * Returns undefined when the kernel has no NAT record (no REDIRECT happened).
 */
export function originalDestinationOfFd(fd: number, ipv6: boolean): Destination | undefined {
  getsockopt ??= loadLibc();
  length[0] = ipv6 ? SOCKADDR_IN6_SIZE : SOCKADDR_IN_SIZE;
  const rc = getsockopt(fd, ipv6 ? SOL_IPV6 : SOL_IP, SO_ORIGINAL_DST, value, length);
  if (rc !== 0) return undefined;
  const port = value.readUInt16BE(2);
  if (!ipv6) {
    return { address: `${value[4]}.${value[5]}.${value[6]}.${value[7]}`, port, family: 4 };
  }
  return { address: formatIPv6(value, 8), port, family: 6 };
}

/** Where an accepted socket was going before a REDIRECT; undefined when unknown. */
export function originalDestination(socket: net.Socket): Destination | undefined {
  const fd = socketFd(socket);
  if (fd === undefined) return undefined;
  return originalDestinationOfFd(fd, isNativeIPv6(socket.localAddress));
}

/** RFC 5952 text of 16 bytes at `offset`: lower case, longest zero run as `::`. */
export function formatIPv6(bytes: Uint8Array, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++)
    groups.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The file descriptor behind a connected net.Socket (libuv handle internals). */
export function socketFd(socket: unknown): number | undefined {
  const handle = (socket as { _handle?: { fd?: number } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

/** True when a socket's local address is real IPv6, not IPv4-mapped. */
export function isNativeIPv6(localAddress: string | undefined): boolean {
  if (localAddress === undefined) return false;
  return localAddress.includes(':') && !localAddress.startsWith('::ffff:');
}
