// What the proxy knows about one TCP connection once it has closed.
import type { Direction } from './request-record.ts';

export type CloseReason =
  | 'closed'
  | 'client_reset'
  | 'upstream_reset'
  | 'upstream_refused'
  | 'connect_timeout'
  | 'idle_timeout'
  | 'no_destination'
  | 'loop_refused'
  | 'not_pod_address'
  | 'connection_limit'
  | 'policy_blocked'
  | 'rate_limited'
  | 'drain_timeout'
  | 'error';

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
