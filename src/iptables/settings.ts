// What the init container is asked to capture, once the flags are parsed and
// validated. Rule rendering takes only this shape, so it never sees raw text.

import type { AddressFamily, CidrRange } from '../shared/grammar/index.ts';

export type Family = AddressFamily;

/** A validated CIDR, already sorted into its address family (src/shared/grammar). */
export type Cidr = CidrRange;

/** `'*'` means every port (or every destination); an empty list means none. */
export type Selection<T> = '*' | readonly T[];

export type CaptureMode = 'REDIRECT';

export interface CaptureSettings {
  readonly mode: CaptureMode;
  /** `-p`: where outbound TCP is redirected (the proxy's outbound listener). */
  readonly outboundCapturePort: number;
  /** `-z`: where inbound TCP is redirected (the proxy's inbound listener). */
  readonly inboundCapturePort: number;
  /** `-u` / `-g`: the proxy's own traffic is never redirected, or it would loop. */
  readonly proxyUid: number;
  readonly proxyGid: number;
  /** `-b`: inbound destination ports sent to the proxy. */
  readonly inboundPorts: Selection<number>;
  /** `-d` plus the proxy's own admin, health and Prometheus ports. */
  readonly excludeInboundPorts: readonly number[];
  /** `-i`: outbound destinations sent to the proxy. */
  readonly includeOutboundCidrs: Selection<Cidr>;
  /** `-x`: outbound destinations that always go direct. */
  readonly excludeOutboundCidrs: readonly Cidr[];
  /** `-q`: outbound destination ports sent to the proxy whatever `-i` says. */
  readonly includeOutboundPorts: readonly number[];
  /** `-o`: outbound destination ports that always go direct. */
  readonly excludeOutboundPorts: readonly number[];
  /** `-c`: interfaces whose traffic is left alone in both directions. */
  readonly excludeInterfaces: readonly string[];
}

/** What one run of `outrigger-iptables` does with the settings. */
export type Action = 'apply' | 'dry-run' | 'cleanup' | 'dry-run-cleanup';

export interface Invocation {
  readonly action: Action;
  readonly settings: CaptureSettings;
}
