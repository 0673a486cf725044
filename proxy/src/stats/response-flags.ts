// Response flags: what went wrong with a request or connection, in Envoy's
// vocabulary where one fits (its %RESPONSE_FLAGS% short names), so that people
// who grep Envoy's access logs for `UF` or `UC` find the same thing here. "-"
// means nothing did. The refusals the proxy makes before any connect (loop
// guard, connection limit, a destination that is not the pod) have no Envoy
// equivalent and get names of their own, distinct from all of Envoy's.
import type { CloseReason } from '../connection-vocabulary.ts';

export const NO_FLAGS = '-';

/**
 * | flag   | Envoy meaning                     | when the proxy sets it                                   |
 * |--------|-----------------------------------|----------------------------------------------------------|
 * | `UF`   | upstream connection failure       | connect refused, timed out or failed                     |
 * | `UR`   | upstream remote reset             | the upstream reset the connection                        |
 * | `UC`   | upstream connection termination   | the upstream closed before the response was complete     |
 * | `UT`   | upstream request timeout          | idle timeout while a request waited on its response      |
 * | `DC`   | downstream connection termination | the client reset, or closed before its response was done |
 * | `SI`   | stream idle timeout               | idle timeout with nothing waiting                        |
 * | `DT`   | duration timeout                  | cut at the end of the shutdown drain                     |
 * | `NR`   | no route configured               | no original destination (no NAT record)                  |
 * | `LOOP` | (Outrigger)                       | loop guard refused the connection                        |
 * | `CLIM` | (Outrigger)                       | connection limit reached                                 |
 * | `NPOD` | (Outrigger)                       | inbound destination is not one of the pod's addresses    |
 */
export const CONNECTION_FLAGS: Readonly<Record<CloseReason, string>> = {
  closed: NO_FLAGS,
  client_reset: 'DC',
  upstream_reset: 'UR',
  upstream_refused: 'UF',
  connect_timeout: 'UF',
  error: 'UF',
  idle_timeout: 'SI',
  drain_timeout: 'DT',
  no_destination: 'NR',
  loop_refused: 'LOOP',
  not_pod_address: 'NPOD',
  connection_limit: 'CLIM',
};

/** Every flag the proxy can report: the bound on the response_flags label. */
export const ALL_FLAGS: readonly string[] = [
  ...new Set([...Object.values(CONNECTION_FLAGS), 'UC', 'UT']),
];
