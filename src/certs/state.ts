// The certificate state every replica shares through one Secret, and the pure
// decision of what to change in it. Keys in the Secret:
//   ca.crt / ca.key            the CA that signs serving leaves now
//   tls.crt / tls.key          the serving leaf (what a kubernetes.io/tls Secret holds)
//   ca-next.crt / ca-next.key  a staged CA: already trusted in caBundle, not yet signing
//   ca-previous.crt            a retired CA: still trusted until no live replica serves from it
// Annotations:
//   certs.outrigger.dev/next-ca-staged-at     when the next CA was staged (ISO 8601)
//   served.certs.outrigger.dev/<replica>      "<CA fingerprint> <ISO time>": the CA whose leaf
//                                              that replica serves, refreshed every re-check
// See docs/certificates.md for the rotation timeline.
import {
  certificateFacts,
  coversNames,
  isDueForRenewal,
  isSignedBy,
  joinPemBundle,
} from './inspect.ts';
import type { KeyPair } from './key-pair.ts';

export interface ServedReport {
  caFingerprint: string;
  at: Date;
}

export interface CertificateState {
  ca: KeyPair;
  leaf: KeyPair;
  nextCa?: KeyPair;
  nextCaStagedAt?: Date;
  previousCaCert?: string;
  /** Replica name → what it last said it serves. */
  served: Record<string, ServedReport>;
}

/** Makes new key material; the manager passes the node-forge generator, tests may pass fakes. */
export interface CertificateIssuer {
  createCa(now: Date): KeyPair;
  createLeaf(ca: KeyPair, names: SubjectNames, now: Date): KeyPair;
}

export interface SubjectNames {
  dnsNames: string[];
  ipAddresses: string[];
}

export interface RotationPolicy {
  /** Renew the leaf once less than this fraction of its lifetime is left. */
  leafRenewBeforeFraction: number;
  /** Stage a new CA once less than this fraction of the CA's lifetime is left. */
  caRenewBeforeFraction: number;
  /** How long a staged CA sits in caBundle before it signs leaves (lets every apiserver see it). */
  caPromotionDelayMs: number;
  /** A replica that has not reported for this long is treated as gone. */
  replicaTtlMs: number;
  /**
   * A leaf that lives longer than this is reissued at once, so lowering the configured
   * validity takes effect without waiting out the old leaf. Unset: no limit.
   */
  maxLeafLifetimeMs?: number;
}

export type RotationStep =
  | 'created'
  | 'leaf-renewed'
  | 'leaf-reissued-for-names'
  | 'leaf-reissued-for-lifetime'
  | 'ca-staged'
  | 'ca-promoted'
  | 'previous-ca-dropped'
  | 'stale-replicas-forgotten';

export interface Plan {
  state: CertificateState;
  steps: RotationStep[];
}

const DATA_KEYS = {
  caCert: 'ca.crt',
  caKey: 'ca.key',
  leafCert: 'tls.crt',
  leafKey: 'tls.key',
  nextCaCert: 'ca-next.crt',
  nextCaKey: 'ca-next.key',
  previousCaCert: 'ca-previous.crt',
} as const;

export const STAGED_AT_ANNOTATION = 'certs.outrigger.dev/next-ca-staged-at';
export const SERVED_ANNOTATION_PREFIX = 'served.certs.outrigger.dev/';

/** Annotation name parts are at most 63 characters; long replica names keep their tail. */
export function servedAnnotationKey(replica: string): string {
  const safe = replica.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return `${SERVED_ANNOTATION_PREFIX}${safe.slice(-63).replace(/^[^A-Za-z0-9]+/, '') || 'replica'}`;
}

function decode(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

function encode(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64');
}

/** The state a Secret holds, or undefined when it lacks a complete CA and leaf. */
export function stateFromSecret(
  data: Record<string, string> | undefined,
  annotations: Record<string, string> | undefined,
): CertificateState | undefined {
  const read = (key: string) => decode(data?.[key]);
  const caCert = read(DATA_KEYS.caCert);
  const caKey = read(DATA_KEYS.caKey);
  const leafCert = read(DATA_KEYS.leafCert);
  const leafKey = read(DATA_KEYS.leafKey);
  if (!caCert || !caKey || !leafCert || !leafKey) return undefined;
  const state: CertificateState = {
    ca: { cert: caCert, key: caKey },
    leaf: { cert: leafCert, key: leafKey },
    served: {},
  };
  const nextCert = read(DATA_KEYS.nextCaCert);
  const nextKey = read(DATA_KEYS.nextCaKey);
  if (nextCert && nextKey) {
    state.nextCa = { cert: nextCert, key: nextKey };
    const stagedAt = new Date(annotations?.[STAGED_AT_ANNOTATION] ?? 0);
    state.nextCaStagedAt = Number.isNaN(stagedAt.getTime()) ? new Date(0) : stagedAt;
  }
  const previous = read(DATA_KEYS.previousCaCert);
  if (previous) state.previousCaCert = previous;
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (!key.startsWith(SERVED_ANNOTATION_PREFIX)) continue;
    const [caFingerprint, at] = value.split(' ');
    const when = new Date(at ?? '');
    if (caFingerprint && !Number.isNaN(when.getTime())) {
      state.served[key.slice(SERVED_ANNOTATION_PREFIX.length)] = { caFingerprint, at: when };
    }
  }
  return state;
}

/** Secret data and the annotations this module owns (others on the Secret are left alone). */
export function stateToSecret(state: CertificateState): {
  data: Record<string, string>;
  annotations: Record<string, string>;
} {
  const data: Record<string, string> = {
    [DATA_KEYS.caCert]: encode(state.ca.cert),
    [DATA_KEYS.caKey]: encode(state.ca.key),
    [DATA_KEYS.leafCert]: encode(state.leaf.cert),
    [DATA_KEYS.leafKey]: encode(state.leaf.key),
  };
  const annotations: Record<string, string> = {};
  if (state.nextCa) {
    data[DATA_KEYS.nextCaCert] = encode(state.nextCa.cert);
    data[DATA_KEYS.nextCaKey] = encode(state.nextCa.key);
    annotations[STAGED_AT_ANNOTATION] = (state.nextCaStagedAt ?? new Date(0)).toISOString();
  }
  if (state.previousCaCert) data[DATA_KEYS.previousCaCert] = encode(state.previousCaCert);
  for (const [replica, report] of Object.entries(state.served)) {
    annotations[servedAnnotationKey(replica)] =
      `${report.caFingerprint} ${report.at.toISOString()}`;
  }
  return { data, annotations };
}

/** Every CA the apiserver must trust right now: current, staged and retired. */
export function caBundleOf(state: CertificateState): string {
  return joinPemBundle(
    [state.ca.cert, state.nextCa?.cert, state.previousCaCert].filter(
      (pem): pem is string => pem !== undefined,
    ),
  );
}

export function caFingerprint(state: CertificateState): string {
  return certificateFacts(state.ca.cert).fingerprint;
}

/** A fresh CA and leaf, for a Secret that does not exist yet. */
export function initialState(
  issuer: CertificateIssuer,
  names: SubjectNames,
  now: Date,
): CertificateState {
  const ca = issuer.createCa(now);
  return { ca, leaf: issuer.createLeaf(ca, names, now), served: {} };
}

/**
 * What the shared state should become at `now`. Steps, in order:
 *   1. a staged CA whose delay has passed (and that caBundle already trusts) is promoted:
 *      it signs a new leaf, and the old CA becomes the previous one;
 *   2. a CA near its end gets a successor staged (trusted first, signing later);
 *   3. a leaf near its end, missing a wanted name, not from the current CA, or living longer
 *      than the configured maximum is reissued;
 *   4. once every live replica reports serving from the current CA, the previous CA goes;
 *   5. replicas silent for longer than the TTL are forgotten.
 * The input is never mutated; `steps` is empty when nothing needs to change.
 */
export function planRotation(
  current: CertificateState,
  input: {
    issuer: CertificateIssuer;
    names: SubjectNames;
    now: Date;
    policy: RotationPolicy;
    /** Whether every webhook's caBundle already holds the staged CA. */
    stagedCaTrusted: boolean;
  },
): Plan {
  const { issuer, names, now, policy } = input;
  const steps: RotationStep[] = [];
  let state: CertificateState = { ...current, served: { ...current.served } };

  if (
    state.nextCa &&
    input.stagedCaTrusted &&
    now.getTime() - (state.nextCaStagedAt ?? new Date(0)).getTime() >= policy.caPromotionDelayMs
  ) {
    const { nextCa, nextCaStagedAt: _staged, ...rest } = state;
    state = {
      ...rest,
      ca: nextCa,
      previousCaCert: state.ca.cert,
      leaf: issuer.createLeaf(nextCa, names, now),
    };
    steps.push('ca-promoted');
  } else if (
    !state.nextCa &&
    isDueForRenewal(certificateFacts(state.ca.cert), now, policy.caRenewBeforeFraction)
  ) {
    state = { ...state, nextCa: issuer.createCa(now), nextCaStagedAt: now };
    steps.push('ca-staged');
  }

  const leafFacts = certificateFacts(state.leaf.cert);
  if (!steps.includes('ca-promoted')) {
    if (
      !isSignedBy(state.leaf.cert, state.ca.cert) ||
      !coversNames(leafFacts, names.dnsNames, names.ipAddresses)
    ) {
      state = { ...state, leaf: issuer.createLeaf(state.ca, names, now) };
      steps.push('leaf-reissued-for-names');
    } else if (
      policy.maxLeafLifetimeMs !== undefined &&
      leafFacts.notAfter.getTime() - leafFacts.notBefore.getTime() > policy.maxLeafLifetimeMs
    ) {
      state = { ...state, leaf: issuer.createLeaf(state.ca, names, now) };
      steps.push('leaf-reissued-for-lifetime');
    } else if (isDueForRenewal(leafFacts, now, policy.leafRenewBeforeFraction)) {
      state = { ...state, leaf: issuer.createLeaf(state.ca, names, now) };
      steps.push('leaf-renewed');
    }
  }

  const live = Object.entries(state.served).filter(
    ([, r]) => now.getTime() - r.at.getTime() <= policy.replicaTtlMs,
  );
  if (live.length < Object.keys(state.served).length) {
    state = { ...state, served: Object.fromEntries(live) };
    steps.push('stale-replicas-forgotten');
  }

  if (state.previousCaCert && !steps.includes('ca-promoted')) {
    const currentCa = certificateFacts(state.ca.cert).fingerprint;
    if (live.every(([, report]) => report.caFingerprint === currentCa)) {
      const { previousCaCert: _dropped, ...rest } = state;
      state = rest;
      steps.push('previous-ca-dropped');
    }
  }
  return { state, steps };
}
