// End to end on a real kube-apiserver: the chart is installed with its webhook
// pointed (by url) at a local `outrigger serve`, which bootstraps its own CA and
// serving certificate in a Secret and writes caBundle through the API, using the
// chart's ServiceAccount and RBAC. Every case below is the apiserver's verdict.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { type CommandResult, freePort, startCluster, type TestCluster } from './harness/cluster.ts';
import {
  missingInjectorBuild,
  type RunningInjector,
  servedFingerprint,
  startInjector,
} from './harness/injector.ts';
import { clusterSuiteBlocker } from './harness/prerequisites.ts';

const chart = fileURLToPath(new URL('../../charts/outrigger', import.meta.url));
const RELEASE = 'outrigger';
const SYSTEM_NS = 'oe2e-system';
const ENABLED_NS = 'oe2e-enabled';
const PLAIN_NS = 'oe2e-plain';
const WEBHOOK_CONFIG = `${RELEASE}-${SYSTEM_NS}`;
const STATUS = 'sidecar.outrigger.dev/status';

interface PodJson {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: { initContainers?: Array<{ name: string }>; containers: Array<{ name: string }> };
}

function containerNames(pod: PodJson): string[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.name);
}

function isInjected(pod: PodJson): boolean {
  const names = containerNames(pod);
  return (
    names.includes('outrigger-init') &&
    names.includes('outrigger-proxy') &&
    STATUS in (pod.metadata.annotations ?? {})
  );
}

function podManifest(
  name: string,
  namespace: string,
  extra: {
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    hostNetwork?: boolean;
  } = {},
): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      annotations: extra.annotations ?? {},
      labels: { app: 'e2e', ...extra.labels },
    },
    spec: {
      ...(extra.hostNetwork ? { hostNetwork: true } : {}),
      containers: [
        { name: 'app', image: 'registry.k8s.io/pause:3.10', ports: [{ containerPort: 8080 }] },
      ],
    },
  });
}

describe('outrigger on a real kube-apiserver', { concurrency: false, timeout: 15 * 60_000 }, () => {
  const blocker = clusterSuiteBlocker() ?? missingInjectorBuild();
  let cluster: TestCluster;
  let injector: RunningInjector | undefined;
  let injectorPort = 0;
  let injectorArgs: string[] = [];
  let logFile = '';

  const kubectl = (args: string[], input?: string) => cluster.kubectl(args, input);
  const ok = (result: CommandResult, what: string) => {
    assert.equal(result.code, 0, `${what} failed:\n${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  const createPod = (manifest: string) => kubectl(['create', '-o', 'json', '-f', '-'], manifest);
  const createdPod = async (manifest: string): Promise<PodJson> =>
    JSON.parse(ok(await createPod(manifest), 'kubectl create pod')) as PodJson;
  const caBundle = async () =>
    (
      await kubectl([
        'get',
        'mutatingwebhookconfiguration',
        WEBHOOK_CONFIG,
        '-o',
        'jsonpath={.webhooks[0].clientConfig.caBundle}',
      ])
    ).stdout;

  async function runInjector(extra: string[] = []): Promise<void> {
    injector = await startInjector({
      port: injectorPort,
      args: [...injectorArgs, ...extra],
      logFile,
    });
  }

  /** Waits until the webhook answers through the apiserver (caBundle written, TLS trusted). */
  async function waitForInjection(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (let i = 0; ; i++) {
      const probe = await kubectl(
        ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
        podManifest(`probe-${i}`, ENABLED_NS),
      );
      if (probe.code === 0 && isInjected(JSON.parse(probe.stdout) as PodJson)) return;
      if (Date.now() > deadline)
        assert.fail(`webhook never injected: ${probe.stderr}\n${readFileSync(logFile, 'utf8')}`);
      await sleep(500);
    }
  }

  before(async () => {
    if (blocker) return;
    cluster = await startCluster();
    logFile = join(cluster.dir, 'injector.log');
    injectorPort = await freePort();
    for (const ns of [SYSTEM_NS, ENABLED_NS, PLAIN_NS])
      ok(await kubectl(['create', 'namespace', ns]), `create ${ns}`);
    ok(await kubectl(['label', 'namespace', ENABLED_NS, 'outrigger-injection=enabled']), 'label');
    // Labelled too, to prove the webhook's own exclusion rather than the missing label.
    ok(
      await kubectl(['label', 'namespace', 'kube-system', 'outrigger-injection=enabled']),
      'label kube-system',
    );
    // No controller-manager runs, so nothing creates the ServiceAccount admission expects.
    for (const ns of [ENABLED_NS, PLAIN_NS, 'kube-system']) {
      await kubectl(['create', 'serviceaccount', 'default', '-n', ns]);
    }

    ok(
      await cluster.helm([
        'install',
        RELEASE,
        chart,
        '-n',
        SYSTEM_NS,
        '--set',
        'replicaCount=0',
        '--set',
        `webhook.url=https://127.0.0.1:${injectorPort}/inject`,
        '--set',
        'certs.ipAddresses={127.0.0.1}',
        '--set',
        'webhook.timeoutSeconds=5',
        '--set',
        'certs.recheckIntervalSeconds=1',
      ]),
      'helm install',
    );
    assert.equal(await caBundle(), '', 'the chart renders no caBundle');

    // The injector runs with the chart's ServiceAccount: its RBAC is what is tested.
    const token = ok(
      await kubectl(['create', 'token', RELEASE, '-n', SYSTEM_NS, '--duration=2h']),
      'create token',
    ).trim();
    const kubeconfig = cluster.tokenKubeconfig('injector', token);
    const configMap = JSON.parse(
      ok(await kubectl(['get', 'configmap', RELEASE, '-n', SYSTEM_NS, '-o', 'json']), 'cm'),
    );
    const configPath = join(cluster.dir, 'config.yaml');
    writeFileSync(configPath, configMap.data['config.yaml']);
    // The Deployment's own arguments, so the chart and the CLI are proven to agree;
    // only what differs outside a pod is replaced (config path, listen port, credentials).
    const deployment = JSON.parse(
      ok(
        await kubectl(['get', 'deployment', RELEASE, '-n', SYSTEM_NS, '-o', 'json']),
        'get deployment',
      ),
    );
    const chartArgs: string[] = deployment.spec.template.spec.containers[0].args;
    assert.equal(chartArgs[0], 'serve');
    injectorArgs = [
      ...chartArgs
        .slice(1)
        .filter((arg) => !arg.startsWith('--config=') && !arg.startsWith('--port='))
        .map((arg) => arg.replace('$(POD_NAMESPACE)', SYSTEM_NS)),
      `--config=${configPath}`,
      `--kubeconfig=${kubeconfig}`,
    ];
    assert.ok(injectorArgs.includes('--certs-mode=auto'));
    assert.ok(injectorArgs.includes('--cert-ips=127.0.0.1'));
    await runInjector();
    await waitForInjection();
  });

  after(async () => {
    await injector?.stop();
    await cluster?.stop();
  });

  it('bootstraps its CA into a Secret and caBundle through the API', async (t) => {
    if (blocker) return t.skip(blocker);
    const secret = JSON.parse(
      ok(
        await kubectl(['get', 'secret', `${RELEASE}-tls`, '-n', SYSTEM_NS, '-o', 'json']),
        'get secret',
      ),
    );
    assert.equal(secret.type, 'kubernetes.io/tls');
    const pem = (base64: string) => Buffer.from(base64, 'base64').toString().trim();
    assert.equal(pem(await caBundle()), pem(secret.data['ca.crt']));
    // The chart's Role lets it record what it did, visible in `kubectl describe secret`.
    const events = await kubectl([
      'get',
      'events',
      '-n',
      SYSTEM_NS,
      `--field-selector=involvedObject.name=${RELEASE}-tls`,
      '-o',
      'jsonpath={.items[*].reason}',
    ]);
    assert.match(ok(events, 'get events'), /CertificateCreated/);
    assert.match(events.stdout, /CABundleWritten/);
  });

  it('injects a pod in a labelled namespace with init container, proxy and status annotation', async (t) => {
    if (blocker) return t.skip(blocker);
    const pod = await createdPod(podManifest('injected', ENABLED_NS));
    assert.ok(isInjected(pod), `not injected: ${containerNames(pod)}`);
    const status = JSON.parse(pod.metadata.annotations?.[STATUS] ?? '{}');
    assert.ok(JSON.stringify(status).includes('outrigger-proxy'), 'status lists the proxy');
    // What the apiserver stored, not just what it answered.
    const stored = JSON.parse(
      ok(await kubectl(['get', 'pod', 'injected', '-n', ENABLED_NS, '-o', 'json']), 'get'),
    );
    assert.ok(isInjected(stored));
  });

  it('leaves alone: annotation opt-out, label opt-out, unlabelled namespace, kube-system, hostNetwork', async (t) => {
    if (blocker) return t.skip(blocker);
    const untouched = [
      podManifest('opt-out-annotation', ENABLED_NS, {
        annotations: { 'sidecar.outrigger.dev/inject': 'false' },
      }),
      podManifest('opt-out-label', ENABLED_NS, {
        labels: { 'sidecar.outrigger.dev/inject': 'false' },
      }),
      podManifest('plain-namespace', PLAIN_NS),
      podManifest('system-namespace', 'kube-system'),
      podManifest('host-network', ENABLED_NS, { hostNetwork: true }),
    ];
    for (const manifest of untouched) {
      const pod = await createdPod(manifest);
      assert.deepEqual(containerNames(pod), ['app'], `${pod.metadata.name} was changed`);
      assert.equal(
        pod.metadata.annotations?.[STATUS],
        undefined,
        `${pod.metadata.name} has a status`,
      );
    }
  });

  it('refuses a pod with a bad override annotation, naming the annotation', async (t) => {
    if (blocker) return t.skip(blocker);
    const result = await createPod(
      podManifest('bad-override', ENABLED_NS, {
        annotations: { 'traffic.sidecar.outrigger.dev/excludeInboundPorts': 'http' },
      }),
    );
    assert.notEqual(result.code, 0, 'creation must be refused');
    assert.match(result.stderr, /traffic\.sidecar\.outrigger\.dev\/excludeInboundPorts/);
    assert.match(result.stderr, /"http"/);
    const stored = await kubectl(['get', 'pod', 'bad-override', '-n', ENABLED_NS]);
    assert.notEqual(stored.code, 0, 'nothing was stored');
  });

  it('kubectl apply --dry-run=server shows the injection and stores nothing', async (t) => {
    if (blocker) return t.skip(blocker);
    const result = await kubectl(
      ['apply', '--dry-run=server', '-o', 'json', '-f', '-'],
      podManifest('dry-run', ENABLED_NS),
    );
    assert.ok(isInjected(JSON.parse(ok(result, 'apply --dry-run=server')) as PodJson));
    assert.notEqual((await kubectl(['get', 'pod', 'dry-run', '-n', ENABLED_NS])).code, 0);
  });

  it('does not inject twice a pod that already carries the status annotation', async (t) => {
    if (blocker) return t.skip(blocker);
    const pod = await createdPod(
      podManifest('already-injected', ENABLED_NS, {
        annotations: { [STATUS]: '{"containers":["outrigger-proxy"]}' },
      }),
    );
    assert.deepEqual(containerNames(pod), ['app']);
  });

  it('every injected variant passes the apiserver validation', async (t) => {
    if (blocker) return t.skip(blocker);
    const variants: Record<string, string>[] = [
      { 'sidecar.outrigger.dev/nativeSidecar': 'false' },
      {
        'sidecar.outrigger.dev/proxyCPU': '250m',
        'sidecar.outrigger.dev/proxyMemory': '96Mi',
        'sidecar.outrigger.dev/proxyCPULimit': '1',
        'sidecar.outrigger.dev/proxyMemoryLimit': '512Mi',
        'sidecar.outrigger.dev/logLevel': 'debug',
      },
      {
        'traffic.sidecar.outrigger.dev/includeInboundPorts': '8080,9090',
        'traffic.sidecar.outrigger.dev/excludeOutboundIPRanges': '192.0.2.0/24,2001:db8::/32',
        'traffic.sidecar.outrigger.dev/excludeOutboundPorts': '5432',
        'sidecar.outrigger.dev/accessLog': 'true',
        'sidecar.outrigger.dev/forwardPodIdentity': 'true',
        'sidecar.outrigger.dev/addRequestHeaders': 'x-env: e2e, x-team: mesh',
      },
      { 'sidecar.outrigger.dev/inject': 'true' },
    ];
    for (const [index, annotations] of variants.entries()) {
      const pod = await createdPod(podManifest(`variant-${index}`, ENABLED_NS, { annotations }));
      assert.ok(isInjected(pod), `variant ${index} not injected`);
    }
  });

  it("the apiserver takes the probe rewrite and the classic layout's order", async (t) => {
    if (blocker) return t.skip(blocker);
    for (const native of [true, false]) {
      const manifest = JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `probed-${native ? 'native' : 'classic'}`,
          namespace: ENABLED_NS,
          annotations: { 'sidecar.outrigger.dev/nativeSidecar': String(native) },
        },
        spec: {
          terminationGracePeriodSeconds: 45,
          containers: [
            {
              name: 'app',
              image: 'registry.k8s.io/pause:3.10',
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 3 },
              livenessProbe: { tcpSocket: { port: 8080 } },
              startupProbe: { exec: { command: ['true'] } },
            },
          ],
        },
      });
      const pod = (await createdPod(manifest)) as unknown as {
        metadata: { annotations: Record<string, string> };
        spec: {
          initContainers?: Array<{ name: string; env?: Array<{ name: string; value?: string }> }>;
          containers: Array<{
            name: string;
            readinessProbe?: { httpGet?: { path: string; port: number }; periodSeconds?: number };
            livenessProbe?: { httpGet?: { path: string; port: number }; tcpSocket?: unknown };
            startupProbe?: { exec?: unknown };
            lifecycle?: { postStart?: { exec?: { command: string[] } } };
            env?: Array<{ name: string; value?: string }>;
          }>;
        };
      };
      const app = pod.spec.containers.find((c) => c.name === 'app');
      assert.deepEqual(app?.readinessProbe?.httpGet, {
        path: '/app-health/app/readyz',
        port: 15021,
        scheme: 'HTTP',
      });
      assert.equal(app?.readinessProbe?.periodSeconds, 3);
      assert.equal(app?.livenessProbe?.httpGet?.path, '/app-health/app/livez');
      assert.equal(app?.livenessProbe?.tcpSocket, undefined);
      assert.ok(app?.startupProbe?.exec, 'exec probes stay');
      const proxy = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].find(
        (c) => c.name === 'outrigger-proxy',
      );
      const env = Object.fromEntries((proxy?.env ?? []).map((e) => [e.name, e.value]));
      assert.match(env.OUTRIGGER_APP_PROBES ?? '', /"\/app-health\/app\/readyz"/);
      assert.equal(env.OUTRIGGER_DRAIN_TIMEOUT_MS, native ? '1000' : '43000');
      if (!native) {
        assert.equal(pod.spec.containers[0]?.name, 'outrigger-proxy');
        assert.deepEqual(pod.spec.containers[0]?.lifecycle?.postStart?.exec?.command?.slice(0, 2), [
          'outrigger-proxy',
          'wait',
        ]);
        assert.equal(pod.metadata.annotations['kubectl.kubernetes.io/default-container'], 'app');
      }
    }
  });

  it('helm test command proves injection with a server-side dry run', async (t) => {
    if (blocker) return t.skip(blocker);
    // Run the test pod's own kubectl arguments here (no kubelet runs in this cluster).
    const manifest = ok(
      await cluster.helm(['get', 'hooks', RELEASE, '-n', SYSTEM_NS]),
      'helm get hooks',
    );
    const testPod = parseAllDocuments(manifest)
      .map(
        (doc) =>
          doc.toJS() as {
            kind?: string;
            metadata?: { namespace?: string };
            spec?: { containers: Array<{ args: string[] }> };
          },
      )
      .find((doc) => doc?.kind === 'Pod');
    const args = testPod?.spec?.containers[0]?.args;
    assert.ok(args, 'chart has a test pod');
    const testNamespace = args
      .find((arg) => arg.startsWith('--namespace='))
      ?.slice('--namespace='.length);
    assert.ok(testNamespace);
    ok(await kubectl(['create', 'namespace', testNamespace]), 'create test namespace');
    ok(
      await kubectl(['label', 'namespace', testNamespace, 'outrigger-injection=enabled']),
      'label test namespace',
    );
    await kubectl(['create', 'serviceaccount', 'default', '-n', testNamespace]);
    const result = await kubectl(args);
    assert.ok(ok(result, 'helm test command').includes('outrigger-proxy'), result.stdout);
    // And it fails where nothing is injected.
    const plainArgs = args.map((arg) =>
      arg === `--namespace=${testNamespace}` ? `--namespace=${PLAIN_NS}` : arg,
    );
    assert.notEqual((await kubectl(plainArgs)).code, 0);
    await kubectl(['delete', 'namespace', testNamespace, '--wait=false']);
  });

  it('rotates the leaf during a stream of pod creations without failing one', async (t) => {
    if (blocker) return t.skip(blocker);
    await injector?.stop();
    // A leaf this short is always due: the injector renews it at every 1 s re-check.
    await runInjector(['--cert-leaf-validity-days=0.0005']);
    await waitForInjection();
    const fingerprints = new Set<string>();
    const failures: string[] = [];
    for (let i = 0; i < 24; i++) {
      fingerprints.add(await servedFingerprint(injectorPort));
      const result = await createPod(podManifest(`stream-${i}`, ENABLED_NS));
      if (result.code !== 0) failures.push(result.stderr);
      else if (!isInjected(JSON.parse(result.stdout) as PodJson))
        failures.push(`stream-${i} not injected`);
      await sleep(250);
    }
    assert.deepEqual(failures, []);
    assert.ok(
      fingerprints.size >= 2,
      `the served leaf changed during the stream (${fingerprints.size} seen)`,
    );
    await injector?.stop();
    await runInjector();
    await waitForInjection();
  });

  /** helm upgrade with only webhook.failurePolicy changed. */
  const setFailurePolicy = async (policy: 'Fail' | 'Ignore') =>
    ok(
      await cluster.helm([
        'upgrade',
        RELEASE,
        chart,
        '-n',
        SYSTEM_NS,
        '--reuse-values',
        '--set',
        `webhook.failurePolicy=${policy}`,
      ]),
      `helm upgrade to failurePolicy ${policy}`,
    );

  it('with the injector stopped: Fail refuses with a clear message, Ignore admits uninjected', async (t) => {
    if (blocker) return t.skip(blocker);
    await injector?.stop();
    const refused = await createPod(podManifest('while-down-fail', ENABLED_NS));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /failed calling webhook "inject\.sidecar\.outrigger\.dev"/);

    const bundleBefore = await caBundle();
    await setFailurePolicy('Ignore');
    // The injector is down, so only the chart could have touched caBundle: it must not have.
    assert.notEqual(bundleBefore, '');
    assert.equal(await caBundle(), bundleBefore, 'helm upgrade kept caBundle');
    const admitted = await createdPod(podManifest('while-down-ignore', ENABLED_NS));
    assert.deepEqual(containerNames(admitted), ['app']);

    await setFailurePolicy('Fail');
    assert.equal(await caBundle(), bundleBefore);
    await runInjector();
    await waitForInjection();
  });

  it('helm uninstall removes the webhook configuration', async (t) => {
    if (blocker) return t.skip(blocker);
    ok(await cluster.helm(['uninstall', RELEASE, '-n', SYSTEM_NS]), 'helm uninstall');
    const gone = await kubectl(['get', 'mutatingwebhookconfiguration', WEBHOOK_CONFIG]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NotFound/);
    // Pods are admitted again, untouched, with no webhook left behind.
    const pod = await createdPod(podManifest('after-uninstall', ENABLED_NS));
    assert.deepEqual(containerNames(pod), ['app']);
    // The config file helm rendered is still valid YAML the injector loaded.
    assert.ok(parseYaml(readFileSync(join(cluster.dir, 'config.yaml'), 'utf8')) !== undefined);
  });
});
