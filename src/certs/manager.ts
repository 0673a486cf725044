// Keeps the webhook's serving certificate alive without a restart and without a
// leader: every replica runs the same re-check, and the Secret's resourceVersion
// decides who wins each write (the loser re-reads and adopts). Modes:
//   auto          this module owns the CA and leaf in a Secret and the webhooks' caBundle;
//   provided      the user's Secret (tls.crt, tls.key, ca.crt) is served and its ca.crt
//                 written into caBundle; nothing is generated;
//   cert-manager  cert-manager writes the Secret and its CA injector owns caBundle; this
//                 module only serves what the Secret holds.
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { errors } from '../errors.ts';
import { caBundlePatch, everyWebhookTrusts } from './ca-bundle-patch.ts';
import { certificateFacts } from './inspect.ts';
import type { KeyPair } from './key-pair.ts';
import { type CertificateStore, kubernetesCertificateStore } from './kube-api.ts';
import { type CertificateMetrics, certificateMetrics } from './metrics.ts';
import type { CertificateMode } from './modes.ts';
import {
  type CertificateIssuer,
  type CertificateState,
  caBundleOf,
  caFingerprint,
  initialState,
  planRotation,
  type RotationPolicy,
  SERVED_ANNOTATION_PREFIX,
  STAGED_AT_ANNOTATION,
  type SubjectNames,
  stateFromSecret,
  stateToSecret,
} from './state.ts';

export { CERTIFICATE_MODES, type CertificateMode } from './modes.ts';

/** What the HTTPS server needs: its leaf and key, and the CA bundle clients trust. */
export interface ServingMaterial extends KeyPair {
  ca: string;
}

/** pino's calling convention, so a Fastify logger fits as is. */
export interface CertificateLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CertificateManagerOptions {
  mode: CertificateMode;
  namespace: string;
  secretName: string;
  webhookConfigurationName: string;
  /** The Service in front of the injector; its four DNS forms go into the leaf (auto mode). */
  serviceName: string;
  /** Extra SANs, e.g. the host or IP of a `webhook.url` pointing outside the cluster. */
  extraDnsNames?: string[];
  ipAddresses?: string[];
  /** Kubernetes credentials; tests may pass `store` instead. */
  kubeConfig?: KubeConfig;
  store?: CertificateStore;
  /** Makes CAs and leaves (auto mode). */
  issuer?: CertificateIssuer;
  /** Name this replica reports under on the Secret; defaults to $POD_NAME or the hostname. */
  replicaName?: string;
  /** How often the Secret and caBundle are re-checked (default 60 s). */
  recheckIntervalMs?: number;
  policy?: Partial<RotationPolicy>;
  /** Called with the first material before start resolves, then on every change. */
  onServingMaterial(material: ServingMaterial): void | Promise<void>;
  logger: CertificateLogger;
  metrics?: Registry;
  now?: () => Date;
  /** How long start keeps retrying a failing first re-check (default 60 s). */
  startTimeoutMs?: number;
}

export interface CertificateManager {
  /** The material last handed to onServingMaterial. */
  current(): ServingMaterial;
  /** Runs one re-check now (tests and `SIGHUP`-style triggers). */
  recheck(): Promise<void>;
  stop(): Promise<void>;
}

const DEFAULT_RECHECK_MS = 60_000;

/** The four names a client inside the cluster may use for the Service. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

function isOwnedAnnotation(key: string): boolean {
  return key === STAGED_AT_ANNOTATION || key.startsWith(SERVED_ANNOTATION_PREFIX);
}

function mergedAnnotations(
  existing: Record<string, string>,
  ours: Record<string, string>,
): Record<string, string> {
  const kept = Object.fromEntries(
    Object.entries(existing).filter(([key]) => !isOwnedAnnotation(key)),
  );
  return { ...kept, ...ours };
}

export async function startCertificateManager(
  options: CertificateManagerOptions,
): Promise<CertificateManager> {
  const store =
    options.store ??
    (options.kubeConfig
      ? kubernetesCertificateStore(options.kubeConfig, {
          namespace: options.namespace,
          secretName: options.secretName,
          webhookConfigurationName: options.webhookConfigurationName,
        })
      : undefined);
  if (!store)
    throw errors.CERTIFICATE_SETTINGS('startCertificateManager needs kubeConfig or store');
  const now = options.now ?? (() => new Date());
  const recheckMs = options.recheckIntervalMs ?? DEFAULT_RECHECK_MS;
  const policy: RotationPolicy = {
    leafRenewBeforeFraction: 1 / 3,
    caRenewBeforeFraction: 1 / 3,
    caPromotionDelayMs: 2 * recheckMs,
    replicaTtlMs: 3 * recheckMs,
    ...options.policy,
  };
  const replica = options.replicaName ?? process.env.POD_NAME ?? hostname();
  const names: SubjectNames = {
    dnsNames: [
      ...serviceDnsNames(options.serviceName, options.namespace),
      ...(options.extraDnsNames ?? []),
    ],
    ipAddresses: options.ipAddresses ?? [],
  };
  const metrics: CertificateMetrics | undefined = options.metrics
    ? certificateMetrics(options.metrics)
    : undefined;
  const log = options.logger;
  const target = { namespace: options.namespace, secret: options.secretName };
  let served: ServingMaterial | undefined;

  /** Events are a courtesy for `kubectl describe`: failing to write one never fails a re-check. */
  async function event(reason: string, message: string): Promise<void> {
    try {
      await store?.recordEvent(reason, message);
    } catch (error) {
      log.warn({ ...target, err: error, reason }, 'could not record an Event');
    }
  }

  async function serve(material: ServingMaterial): Promise<void> {
    if (
      served &&
      served.cert === material.cert &&
      served.key === material.key &&
      served.ca === material.ca
    )
      return;
    await options.onServingMaterial(material);
    const leaf = certificateFacts(material.cert);
    log.info(
      { ...target, fingerprint: leaf.fingerprint, notAfter: leaf.notAfter.toISOString() },
      !served
        ? 'serving the webhook certificate'
        : served.cert === material.cert
          ? 'the trusted CA bundle changed; same serving certificate'
          : 'serving a new webhook certificate',
    );
    served = material;
  }

  /** Writes `bundle` into every webhook's caBundle unless it is already there. */
  async function ensureCaBundle(bundle: string): Promise<void> {
    const webhooks = await store?.readWebhooks();
    if (!webhooks) {
      log.warn(
        { webhookConfiguration: options.webhookConfigurationName },
        'MutatingWebhookConfiguration not found; caBundle will be written when it appears',
      );
      return;
    }
    const patch = caBundlePatch(webhooks, bundle);
    if (patch.length === 0) return;
    if (await store?.patchWebhooks(patch)) {
      metrics?.rotation('ca-bundle-patched');
      log.info(
        { webhookConfiguration: options.webhookConfigurationName },
        'wrote the CA bundle into caBundle',
      );
      await event(
        'CABundleWritten',
        `wrote the CA bundle into MutatingWebhookConfiguration ${options.webhookConfigurationName}`,
      );
    } else {
      log.warn(
        { webhookConfiguration: options.webhookConfigurationName },
        'caBundle patch lost a race; retrying at the next re-check',
      );
    }
  }

  /** Reads, plans and writes the shared state until a write sticks (bounded). */
  async function settleSharedState(issuer: CertificateIssuer): Promise<CertificateState> {
    for (let attempt = 0; attempt < 8; attempt++) {
      const snapshot = await store?.readSecret();
      const existing = snapshot && stateFromSecret(snapshot.data, snapshot.annotations);
      if (!snapshot || !existing) {
        const fresh = initialState(issuer, names, now());
        const { data, annotations } = stateToSecret(fresh);
        const written = snapshot
          ? await store?.updateSecret({
              ...snapshot,
              data,
              annotations: mergedAnnotations(snapshot.annotations, annotations),
            })
          : await store?.createSecret(data, annotations);
        if (!written) {
          // Another replica created it between our read and write: adopt theirs.
          log.info(target, 'another replica created the certificate Secret first; adopting it');
          continue;
        }
        metrics?.rotation('created');
        await event(
          'CertificateCreated',
          `created a CA and a serving certificate (replica ${replica})`,
        );
        log.info(
          { ...target, caFingerprint: caFingerprint(fresh) },
          'created a CA and serving certificate',
        );
        return fresh;
      }
      const webhooks = await store?.readWebhooks();
      const stagedCaTrusted =
        existing.nextCa !== undefined &&
        (webhooks === undefined ||
          webhooks.length === 0 ||
          everyWebhookTrusts(webhooks, existing.nextCa.cert));
      const plan = planRotation(existing, { issuer, names, now: now(), policy, stagedCaTrusted });
      if (plan.steps.length === 0) return existing;
      const { data, annotations } = stateToSecret(plan.state);
      const written = await store?.updateSecret({
        ...snapshot,
        data,
        annotations: mergedAnnotations(snapshot.annotations, annotations),
      });
      if (!written) continue;
      for (const step of plan.steps) metrics?.rotation(step);
      const visible = plan.steps.filter((step) => step !== 'stale-replicas-forgotten');
      if (visible.length > 0)
        await event('CertificateRotated', `${visible.join(', ')} (replica ${replica})`);
      log.info(
        { ...target, steps: plan.steps, caFingerprint: caFingerprint(plan.state) },
        'updated the certificate Secret',
      );
      return plan.state;
    }
    throw errors.CERTIFICATE_SECRET_CONFLICT(`${options.namespace}/${options.secretName}`);
  }

  /** Records on the Secret which CA this replica's served leaf comes from (the CA-drop gate). */
  async function reportServedCa(caFingerprintServed: string): Promise<void> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const snapshot = await store?.readSecret();
      const state = snapshot && stateFromSecret(snapshot.data, snapshot.annotations);
      if (!snapshot || !state) return;
      state.served[replica] = { caFingerprint: caFingerprintServed, at: now() };
      const { data, annotations } = stateToSecret(state);
      if (
        await store?.updateSecret({
          ...snapshot,
          data,
          annotations: mergedAnnotations(snapshot.annotations, annotations),
        })
      ) {
        return;
      }
    }
  }

  async function recheckAuto(): Promise<void> {
    if (!options.issuer) throw errors.CERTIFICATE_SETTINGS('certs.mode auto needs an issuer');
    const state = await settleSharedState(options.issuer);
    const bundle = caBundleOf(state);
    // Trust first, serve second: the apiserver must hold the CA before it meets a leaf from it.
    await ensureCaBundle(bundle);
    await serve({ cert: state.leaf.cert, key: state.leaf.key, ca: bundle });
    metrics?.caExpiry(certificateFacts(state.ca.cert).notAfter);
    await reportServedCa(caFingerprint(state));
  }

  async function recheckFromSecret(writeCaBundle: boolean): Promise<void> {
    const snapshot = await store?.readSecret();
    const decode = (key: string) =>
      snapshot?.data[key] ? Buffer.from(snapshot.data[key], 'base64').toString('utf8') : undefined;
    const cert = decode('tls.crt');
    const key = decode('tls.key');
    if (!cert || !key) {
      throw errors.CERTIFICATE_SECRET_INCOMPLETE(`${options.namespace}/${options.secretName}`);
    }
    const ca = decode('ca.crt') ?? '';
    if (writeCaBundle && ca) await ensureCaBundle(ca);
    await serve({ cert, key, ca });
  }

  const recheckOnce = () =>
    options.mode === 'auto' ? recheckAuto() : recheckFromSecret(options.mode === 'provided');

  // One re-check at a time: a slow API call must not let two overlap and race each other.
  let running: Promise<void> = Promise.resolve();
  const recheck = () => {
    running = running.then(recheckOnce, recheckOnce);
    return running;
  };

  // The first re-check may meet a Secret that cert-manager has not issued yet or an
  // apiserver that is still starting: retry for a while before giving up on start.
  const startDeadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    try {
      await recheck();
      break;
    } catch (error) {
      if (Date.now() >= startDeadline) throw error;
      log.warn({ ...target, err: error }, 'no serving certificate yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(recheckMs, 2_000)));
    }
  }
  const timer = setInterval(() => {
    recheck().catch((error: unknown) => {
      metrics?.failure('reconcile');
      log.error(
        { ...target, err: error },
        'certificate re-check failed; serving the current certificate and retrying',
      );
    });
  }, recheckMs);
  timer.unref();

  return {
    current: () => {
      if (!served) throw errors.NO_SERVING_MATERIAL('the first re-check has not finished');
      return served;
    },
    recheck,
    stop: async () => {
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}
