// `outrigger serve`: the webhook. TLS comes from files (reloaded on change) or,
// without them, from a CA and a localhost certificate generated at start.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCertificateAuthority, issueServingCertificate } from '../certs/generate.ts';
import type { KeyPair } from '../certs/key-pair.ts';
import { preparePrivateDirectory, writePrivateFile } from '../certs/private-directory.ts';
import { ConfigSource } from '../config/watch.ts';
import { METRICS_PATH, WEBHOOK_PATH } from '../shared/contract.ts';
import { createWebhookLogger } from '../webhook/logger.ts';
import { createWebhookMetrics } from '../webhook/metrics.ts';
import { createMonitoringServer } from '../webhook/monitoring.ts';
import { buildWebhookServer } from '../webhook/server.ts';
import {
  checkServingMaterial,
  readServingFiles,
  ServingCertificate,
  watchServingFiles,
} from '../webhook/tls.ts';
import { type ClusterCertificateFlags, clusterCertificateOptions } from './certificate-flags.ts';

export interface ServeOptions extends ClusterCertificateFlags {
  port: number;
  host: string;
  tlsCert?: string;
  tlsKey?: string;
  config?: string;
  namespace?: string;
  logLevel: string;
  certsDir?: string;
  requestTimeout?: number;
  maxConnections?: number;
  handshakeTimeout?: number;
  shutdownTimeout?: number;
  /** Plain-HTTP /metrics on this port (the chart's 15014); unset, none. 0 picks a free one. */
  monitoringPort?: number;
}

export async function serve(options: ServeOptions): Promise<void> {
  // One logger for every line, the certificate manager's start-up included.
  const logging = createWebhookLogger(options.logLevel);
  const metrics = createWebhookMetrics();
  const config = await ConfigSource.load(options.config);
  metrics.configLastReloadSuccess.set(1);

  let generatedCa: string | undefined;
  let material: KeyPair;
  // --certs-mode auto|provided|cert-manager: the certificate manager owns TLS (src/certs/).
  const clusterOptions = clusterCertificateOptions(options);
  // Loaded only in cluster mode: the Kubernetes client is large, and a local or
  // file-based webhook should not pay for it in memory.
  const cluster =
    clusterOptions &&
    (await (
      await import('../certs/cluster-serving.ts')
    ).startClusterServing(clusterOptions, metrics.registry, logging.logger));
  if (cluster) {
    material = cluster.initial;
  } else if (options.tlsCert && options.tlsKey) {
    material = await readServingFiles({ cert: options.tlsCert, key: options.tlsKey });
  } else {
    const generated = await generateLocalCertificates(
      options.certsDir ?? join(tmpdir(), 'outrigger-serve'),
    );
    material = generated.material;
    generatedCa = generated.caPath;
  }
  const certificate = new ServingCertificate(material, options.tlsCert ?? 'generated');
  const setExpiry = (expiry: Date) => metrics.servingCertificateExpiry.set(expiry.getTime() / 1000);
  setExpiry(checkServingMaterial(material, 'serving certificate'));
  certificate.onUpdate(setExpiry);

  const { app, setReady, connections, bounds } = buildWebhookServer({
    config,
    certificate,
    metrics,
    injectorNamespace: options.namespace,
    logger: logging.logger,
    requestTimeoutMs: options.requestTimeout,
    connections: {
      maxConnections: options.maxConnections,
      handshakeTimeoutMs: options.handshakeTimeout,
      shutdownTimeoutMs: options.shutdownTimeout,
    },
  });
  const log = app.log;
  const monitoring =
    options.monitoringPort === undefined ? undefined : createMonitoringServer(metrics.registry);
  cluster?.attach((next) => certificate.update(next, `Secret ${clusterOptions?.secretName}`));

  config.watch((event) => {
    metrics.configReloads.inc({ result: event.ok ? 'success' : 'failure' });
    metrics.configLastReloadSuccess.set(event.ok ? 1 : 0);
    if (event.ok) log.info({ source: event.source }, 'configuration reloaded');
    else
      log.error(
        { source: event.source, err: event.error },
        'configuration reload failed; keeping the last good configuration',
      );
  });
  const stopWatchingCerts =
    options.tlsCert && options.tlsKey
      ? watchServingFiles(certificate, { cert: options.tlsCert, key: options.tlsKey }, (err) => {
          metrics.tlsReloads.inc({ result: err ? 'failure' : 'success' });
          if (err)
            log.warn({ err }, 'serving certificate reload failed; still serving the previous one');
          else log.info('serving certificate reloaded');
        })
      : () => {};

  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down: no longer ready, finishing in-flight reviews');
    setReady(false);
    config.close();
    stopWatchingCerts();
    await cluster?.stop();
    monitoring?.close();
    monitoring?.closeAllConnections();
    const closed = app.close();
    // server.close() waits for every socket; one in its TLS handshake, or idle
    // after it, carries no review and would hold shutdown until it timed out.
    connections.closeIdle();
    const deadline = setTimeout(() => {
      log.warn(
        { shutdownTimeoutMs: bounds.shutdownTimeoutMs },
        'shutdown grace over: closing the connections still open',
      );
      connections.closeAll();
    }, bounds.shutdownTimeoutMs);
    await closed;
    clearTimeout(deadline);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: options.port, host: options.host });
  if (monitoring) {
    await new Promise<void>((resolve, reject) => {
      monitoring.once('error', reject);
      monitoring.listen(options.monitoringPort, options.host, () => resolve());
    });
    const bound = monitoring.address();
    const url = `http://${options.host}:${typeof bound === 'object' && bound ? bound.port : options.monitoringPort}${METRICS_PATH}`;
    log.info({ url }, `monitoring on ${url}`);
  }
  setReady(true);
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  if (generatedCa) {
    log.info(
      { ca: generatedCa, url: `https://127.0.0.1:${port}${WEBHOOK_PATH}` },
      `generated a CA for this run; call me with: curl --cacert ${generatedCa} https://127.0.0.1:${port}/healthz`,
    );
  }
}

/** A fresh CA and a serving certificate for localhost, written where a client can find the CA. */
async function generateLocalCertificates(dir: string) {
  const ca = generateCertificateAuthority({ commonName: 'outrigger-local-ca', validityDays: 30 });
  const material = issueServingCertificate(ca, {
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1', '::1'],
    validityDays: 30,
  });
  await preparePrivateDirectory(dir);
  const caPath = await writePrivateFile(dir, 'ca.crt', ca.cert, 0o644);
  await writePrivateFile(dir, 'tls.crt', material.cert, 0o644);
  await writePrivateFile(dir, 'tls.key', material.key, 0o600);
  return { material, caPath };
}
