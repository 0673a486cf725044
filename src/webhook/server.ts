// The Fastify HTTPS server the apiserver calls: POST /inject (and
// /inject/pod-security/<level>, the same review with Pod Security warnings), plus health,
// readiness and metrics. HTTP concerns live here; the answer to a review comes
// from admission.ts.
import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:https';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { ConfigSource } from '../config/watch.ts';
import { isOutriggerError } from '../errors.ts';
import type { EnforcedLevel } from '../inject/pod-security.ts';
import { describeSkip } from '../inject/reasons.ts';
import {
  POD_SECURITY_REFUSING_LEVELS,
  POD_SECURITY_WEBHOOK_PATH_PREFIX,
  WEBHOOK_PATH,
} from '../shared/contract.ts';
import { echoText } from '../shared/echo.ts';
import { readAdmissionRequest, reviewAdmission, serializeReview } from './admission.ts';
import {
  type ConnectionBounds,
  type ConnectionGuard,
  guardConnections,
  resolveBounds,
} from './connection-guard.ts';
import { createWebhookLogger } from './logger.ts';
import type { WebhookMetrics } from './metrics.ts';
import { type ServingCertificate, TLS_OPTIONS } from './tls.ts';

/**
 * The apiserver caps a request body at 3 MiB; the review wraps the object in
 * an envelope (and, for updates, an old copy), so allow twice that.
 */
export const BODY_LIMIT_BYTES = 6 * 1024 * 1024;

/** How much of an oversized body is read and thrown away so the 413 gets through. */
const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;

function discardBody(body: IncomingMessage, limit: number): Promise<void> {
  if (body.complete || body.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      body.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) done();
    };
    body.on('data', onData);
    body.once('end', done);
    body.once('close', done);
    body.resume();
  });
}

export interface WebhookServerOptions {
  config: ConfigSource;
  certificate: ServingCertificate;
  metrics: WebhookMetrics;
  /** The injector's own namespace: never injected. */
  injectorNamespace?: string;
  /** The structured logger (see logger.ts); a default one at info level otherwise. */
  logger?: Logger;
  /** A request (headers and body) must arrive within this time, or it gets 408. */
  requestTimeoutMs?: number;
  /** Connection limit, handshake and shutdown timeouts (connection-guard.ts has the defaults). */
  connections?: Partial<ConnectionBounds>;
}

export interface WebhookServer {
  app: FastifyInstance<Server>;
  /** Readiness: false until TLS and config are loaded, and again once shutdown starts. */
  setReady(ready: boolean): void;
  /** Closes the connections `app.close()` would otherwise wait for. */
  connections: ConnectionGuard;
  bounds: ConnectionBounds;
}

export function buildWebhookServer(options: WebhookServerOptions): WebhookServer {
  const { config, certificate, metrics, injectorNamespace } = options;
  let ready = false;

  const requestTimeout = options.requestTimeoutMs ?? 10_000;
  const bounds = resolveBounds(options.connections);
  const app = Fastify({
    https: {
      ...TLS_OPTIONS,
      ...certificate.material,
      // Node checks request deadlines on this interval (30 s by default): check
      // each second so a slow-loris body is cut off near its deadline.
      connectionsCheckingInterval: 1000,
      headersTimeout: requestTimeout,
      handshakeTimeout: bounds.handshakeTimeoutMs,
    },
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout,
    // The apiserver keeps connections alive between reviews; keep ours longer
    // than its idle timeout so it never writes into a closing socket.
    keepAliveTimeout: 65_000,
    // On close: idle keep-alive sockets go at once, in-flight reviews finish.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // One log line per admission comes from the route itself, with the decision.
    logController: new LogController({ disableRequestLogging: true }),
    loggerInstance: options.logger ?? createWebhookLogger('info').logger,
    // No per-request child logger: the admission line carries the review's uid,
    // which identifies a request better than a generated id, and skipping the
    // child saves a logger allocation on every review.
    childLoggerFactory: (logger) => logger,
  }) as unknown as FastifyInstance<Server>;
  certificate.attach(app.server);
  const connections = guardConnections(app.server, bounds, {
    count: () => metrics.connectionsDropped.inc(),
    log: (dropped, limit) =>
      app.log.warn(
        { dropped, maxConnections: limit },
        'connection limit reached: refusing new connections',
      ),
  });
  // Reviews are JSON; anything else is a 415, not a body to guess at.
  app.removeContentTypeParser(['text/plain']);

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    // Fastify's own errors carry a status; ours only when the error table gives one.
    const statusCode = (isOutriggerError(err) ? err.httpStatus : err.statusCode) ?? 500;
    // Answering an oversized upload while the client is still sending makes the
    // kernel reset the connection, and the client sees a reset instead of the
    // 413. Read and discard the rest first (bounded), as nginx's lingering close does.
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      await discardBody(request.raw, DISCARD_LIMIT_BYTES);
    if (statusCode >= 500) request.log.error({ err }, 'webhook request failed');
    else
      request.log.warn(
        { code: err.code, message: echoText(err.message, 1024) },
        'rejected webhook request',
      );
    void reply
      .code(statusCode)
      .send({ statusCode, code: err.code ?? 'INTERNAL', message: echoText(err.message, 1024) });
  });

  // A callback hook, not an async one: this runs on every request.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.requests.inc({
      route: request.routeOptions.url ?? 'unknown',
      status_code: String(reply.statusCode),
    });
    done();
  });

  const review = async (
    request: FastifyRequest,
    reply: FastifyReply,
    podSecurity: EnforcedLevel | undefined,
  ) => {
    const started = process.hrtime.bigint();
    const admission = readAdmissionRequest(request.body);
    const result = reviewAdmission(admission, config.current, injectorNamespace, podSecurity);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const { outcome } = result;
    metrics.admissions.inc({ decision: outcome.decision, reason: outcome.reason });
    metrics.injectionDuration.observe({ decision: outcome.decision }, seconds);
    request.log.info(
      {
        // The sender sized these (the apiserver caps them; a direct caller need not).
        uid: echoText(admission.uid),
        namespace: echoText(result.namespace),
        pod: echoText(result.pod),
        decision: outcome.decision,
        reason: outcome.reason,
        ...(outcome.decision === 'skipped' ? { detail: describeSkip(outcome.reason) } : {}),
        // The traffic policy ConfigMap the proxy was given (docs/policy.md), when one was.
        ...(outcome.decision === 'injected' && outcome.policy.configMap !== undefined
          ? { policy: outcome.policy.configMap, policyReason: outcome.policy.reason }
          : {}),
        ...(outcome.decision === 'denied' ? { detail: outcome.message } : {}),
        ...(podSecurity ? { podSecurity } : {}),
        dryRun: admission.dryRun === true,
        durationMs: Math.round(seconds * 1e6) / 1e3,
      },
      'admission',
    );
    // Sent as JSON text with its type set, so Fastify writes it as it is: no
    // serializer lookup, and no Buffer allocated for every answer.
    return reply.type('application/json; charset=utf-8').send(serializeReview(result.review));
  };
  app.post(WEBHOOK_PATH, (request, reply) => review(request, reply, undefined));
  // The same review for namespaces that enforce a Pod Security level refusing the
  // injected containers: the path names the level, and the answer explains it.
  for (const level of POD_SECURITY_REFUSING_LEVELS) {
    app.post(`${POD_SECURITY_WEBHOOK_PATH_PREFIX}${level}`, (request, reply) =>
      review(request, reply, level),
    );
  }

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) =>
    ready ? { status: 'ready' } : reply.code(503).send({ status: 'not ready' }),
  );
  app.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  return {
    app,
    setReady: (value) => {
      ready = value;
    },
    connections,
    bounds,
  };
}
