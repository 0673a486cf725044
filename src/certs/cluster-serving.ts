// `outrigger serve --certs-mode auto|provided|cert-manager`: runs the certificate
// manager against the Kubernetes API and hands each new serving pair to the HTTPS
// server once it exists. It logs through the injector's pino logger from the first
// line, before the server exists, so start-up problems are never silent.
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
  /** Routes later pairs to the server. */
  attach(update: (material: ServingMaterial) => void): void;
  stop(): Promise<void>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const LEAF_BACKDATE_ALLOWANCE_MS = 10 * 60 * 1000;

export async function startClusterServing(
  options: ClusterCertificateOptions,
  registry: Registry,
  logger: CertificateLogger,
): Promise<ClusterServing> {
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
    logger,
    onServingMaterial: (material) => {
      if (update) update(material);
      else initial = material;
    },
  });
  const first = initial;
  if (!first) throw errors.NO_SERVING_MATERIAL('the certificate manager started without any');
  return {
    initial: first,
    attach: (next) => {
      update = next;
      // A re-check may have produced a newer pair between start and attach.
      if (initial && initial !== first) next(initial);
    },
    stop: () => manager.stop(),
  };
}
