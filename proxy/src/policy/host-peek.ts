// Waits for a connection's first bytes when only a Block All `host` entry
// could let it through: until they name a host (HTTP Host, TLS SNI), show
// that they never will, pass HOST_PEEK_MAX_BYTES, or HOST_PEEK_WAIT_MS
// passes. Nothing is sent upstream meanwhile; what was read is handed on
// unchanged with the verdict (Splice's prelude).
//
// The wait is longer than the 100 ms an unreachable upstream gives a client
// (splice.ts, FIRST_BYTES_WAIT_MS): an HTTP or TLS client writes at once, so
// the bound only matters for one that never names a host, a server-speaks-
// first protocol above all, and that one is refused either way.
import type net from 'node:net';
import type { Prelude } from '../splice.ts';
import { hostOfFirstBytes, NEED_MORE } from './first-bytes.ts';

export const HOST_PEEK_WAIT_MS = 1_000;
/** A ClientHello with post-quantum key shares is about 2 KiB; a request head rarely more. */
export const HOST_PEEK_MAX_BYTES = 16 * 1024;

/**
 * Calls `done` once: with the host the first bytes named (or undefined) and
 * those bytes, or with no prelude when the client went away first.
 */
export function peekHost(
  client: net.Socket,
  done: (host: string | undefined, prelude: Prelude | undefined) => void,
): void {
  let held: Buffer = Buffer.alloc(0);
  let finished = false;
  const finish = (host: string | undefined, prelude: Prelude | undefined) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    client.off('data', onData);
    client.off('end', onEnd);
    client.off('error', onGone);
    client.off('close', onGone);
    done(host, prelude);
  };
  const judge = (ended: boolean) => {
    const found = hostOfFirstBytes(held.subarray(0, HOST_PEEK_MAX_BYTES));
    if (found === NEED_MORE && !ended && held.length < HOST_PEEK_MAX_BYTES) return;
    finish(typeof found === 'object' ? found.host : undefined, { bytes: held, ended });
  };
  const onData = (chunk: Buffer) => {
    held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    judge(false);
  };
  const onEnd = () => judge(true);
  const onGone = () => finish(undefined, undefined);
  const timer = setTimeout(
    () => finish(undefined, { bytes: held, ended: false }),
    HOST_PEEK_WAIT_MS,
  );
  timer.unref();
  client.on('data', onData);
  client.on('end', onEnd);
  client.on('error', onGone);
  client.on('close', onGone);
}
