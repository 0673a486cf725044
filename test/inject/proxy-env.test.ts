// The injector renders the proxy's environment; outrigger-proxy reads it. This
// pins the two ends together: what the pod's annotations ask for is what the
// proxy resolves, and nothing the injector can render makes the proxy refuse
// to start.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { V1EnvVar, V1Pod, V1Probe } from '@kubernetes/client-node';
import fc from 'fast-check';
import { resolveConfig } from '../../proxy/src/config.ts';
import { parseWaitArgs } from '../../proxy/src/wait.ts';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { LOG_LEVELS } from '../../src/config/schema.ts';
import { readOverrides } from '../../src/inject/overrides.ts';
import { renderInjection, renderSidecar } from '../../src/inject/render.ts';

/** The env as the kubelet would set it, with the downward-API fields filled in. */
function kubeletEnv(env: V1EnvVar[]): NodeJS.ProcessEnv {
  const fields: Record<string, string> = {
    'metadata.name': 'web-7d9f-abcde',
    'metadata.namespace': 'shop',
    'status.podIP': '192.0.2.10',
    'spec.nodeName': 'node-1',
    'spec.serviceAccountName': 'web',
  };
  return Object.fromEntries(
    env.map((e) => [e.name, e.value ?? fields[e.valueFrom?.fieldRef?.fieldPath ?? ''] ?? '']),
  );
}

const sidecarFor = (annotations: Record<string, string>) => {
  const pod: V1Pod = { metadata: { annotations }, spec: { containers: [{ name: 'app' }] } };
  return renderSidecar(defaultConfig(), readOverrides(pod), 'native');
};

test('the proxy resolves every override the annotations asked for', () => {
  const sidecar = sidecarFor({
    'sidecar.outrigger.dev/logLevel': 'debug',
    'sidecar.outrigger.dev/accessLog': 'true',
    'sidecar.outrigger.dev/accessLogFormat': 'text',
    'sidecar.outrigger.dev/forwardPodIdentity': 'true',
    'sidecar.outrigger.dev/addRequestHeaders': 'X-Team: payments\nAccept: a, b',
    'sidecar.outrigger.dev/addResponseHeaders': 'Server: outrigger',
  });
  assert.deepEqual(sidecar.args, undefined, 'the proxy is started with no flags');
  const config = resolveConfig([], kubeletEnv(sidecar.env ?? []));
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.accessLog, true);
  assert.equal(config.accessLogFormat, 'text');
  assert.equal(config.forwardPodIdentity, true);
  assert.deepEqual(config.pod, {
    name: 'web-7d9f-abcde',
    namespace: 'shop',
    ip: '192.0.2.10',
    nodeName: 'node-1',
    serviceAccount: 'web',
    // renderSidecar is the part shared by pods; renderInjection adds the pod's own.
    workload: '',
    app: '',
    version: '',
  });
  assert.deepEqual(config.addRequestHeaders, [
    { name: 'X-Team', value: 'payments' },
    { name: 'Accept', value: 'a, b' },
  ]);
  assert.deepEqual(config.addResponseHeaders, [{ name: 'Server', value: 'outrigger' }]);
  assert.deepEqual(config.ports, {
    outbound: 15001,
    inbound: 15006,
    admin: 15000,
    health: 15021,
    prometheus: 15090,
  });
  // Native: SIGTERM comes after the app exited, with at least the kubelet's 2 s.
  assert.equal(config.layout, 'native');
  assert.equal(config.drainTimeoutMs, 1000);
});

test("the proxy's drain is sized from the pod's grace period and layout, and fits inside it", () => {
  const drainFor = (
    layout: 'native' | 'classic',
    grace: number | undefined,
    configured?: number,
  ) => {
    const pod: V1Pod = {
      metadata: {
        annotations: { 'sidecar.outrigger.dev/nativeSidecar': String(layout === 'native') },
      },
      spec: { containers: [{ name: 'app' }], terminationGracePeriodSeconds: grace },
    };
    const config = parseConfig(
      configured === undefined ? '' : `proxy: {drainTimeoutSeconds: ${configured}}`,
      'test',
    );
    const injection = renderInjection(pod, config, readOverrides(pod));
    const proxy = [...injection.initContainers, ...injection.containers].find(
      (c) => c.name === 'outrigger-proxy',
    );
    const resolved = resolveConfig([], kubeletEnv(proxy?.env ?? []));
    assert.equal(resolved.layout, layout);
    return resolved.drainTimeoutMs;
  };
  // Classic: SIGTERM with the app; serve it for the whole grace period but 2 s.
  assert.equal(drainFor('classic', undefined), 28_000);
  assert.equal(drainFor('classic', 120), 118_000);
  assert.equal(drainFor('classic', 2), 1000);
  assert.equal(drainFor('classic', 0), 1000);
  // Native: the app is gone when SIGTERM comes; the kubelet leaves at least 2 s.
  assert.equal(drainFor('native', undefined), 1000);
  assert.equal(drainFor('native', 120), 1000);
  // A configured drain only ever shortens it.
  assert.equal(drainFor('classic', 30, 10), 10_000);
  assert.equal(drainFor('classic', 10, 60), 8000);
  assert.equal(drainFor('native', 30, 0), 0);
});

test('every log level the injector accepts starts the proxy', () => {
  for (const level of LOG_LEVELS) {
    const sidecar = sidecarFor({ 'sidecar.outrigger.dev/logLevel': level });
    assert.equal(resolveConfig([], kubeletEnv(sidecar.env ?? [])).logLevel, level);
  }
});

test("the app's rewritten probes reach the proxy as the checks it answers on its health port", () => {
  const pod: V1Pod = {
    metadata: { name: 'web' },
    spec: {
      containers: [
        {
          name: 'web',
          ports: [{ name: 'http', containerPort: 8080 }],
          readinessProbe: {
            httpGet: {
              path: '/ready',
              port: 'http',
              scheme: 'HTTPS',
              httpHeaders: [{ name: 'Host', value: 'web.example' }],
            },
            timeoutSeconds: 2,
          },
          livenessProbe: { tcpSocket: { port: 8080 } },
          startupProbe: { exec: { command: ['true'] } },
        },
      ],
    },
  };
  const injection = renderInjection(pod, defaultConfig(), readOverrides(pod));
  const sidecar = injection.initContainers.find((c) => c.name === 'outrigger-proxy');
  assert.ok(sidecar);
  const config = resolveConfig([], kubeletEnv(sidecar.env ?? []));
  assert.deepEqual(config.appProbes, {
    '/app-health/web/readyz': {
      httpGet: {
        path: '/ready',
        port: 8080,
        scheme: 'HTTPS',
        httpHeaders: [{ name: 'Host', value: 'web.example' }],
      },
      timeoutSeconds: 2,
    },
    '/app-health/web/livez': { tcpSocket: { port: 8080 }, timeoutSeconds: 1 },
  });
  // Each path the kubelet is sent to is one the proxy answers.
  const paths = injection.probeRewrites.map((r) => r.probe.httpGet?.path).sort();
  assert.deepEqual(paths, Object.keys(config.appProbes).sort());
  assert.ok(injection.probeRewrites.every((r) => r.probe.httpGet?.port === config.ports.health));
});

test('a pod without probes to rewrite shares the rendered parts of the proxy and sets no OUTRIGGER_APP_PROBES', () => {
  const pod: V1Pod = {
    metadata: { annotations: { 'sidecar.outrigger.dev/rewriteAppProbes': 'false' } },
    spec: { containers: [{ name: 'web', livenessProbe: { tcpSocket: { port: 8080 } } }] },
  };
  const config = defaultConfig();
  const injection = renderInjection(pod, config, readOverrides(pod));
  assert.deepEqual(injection.probeRewrites, []);
  const sidecar = injection.initContainers.find((c) => c.name === 'outrigger-proxy');
  assert.ok(sidecar && Object.isFrozen(sidecar));
  const again = renderInjection(pod, config, readOverrides(pod));
  assert.equal(
    again.initContainers.find((c) => c.name === 'outrigger-proxy')?.resources,
    sidecar.resources,
  );
  assert.deepEqual(resolveConfig([], kubeletEnv(sidecar.env ?? [])).appProbes, {});
});

test("the classic layout's postStart hook is a command the proxy binary accepts", () => {
  const pod: V1Pod = { spec: { containers: [{ name: 'app' }] } };
  const sidecar = renderSidecar(defaultConfig(), readOverrides(pod), 'classic');
  const command = sidecar.lifecycle?.postStart?.exec?.command ?? [];
  const [binary, subcommand, ...args] = command;
  const bins = (
    JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      bin: Record<string, string>;
    }
  ).bin;
  assert.ok(binary !== undefined && binary in bins, `${binary} is the proxy's bin`);
  assert.equal(subcommand, 'wait');
  const env = kubeletEnv(sidecar.env ?? []);
  assert.deepEqual(parseWaitArgs(args, env), { healthPort: 15021, timeoutSeconds: 60 });
  // The native layout needs no hook: the startup probe holds the app.
  assert.equal(renderSidecar(defaultConfig(), {}, 'native').lifecycle, undefined);
});

test('whatever probes and grace period a pod declares, the proxy accepts the environment rendered for it', () => {
  const port = fc.oneof(
    fc.integer({ min: -1, max: 70000 }),
    fc.constantFrom('http', '8080', 'nope', ''),
  );
  const probe = fc.record(
    {
      handler: fc.oneof(
        fc
          .record({
            path: fc.oneof(fc.string(), fc.constant(undefined)),
            port,
            scheme: fc.constantFrom('HTTP', 'HTTPS', 'http', undefined),
            httpHeaders: fc.array(fc.record({ name: fc.string(), value: fc.string() }), {
              maxLength: 2,
            }),
          })
          .map((httpGet) => ({ httpGet })),
        fc.record({ port }).map((tcpSocket) => ({ tcpSocket })),
      ),
      timeoutSeconds: fc.oneof(
        fc.integer({ min: -2, max: 100 }),
        fc.double(),
        fc.constant(undefined),
      ),
    },
    { requiredKeys: ['handler'] },
  );
  fc.assert(
    fc.property(
      fc.array(probe, { minLength: 1, maxLength: 3 }),
      fc.oneof(fc.integer({ min: -5, max: 2 ** 53 }), fc.constant(undefined)),
      fc.boolean(),
      (probes, grace, native) => {
        const [readinessProbe, livenessProbe, startupProbe] = probes.map(
          ({ handler, timeoutSeconds }) => ({ ...handler, timeoutSeconds }) as V1Probe,
        );
        const pod: V1Pod = {
          metadata: { annotations: { 'sidecar.outrigger.dev/nativeSidecar': String(native) } },
          spec: {
            terminationGracePeriodSeconds: grace,
            containers: [
              {
                name: 'app',
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe,
                livenessProbe,
                startupProbe,
              },
            ],
          },
        };
        const injection = renderInjection(pod, defaultConfig(), readOverrides(pod));
        const proxy = [...injection.initContainers, ...injection.containers].find(
          (c) => c.name === 'outrigger-proxy',
        );
        const config = resolveConfig([], kubeletEnv(proxy?.env ?? []));
        assert.equal(Object.keys(config.appProbes).length, injection.probeRewrites.length);
      },
    ),
    { numRuns: 300 },
  );
});

test('the proxy is told the uid the init rules exempt, and checks its own against it', () => {
  const base = defaultConfig();
  for (const uid of [base.proxy.uid, 2001]) {
    const config = { ...base, proxy: { ...base.proxy, uid } };
    const sidecar = renderSidecar(config, readOverrides({ spec: { containers: [] } }), 'native');
    assert.equal(sidecar.securityContext?.runAsUser, uid);
    assert.equal(resolveConfig([], kubeletEnv(sidecar.env ?? [])).proxyUid, uid);
  }
});

test("the proxy's workload labels come from the pod's controller and labels", () => {
  const cases: Array<[V1Pod['metadata'], { workload: string; app: string; version: string }]> = [
    [
      {
        generateName: 'web-7d9f8c6b5-',
        labels: { app: 'web', version: 'v2', 'pod-template-hash': '7d9f8c6b5' },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: 'web-7d9f8c6b5',
            uid: 'u',
            controller: true,
          },
        ],
      },
      { workload: 'web', app: 'web', version: 'v2' },
    ],
    [
      {
        generateName: 'db-',
        labels: {
          'app.kubernetes.io/name': 'postgres',
          app: 'db',
          'app.kubernetes.io/version': '16',
        },
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 'u', controller: true },
        ],
      },
      { workload: 'db', app: 'postgres', version: '16' },
    ],
    [
      {
        generateName: 'report-28000000-',
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name: 'report-28000000',
            uid: 'u',
            controller: true,
          },
        ],
      },
      { workload: 'report', app: '', version: '' },
    ],
    [{ name: 'debug' }, { workload: 'debug', app: '', version: '' }],
    [{ generateName: 'adhoc-' }, { workload: 'adhoc', app: '', version: '' }],
  ];
  for (const [metadata, expected] of cases) {
    const pod: V1Pod = { metadata, spec: { containers: [{ name: 'app' }] } };
    const injection = renderInjection(pod, defaultConfig(), readOverrides(pod));
    const proxy = [...injection.initContainers, ...injection.containers].find(
      (c) => c.name === 'outrigger-proxy',
    )!;
    const { workload, app, version } = resolveConfig([], kubeletEnv(proxy.env ?? [])).pod;
    assert.deepEqual({ workload, app, version }, expected, JSON.stringify(metadata));
  }
});

test("the metrics merge hands the proxy the app's port and path, and points scraping at the proxy", () => {
  const pod: V1Pod = {
    metadata: {
      annotations: {
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '9102',
        'prometheus.io/path': '/custom/metrics?x=1',
      },
    },
    spec: { containers: [{ name: 'app' }] },
  };
  const injection = renderInjection(pod, defaultConfig(), readOverrides(pod));
  const sidecar = injection.initContainers.find((c) => c.name === 'outrigger-proxy');
  assert.ok(sidecar);
  const config = resolveConfig([], kubeletEnv(sidecar.env ?? []));
  assert.deepEqual(config.appMetrics, { port: 9102, path: '/custom/metrics?x=1' });
  assert.equal(injection.annotations['prometheus.io/port'], String(config.ports.prometheus));
  // Without the merge, the proxy is given nothing to fetch.
  const plain = renderInjection(
    { spec: { containers: [{ name: 'app' }] } },
    defaultConfig(),
    readOverrides({}),
  );
  const plainSidecar = plain.initContainers.find((c) => c.name === 'outrigger-proxy');
  assert.equal(resolveConfig([], kubeletEnv(plainSidecar?.env ?? [])).appMetrics, undefined);
});
