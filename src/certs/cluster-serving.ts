// `outrigger serve --certs-mode auto|provided|cert-manager`: runs the certificate
// manager against the Kubernetes API and hands each new serving pair to the HTTPS
// server once it exists. Until the server's logger is attached, the manager logs
// pino-shaped JSON lines to stderr so start-up problems are never silent.
import type { Registry } from 'prom-client';
import { errors } from '../errors.ts';
import { forgeIssuer } from './issuer.ts';
import { loadKubeConfig } from './kube-api.ts';
import {
  type CertificateLogger,
  type CertificateMode,
  type ServingMaterial,
  startCertificateManager,
} from './manager.ts';

export interface ClusterCertificateOptions {
  certsMode: CertificateMode;
  /** Kubeconfig file; in-cluster credentials (or $KUBECONFIG) when unset. */
  kubeconfig?: string;
  namespace: string;
  serviceName: string;
  secretName: string;
  webhookConfigName: string;
  certDnsNames?: string[];
  certIps?: string[];
  certRecheckSeconds?: number;
  certLeafValidityDays?: number;
  certCaValidityDays?: number;
}

export interface ClusterServing {
  /** The first serving pair, ready before the server starts. */
  initial: ServingMaterial;
  /** Routes later pairs to the server and logs through its logger from now on. */
  attach(update: (material: ServingMaterial) => void, logger: CertificateLogger): void;
  stop(): Promise<void>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const LEAF_BACKDATE_ALLOWANCE_MS = 10 * 60 * 1000;

function stderrLogger(): CertificateLogger {
  // The shape of every log line (webhook/logger.ts, LOG_SHAPE).
  const line = (level: 'info' | 'warn' | 'error') => (obj: object, msg: string) => {
    const fields = Object.fromEntries(
      Object.entries(obj).map(([key, value]) => [
        key,
        value instanceof Error ? value.message : value,
      ]),
    );
    const time = new Date().toISOString();
    process.stderr.write(`${JSON.stringify({ level, time, msg, ...fields })}\n`);
  };
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

export async function startClusterServing(
  options: ClusterCertificateOptions,
  registry: Registry,
): Promise<ClusterServing> {
  let logger = stderrLogger();
  let update: ((material: ServingMaterial) => void) | undefined;
  let initial: ServingMaterial | undefined;
  const manager = await startCertificateManager({
    mode: options.certsMode,
    kubeConfig: loadKubeConfig(options.kubeconfig),
    namespace: options.namespace,
    serviceName: options.serviceName,
    secretName: options.secretName,
    webhookConfigurationName: options.webhookConfigName,
    extraDnsNames: options.certDnsNames ?? [],
    ipAddresses: options.certIps ?? [],
    issuer: forgeIssuer({
      caValidityDays: options.certCaValidityDays,
      leafValidityDays: options.certLeafValidityDays,
    }),
    recheckIntervalMs: (options.certRecheckSeconds ?? 60) * 1000,
    // The generator back-dates notBefore by a few minutes; allow for that before reissuing.
    policy: {
      maxLeafLifetimeMs:
        (options.certLeafValidityDays ?? 365) * DAY_MS + LEAF_BACKDATE_ALLOWANCE_MS,
    },
    metrics: registry,
    logger: {
      info: (obj, msg) => logger.info(obj, msg),
      warn: (obj, msg) => logger.warn(obj, msg),
      error: (obj, msg) => logger.error(obj, msg),
    },
    onServingMaterial: (material) => {
      if (update) update(material);
      else initial = material;
    },
  });
  const first = initial;
  if (!first) throw errors.NO_SERVING_MATERIAL('the certificate manager started without any');
  return {
    initial: first,
    attach: (next, nextLogger) => {
      update = next;
      logger = nextLogger;
      // A re-check may have produced a newer pair between start and attach.
      if (initial && initial !== first) next(initial);
    },
    stop: () => manager.stop(),
  };
}
