// The words the proxy's data path shares: which listener a connection came
// through and why it closed. Listeners, the splice, the sniffer and the
// statistics all speak them, so they live here rather than in any one of them.

/** Which capture listener accepted the connection: 15006 inbound, 15001 outbound. */
export type Direction = 'inbound' | 'outbound';

/**
 * Why a connection ended: the access log's `closeReason`, the `reason` label of
 * `outrigger_upstream_connect_failures_total` (docs/metrics.md), and one
 * response flag each (stats/response-flags.ts).
 */
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
  | 'drain_timeout'
  | 'error';
