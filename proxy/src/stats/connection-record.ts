// What the proxy knows about one TCP connection once it has closed.
import type { CloseReason, Direction } from '../connection-vocabulary.ts';

export interface ConnectionRecord {
  direction: Direction;
  downstream: string;
  upstream: string;
  /** Bytes read from the client. */
  bytesFromClient: number;
  /** Bytes written to the client. */
  bytesToClient: number;
  durationMs: number;
  closeReason: CloseReason;
  /** Envoy-style response flags for the close reason (response-flags.ts). */
  responseFlags: string;
  http: boolean;
  /** Wall-clock time the connection was accepted (ms since epoch), for logs. */
  timestamp: number;
}
