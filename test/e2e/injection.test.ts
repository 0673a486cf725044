// End to end on a real kube-apiserver: the chart is installed with its webhook
// pointed (by url) at a local `outrigger serve`, which bootstraps its own CA and
// serving certificate in a Secret and writes caBundle through the API, using the
// chart's ServiceAccount and RBAC. Every case below is the apiserver's verdict.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { METRICS_PATH, MONITORING_PORT } from '../../src/shared/contract.ts';
import { skipUnless } from '../support/prerequisites.ts';
import { type CommandResult, freePort, startCluster, type TestCluster } from './harness/cluster.ts';
import {
  type RunningInjector,
  runOutrigger,
  servedFingerprint,
  startInjector,
} from './harness/injector.ts';

const chart = fileURLToPath(new URL('../../charts/outrigger', import.meta.url));
const RELEASE = 'outrigger';
const SYSTEM_NS = 'oe2e-system';
const ENABLED_NS = 'oe2e-enabled';
const PLAIN_NS = 'oe2e-plain';
/** Labelled outrigger-injection=disabled: not even a pod's own opt-in label injects there. */
const DISABLED_NS = 'oe2e-disabled';
const BASELINE_NS = 'oe2e-baseline';
const RESTRICTED_NS = 'oe2e-restricted';
/** The chart's test namespace (test-namespace.yaml) and the helm test's ServiceAccount. */
const TEST_NS = `${RELEASE}-injection-test`;
const TEST_ACCOUNT = `${RELEASE}-test`;
const WEBHOOK_CONFIG = `${RELEASE}-${SYSTEM_NS}`;
const STATUS = 'sidecar.outrigger.dev/status';
/** Where the umbrella chart installs its outrigger subchart, and the registry its global values name. */
const UMBRELLA_NS = 'oe2e-umbrella';
const MIRROR = 'registry.example.test/mirror';

interface PodJson {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec: {
    initContainers?: Array<{ name: string; image: string }>;
    containers: Array<{ name: string; image: string; args?: string[] }>;
    serviceAccountName?: string;
  };
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

const skip = skipUnless('go', 'controlPlaneTools', 'build');

describe('outrigger on a real kube-apiserver', {
  concurrency: false,
  timeout: 15 * 60_000,
  skip,
}, () => {
  let cluster: TestCluster;
  let injector: RunningInjector | undefined;
  let injectorPort = 0;
  let monitoringPort = 0;
  let injectorArgs: string[] = [];
  let logFile = '';

  const kubectl = (args: string[], input?: string) => cluster.kubectl(args, input);
  /** helm upgrade of the release with its current values and one more. */
  const upgradeReusingValues = (set: string) =>
    cluster.helm(['upgrade', RELEASE, chart, '-n', SYSTEM_NS, '--reuse-values', '--set', set]);
  const ok = (result: CommandResult, what: string) => {
    assert.equal(result.code, 0, `${what} failed:\n${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  const createPod = (manifest: string) => kubectl(['create', '-o', 'json', '-f', '-'], manifest);
  const createdPod = async (manifest: string): Promise<PodJson> =>
    JSON.parse(ok(await createPod(manifest), 'kubectl create pod')) as PodJson;
  /** caBundle of every webhook entry, in order. */
  const caBundles = async (): Promise<string[]> => {
    const result = await kubectl([
      'get',
      'mutatingwebhookconfiguration',
      WEBHOOK_CONFIG,
      '-o',
      'json',
    ]);
    const config = JSON.parse(ok(result, 'get webhook configuration')) as {
      webhooks: Array<{ clientConfig: { caBundle?: string } }>;
    };
    return config.webhooks.map((w) => w.clientConfig.caBundle ?? '');
  };

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
    cluster = await startCluster();
    logFile = join(cluster.dir, 'injector.log');
    injectorPort = await freePort();
    monitoringPort = await freePort();
    for (const ns of [SYSTEM_NS, ENABLED_NS, PLAIN_NS, DISABLED_NS, BASELINE_NS, RESTRICTED_NS])
      ok(await kubectl(['create', 'namespace', ns]), `create ${ns}`);
    ok(await kubectl(['label', 'namespace', ENABLED_NS, 'outrigger-injection=enabled']), 'label');
    ok(
      await kubectl(['label', 'namespace', DISABLED_NS, 'outrigger-injection=disabled']),
      'label disabled',
    );
    for (const [ns, level] of [
      [BASELINE_NS, 'baseline'],
      [RESTRICTED_NS, 'restricted'],
    ] as const) {
      ok(
        await kubectl([
          'label',
          'namespace',
          ns,
          'outrigger-injection=enabled',
          `pod-security.kubernetes.io/enforce=${level}`,
        ]),
        `label ${ns}`,
      );
    }
    // Labelled too, to prove the webhook's own exclusion rather than the missing label.
    ok(
      await kubectl(['label', 'namespace', 'kube-system', 'outrigger-injection=enabled']),
      'label kube-system',
    );
    // No controller-manager runs, so nothing creates the ServiceAccount admission expects.
    for (const ns of [
      ENABLED_NS,
      PLAIN_NS,
      DISABLED_NS,
      BASELINE_NS,
      RESTRICTED_NS,
      'kube-system',
    ]) {
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
        // No controller-manager runs Jobs here; the hook's check is proven in test/charts.
        '--set',
        'configValidation.enabled=false',
      ]),
      'helm install',
    );
    const entries = await caBundles();
    assert.equal(
      entries.length,
      6,
      'one entry for /inject and one per Pod Security level, twice: namespace and pod opt-in',
    );
    assert.deepEqual(entries, ['', '', '', '', '', ''], 'the chart renders no caBundle');
    // The chart's test namespace: created by the chart, its ServiceAccount by hand
    // (no controller-manager runs here).
    ok(await kubectl(['create', 'serviceaccount', 'default', '-n', TEST_NS]), 'test namespace SA');

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
    assert.ok(chartArgs.includes(`--monitoring-port=${MONITORING_PORT}`));
    injectorArgs = [
      ...chartArgs
        .slice(1)
        .filter((arg) => !/^--(config|port|monitoring-port)=/.test(arg))
        .map((arg) => arg.replace('$(POD_NAMESPACE)', SYSTEM_NS)),
      `--config=${configPath}`,
      `--kubeconfig=${kubeconfig}`,
      `--monitoring-port=${monitoringPort}`,
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

  it('bootstraps its CA into a Secret and caBundle through the API', async () => {
    const secret = JSON.parse(
      ok(
        await kubectl(['get', 'secret', `${RELEASE}-tls`, '-n', SYSTEM_NS, '-o', 'json']),
        'get secret',
      ),
    );
    assert.equal(secret.type, 'kubernetes.io/tls');
    const pem = (base64: string) => Buffer.from(base64, 'base64').toString().trim();
    // Every entry, the Pod Security ones included, trusts the CA.
    for (const bundle of await caBundles()) assert.equal(pem(bundle), pem(secret.data['ca.crt']));
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

  it('injects a pod in a labelled namespace with init container, proxy and status annotation', async () => {
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

  it('leaves alone: annotation opt-out, label opt-out, unlabelled namespace, kube-system, hostNetwork', async () => {
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

  it('injects a pod labelled sidecar.outrigger.dev/inject=true in a namespace without the label', async () => {
    const pod = await createdPod(
      podManifest('opt-in-label', PLAIN_NS, { labels: { 'sidecar.outrigger.dev/inject': 'true' } }),
    );
    assert.ok(isInjected(pod), `not injected: ${containerNames(pod)}`);
    // The annotation cannot opt in there: the apiserver's objectSelector sees labels only.
    const annotated = await createdPod(
      podManifest('opt-in-annotation', PLAIN_NS, {
        annotations: { 'sidecar.outrigger.dev/inject': 'true' },
      }),
    );
    assert.deepEqual(containerNames(annotated), ['app']);
  });

  it('check in live mode reads the namespace, the webhook selectors and the pod, and says which filter decides', async () => {
    const check = (...args: string[]) =>
      runOutrigger(['check', ...args, `--kubeconfig=${cluster.kubeconfig}`]);
    // Created by the earlier cases; stored as the apiserver admitted them.
    const injected = await check('pod/injected', '-n', ENABLED_NS);
    assert.equal(injected.code, 0, injected.stderr + injected.stdout);
    assert.match(injected.stdout, /pod\/injected \(namespace oe2e-enabled\): would be injected/);
    assert.match(
      injected.stdout,
      /decided by: the injector \(sent by entry inject\.sidecar\.outrigger\.dev of outrigger-oe2e-system\)/,
    );
    assert.match(injected.stdout, /now: runs injected \(injector version /);

    const byObject = await check('pod/opt-out-label', '-n', ENABLED_NS, '--json');
    assert.equal(byObject.code, 3, byObject.stderr);
    const [objectResult] = JSON.parse(byObject.stdout) as Array<{
      reason: string;
      live: { decidedBy: string; current: string };
    }>;
    assert.equal(objectResult?.reason, 'excluded_by_object_selector');
    assert.equal(objectResult?.live.decidedBy, 'apiserver');
    assert.equal(objectResult?.live.current, 'runs without the sidecar');

    // A namespace without the label: only the per-pod opt-in entry selects it, and the pod does not opt in.
    const unlabelled = await check('pod/plain-namespace', '-n', PLAIN_NS);
    assert.equal(unlabelled.code, 3);
    assert.match(
      unlabelled.stdout,
      /optin\.inject\.sidecar\.outrigger\.dev wants \{"matchLabels":\{"sidecar\.outrigger\.dev\/inject":"true"\}\} \[excluded_by_object_selector\]/,
    );
    assert.match(unlabelled.stdout, /the injector alone would say: skip \[namespace_not_enabled\]/);
    const system = await check('pod/system-namespace', '-n', 'kube-system');
    assert.equal(system.code, 3);
    assert.match(
      system.stdout,
      /namespace kube-system is excluded by the webhook configuration \[excluded_by_namespace_selector\]/,
    );

    // A workload's template, and pods by label selector; another mutating webhook is named.
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ENABLED_NS },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] },
        },
      },
    };
    ok(await kubectl(['create', '-f', '-'], JSON.stringify(deployment)), 'create deployment');
    const other = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'e2e-other-mutator' },
      webhooks: [
        {
          name: 'labels.other.example.com',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Ignore',
          clientConfig: { url: 'https://127.0.0.1:1/mutate' },
          // Selects nothing a real creation makes, so no other case waits on it.
          objectSelector: { matchLabels: { 'e2e-other': 'yes' } },
          rules: [
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE'],
              resources: ['pods'],
            },
          ],
        },
      ],
    };
    ok(await kubectl(['create', '-f', '-'], JSON.stringify(other)), 'create other webhook');
    try {
      const workload = await check('deploy/web', '-n', ENABLED_NS);
      assert.equal(workload.code, 0, workload.stderr + workload.stdout);
      assert.match(
        workload.stdout,
        /deployment\/web \(namespace oe2e-enabled\): would be injected/,
      );
      assert.match(workload.stdout, /other mutating webhooks on pod creation: none/);
      const labelled = await check('-l', 'app=e2e', '-n', PLAIN_NS);
      assert.equal(labelled.code, 3);
      assert.match(
        labelled.stdout,
        /pod\/opt-in-label \(namespace oe2e-plain\): would be injected/,
      );
      assert.match(labelled.stdout, /sent by entry optin\.inject\.sidecar\.outrigger\.dev/);
      assert.match(labelled.stdout, /pod\/opt-in-annotation .*excluded_by_object_selector/);
      ok(
        await kubectl(['label', 'pod', 'injected', '-n', ENABLED_NS, 'e2e-other=yes']),
        'label pod',
      );
      const withOther = await check('pod/injected', '-n', ENABLED_NS);
      assert.match(
        withOther.stdout,
        /other mutating webhooks on pod creation: e2e-other-mutator\/labels\.other\.example\.com/,
      );
    } finally {
      await kubectl(['delete', 'mutatingwebhookconfiguration', 'e2e-other-mutator']);
    }
    const missing = await check('pod/nope', '-n', ENABLED_NS);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /cannot read pod\/nope in namespace oe2e-enabled: .*\[OUTRIGGER_CLUSTER_REQUEST_FAILED\]/,
    );
  });

  it('a policy annotation is admitted with its volume, refused when malformed, and check says whether its ConfigMap exists and validates', async () => {
    const check = (...args: string[]) =>
      runOutrigger(['check', ...args, '-n', ENABLED_NS, `--kubeconfig=${cluster.kubeconfig}`]);
    const policyMap = (name: string, policy: string) =>
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace: ENABLED_NS },
        data: { 'policy.yaml': policy },
      });
    const head = 'apiVersion: outrigger.dev/v1alpha1\nkind: TrafficPolicy\n';
    ok(
      await kubectl(
        ['create', '-f', '-'],
        policyMap('e2e-good-policy', `${head}outbound: {mode: blockAll}\n`),
      ),
      'create good policy',
    );
    ok(
      await kubectl(
        ['create', '-f', '-'],
        policyMap('e2e-bad-policy', `${head}outbound: {mode: blockEverything}\n`),
      ),
      'create bad policy',
    );

    // The apiserver validates the volume and the mount injection adds, and stores them.
    const named = await createdPod(
      podManifest('policy-good', ENABLED_NS, {
        annotations: { 'sidecar.outrigger.dev/policy': 'e2e-good-policy' },
      }),
    );
    const stored = named as PodJson & {
      spec: { volumes?: Array<{ name: string; configMap?: { name: string; optional?: boolean } }> };
    };
    assert.ok(isInjected(named));
    assert.deepEqual(stored.spec.volumes?.find((v) => v.name === 'outrigger-policy')?.configMap, {
      name: 'e2e-good-policy',
      items: [{ key: 'policy.yaml', path: 'policy.yaml' }],
      optional: false,
      defaultMode: 420,
    });
    for (const [pod, policy] of [
      ['policy-bad', 'e2e-bad-policy'],
      ['policy-missing', 'e2e-no-such-policy'],
    ] as const) {
      await createdPod(
        podManifest(pod, ENABLED_NS, { annotations: { 'sidecar.outrigger.dev/policy': policy } }),
      );
    }
    const refused = await createPod(
      podManifest('policy-malformed', ENABLED_NS, {
        annotations: { 'sidecar.outrigger.dev/policy': 'Not_A_Name' },
      }),
    );
    assert.notEqual(refused.code, 0);
    assert.match(
      refused.stderr,
      /annotation sidecar\.outrigger\.dev\/policy: invalid value "Not_A_Name": expected a ConfigMap name/,
    );

    const good = await check('pod/policy-good');
    assert.equal(good.code, 0, good.stderr + good.stdout);
    assert.match(
      good.stdout,
      /policy: ConfigMap e2e-good-policy \(named by the pod’s sidecar\.outrigger\.dev\/policy annotation\): valid \(outbound blockAll, 0 allow entries/,
    );
    assert.match(
      good.stdout,
      /now: runs injected \(injector version \S+, policy ConfigMap e2e-good-policy\)/,
    );
    const bad = await check('pod/policy-bad');
    assert.equal(bad.code, 5, bad.stderr + bad.stdout);
    assert.match(bad.stdout, /policy: ConfigMap e2e-bad-policy .*: INVALID/);
    assert.match(
      bad.stdout,
      /\/outbound\/mode: expected one of allowAny, blockAll \(got "blockEverything"\)/,
    );
    const missing = await check('pod/policy-missing', '--json');
    assert.equal(missing.code, 5, missing.stderr);
    const [result] = JSON.parse(missing.stdout) as Array<{ policy: { found: { state: string } } }>;
    assert.equal(result?.policy.found.state, 'missing');

    // A namespace default from the configuration check is given; the pod that names none gets it.
    const config = join(cluster.dir, 'policy-config.yaml');
    writeFileSync(config, `policy: {namespaces: {${ENABLED_NS}: e2e-good-policy}}\n`);
    const defaulted = await check('pod/injected', `--config=${config}`);
    assert.equal(defaulted.code, 0, defaulted.stderr + defaulted.stdout);
    assert.match(
      defaulted.stdout,
      /policy: ConfigMap e2e-good-policy \(the injection configuration’s policy\.namespaces entry for the pod’s namespace\): valid/,
    );
    for (const pod of ['policy-good', 'policy-bad', 'policy-missing']) {
      await kubectl(['delete', 'pod', pod, '-n', ENABLED_NS, '--wait=false']);
    }
  });

  it('version and proxy-status read the injected pods from the apiserver', async () => {
    const version = await runOutrigger(['version', `--kubeconfig=${cluster.kubeconfig}`]);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^client: outrigger \S+$/m);
    // The webhook here calls a url, so there is no in-cluster Deployment to name.
    assert.match(version.stdout, /^proxy: \S+proxy\S* \(injector \S+\) in \d+ pods?$/m);
    const status = await runOutrigger([
      'proxy-status',
      '-n',
      ENABLED_NS,
      `--kubeconfig=${cluster.kubeconfig}`,
      '--json',
    ]);
    assert.equal(status.code, 0, status.stderr);
    const { pods } = JSON.parse(status.stdout) as { pods: Array<{ pod: string; restart: string }> };
    const row = pods.find((p) => p.pod === 'injected');
    assert.equal(
      row?.restart,
      `kubectl delete pod injected -n ${ENABLED_NS} (then create it again)`,
    );
    assert.ok(!pods.some((p) => p.pod === 'opt-out-label'), 'an uninjected pod is listed');
  });

  it('warns about an unknown sidecar.outrigger.dev key and still injects the pod', async () => {
    const result = await createPod(
      podManifest('unknown-key', ENABLED_NS, {
        annotations: { 'sidecar.outrigger.dev/fromTheFuture': 'yes' },
      }),
    );
    assert.ok(isInjected(JSON.parse(ok(result, 'create')) as PodJson));
    assert.match(
      result.stderr,
      /Warning: annotation sidecar\.outrigger\.dev\/fromTheFuture is not one/,
    );
  });

  it('helm upgrade with a bad CIDR fails before anything changes, and injection keeps working', async () => {
    const before = ok(
      await kubectl(['get', 'configmap', RELEASE, '-n', SYSTEM_NS, '-o', 'jsonpath={.data}']),
      'get configmap',
    );
    const upgrade = await upgradeReusingValues(
      'injection.interception.excludeOutboundIPRanges={10.0.0.0/33}',
    );
    assert.notEqual(upgrade.code, 0, 'the upgrade was accepted');
    assert.match(upgrade.stderr, /excludeOutboundIPRanges\/0/);
    const after = ok(
      await kubectl(['get', 'configmap', RELEASE, '-n', SYSTEM_NS, '-o', 'jsonpath={.data}']),
      'get configmap',
    );
    assert.equal(after, before, 'the ConfigMap changed');
    const revisions = ok(
      await cluster.helm(['history', RELEASE, '-n', SYSTEM_NS, '-o', 'json']),
      'helm history',
    );
    assert.ok(
      (JSON.parse(revisions) as Array<{ status: string }>).every((r) => r.status !== 'failed'),
      'a failed revision was recorded',
    );
    const pod = await createdPod(podManifest('after-bad-upgrade', ENABLED_NS));
    assert.ok(isInjected(pod), 'injection stopped');
  });

  it("serves the injector's metrics in plain HTTP on the monitoring port, counting the apiserver's reviews", async () => {
    const scrape = async () => {
      const response = await fetch(`http://127.0.0.1:${monitoringPort}${METRICS_PATH}`);
      assert.equal(response.status, 200);
      return response.text();
    };
    const injected = (text: string) =>
      Number(
        /^outrigger_admissions_total\{decision="injected",reason="default_inject"\} (\d+)$/m.exec(
          text,
        )?.[1] ?? 0,
      );
    const before = await scrape();
    await createdPod(podManifest('scraped', ENABLED_NS));
    const after = await scrape();
    assert.equal(injected(after), injected(before) + 1, after);
    // Certificate mode auto: the lifecycle metrics are in the same registry, with
    // one gauge for the served leaf and the manager's for its CA.
    assert.match(after, /^outrigger_serving_certificate_expiry_timestamp_seconds \d/m);
    assert.match(after, /^outrigger_webhook_certificate_expiry_timestamp_seconds\{kind="ca"\} \d/m);
    assert.doesNotMatch(
      after,
      /outrigger_webhook_certificate_expiry_timestamp_seconds\{kind="leaf"\}/,
    );
    assert.match(after, /^process_resident_memory_bytes \d+/m);
  });

  it('refuses a pod with a bad override annotation, naming the annotation', async () => {
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

  it('kubectl apply --dry-run=server shows the injection and stores nothing', async () => {
    const result = await kubectl(
      ['apply', '--dry-run=server', '-o', 'json', '-f', '-'],
      podManifest('dry-run', ENABLED_NS),
    );
    assert.ok(isInjected(JSON.parse(ok(result, 'apply --dry-run=server')) as PodJson));
    assert.notEqual((await kubectl(['get', 'pod', 'dry-run', '-n', ENABLED_NS])).code, 0);
  });

  it('does not inject twice a pod that already carries the status annotation', async () => {
    const pod = await createdPod(
      podManifest('already-injected', ENABLED_NS, {
        annotations: { [STATUS]: '{"containers":["outrigger-proxy"]}' },
      }),
    );
    assert.deepEqual(containerNames(pod), ['app']);
  });

  it('every injected variant passes the apiserver validation', async () => {
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

  it("the apiserver takes the probe rewrite and the classic layout's order", async () => {
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

  it('refuses an injected pod where Pod Security baseline or restricted is enforced, and the injector says why', async () => {
    const refused = await createPod(podManifest('refused-baseline', BASELINE_NS));
    assert.notEqual(refused.code, 0, 'the PodSecurity plugin must refuse the injected pod');
    assert.match(refused.stderr, /violates PodSecurity "baseline:latest"/);
    // kubectl prints admission warnings on stderr, one per line.
    assert.match(
      refused.stderr,
      new RegExp(
        `^Warning: outrigger: namespace ${BASELINE_NS} enforces Pod Security "baseline", which refuses the injected outrigger-init \\(capabilities NET_ADMIN, NET_RAW\\)$`,
        'm',
      ),
    );
    assert.match(
      refused.stderr,
      /^Warning: outrigger: to run injected pods there, label the namespace pod-security\.kubernetes\.io\/enforce=privileged; or opt this pod out with sidecar\.outrigger\.dev\/inject=false$/m,
    );
    const restricted = await kubectl(
      ['create', '--dry-run=server', '-o', 'json', '-f', '-'],
      podManifest('refused-restricted', RESTRICTED_NS),
    );
    assert.notEqual(restricted.code, 0);
    assert.match(
      restricted.stderr,
      /Warning: outrigger: namespace oe2e-restricted enforces Pod Security "restricted", .*runs as root/,
    );
    // What the warning advises works: an opted-out pod is admitted, with no warning.
    const optedOut = await createPod(
      podManifest('opted-out-baseline', BASELINE_NS, {
        labels: { 'sidecar.outrigger.dev/inject': 'false' },
      }),
    );
    assert.equal(optedOut.code, 0, optedOut.stderr);
    assert.doesNotMatch(optedOut.stderr, /outrigger/);
  });

  /** The helm test hooks, as the release stored them. */
  async function testHooks(): Promise<PodJson[]> {
    const hooks = ok(await cluster.helm(['get', 'hooks', RELEASE, '-n', SYSTEM_NS]), 'get hooks');
    return parseAllDocuments(hooks)
      .map((doc) => doc.toJS() as (PodJson & { kind: string }) | null)
      .filter((doc): doc is PodJson & { kind: string } => doc !== null);
  }

  /** Plays the kubelet for the selftest's pod: once it exists, reports it Running and Ready. */
  async function reportSelftestPodReady(signal: AbortSignal): Promise<string | undefined> {
    while (!signal.aborted) {
      const listed = await kubectl([
        'get',
        'pods',
        '-n',
        TEST_NS,
        '-l',
        'app.kubernetes.io/name=outrigger-selftest',
        '-o',
        'json',
      ]);
      const pod = (JSON.parse(listed.stdout || '{"items":[]}') as { items: PodJson[] }).items[0];
      if (pod) {
        const status = (name: string, image: string, state: object, ready: boolean) => ({
          name,
          image,
          imageID: '',
          restartCount: 0,
          ready,
          started: ready,
          state,
        });
        const images = new Map(
          [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => [
            c.name,
            c.image,
          ]),
        );
        const image = (name: string) => images.get(name) ?? '';
        const patch = {
          status: {
            phase: 'Running',
            conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
              type,
              status: 'True',
            })),
            initContainerStatuses: [
              status(
                'outrigger-init',
                image('outrigger-init'),
                { terminated: { exitCode: 0, reason: 'Completed' } },
                false,
              ),
              status('outrigger-proxy', image('outrigger-proxy'), { running: {} }, true),
            ],
            containerStatuses: [status('app', image('app'), { running: {} }, true)],
          },
        };
        const patched = await kubectl([
          'patch',
          'pod',
          pod.metadata.name,
          '-n',
          TEST_NS,
          '--subresource=status',
          '--type=merge',
          '-p',
          JSON.stringify(patch),
        ]);
        return patched.code === 0 ? pod.metadata.name : patched.stderr;
      }
      await sleep(200);
    }
    return undefined;
  }

  it('helm test is one pod running the injector image; its selftest passes with the test RBAC once the pod runs', async () => {
    const hooks = await testHooks();
    // helm test --logs reads each test hook as a pod: only a pod may be one.
    assert.deepEqual(
      hooks.map((h) => (h as { kind?: string }).kind),
      ['Pod'],
    );
    const [testPod] = hooks;
    assert.ok(testPod);
    const deployment = JSON.parse(
      ok(await kubectl(['get', 'deployment', RELEASE, '-n', SYSTEM_NS, '-o', 'json']), 'get'),
    );
    const [container] = testPod.spec.containers;
    assert.equal(container?.image, deployment.spec.template.spec.containers[0].image);
    const args = container?.args ?? [];
    assert.equal(args[0], 'selftest');
    assert.ok(args.includes(`--namespace=${TEST_NS}`));

    // The test pod's own ServiceAccount: its RBAC is what is tested.
    assert.equal(testPod.spec.serviceAccountName, TEST_ACCOUNT);
    const token = ok(
      await kubectl(['create', 'token', TEST_ACCOUNT, '-n', SYSTEM_NS, '--duration=1h']),
      'create token',
    ).trim();
    const kubeconfig = cluster.tokenKubeconfig('selftest', token);
    const as = `--as=system:serviceaccount:${SYSTEM_NS}:${TEST_ACCOUNT}`;
    for (const [verb, ns, allowed] of [
      ['create', TEST_NS, 'yes'],
      ['delete', TEST_NS, 'yes'],
      ['list', TEST_NS, 'no'],
      ['create', PLAIN_NS, 'no'],
      ['create', SYSTEM_NS, 'no'],
    ] as const) {
      const answer = await kubectl(['auth', 'can-i', verb, 'pods', '-n', ns, as]);
      assert.equal(answer.stdout.trim(), allowed, `${verb} pods in ${ns}`);
    }

    const kubelet = new AbortController();
    const reported = reportSelftestPodReady(kubelet.signal);
    const passed = await runOutrigger([
      ...args.filter((arg) => !arg.startsWith('--timeout=')),
      '--timeout=60',
      `--kubeconfig=${kubeconfig}`,
    ]);
    kubelet.abort();
    const podName = await reported;
    assert.equal(passed.code, 0, `${passed.stdout}${passed.stderr}\nkubelet stand-in: ${podName}`);
    for (const step of [
      new RegExp(`^ok {4}created pod ${TEST_NS}/outrigger-selftest-\\w+$`, 'm'),
      /^ok {4}injected, native layout: init containers outrigger-init, outrigger-proxy; containers app$/m,
      /^ok {4}status annotation: injector \S+, lists outrigger-init, outrigger-proxy and volumes /m,
      /^ok {4}pod Running and Ready after \d+s, with outrigger-init done and outrigger-proxy ready$/m,
      new RegExp(`^ok {4}deleted pod ${TEST_NS}/${podName}$`, 'm'),
      /^PASS /m,
    ]) {
      assert.match(passed.stdout, step);
    }
    const left = await kubectl(['get', 'pods', '-n', TEST_NS, '-o', 'name']);
    assert.equal(left.stdout.trim(), '', 'the selftest deleted its pod');
  });

  it('the selftest fails with a clear message when the pod never runs, or is not injected, and cleans up', async () => {
    const [testPod] = await testHooks();
    const args = (testPod?.spec.containers[0]?.args ?? []).filter(
      (arg) => !arg.startsWith('--timeout='),
    );
    // No kubelet: the pod stays Pending until the timeout.
    const timedOut = await runOutrigger([
      ...args,
      '--timeout=3',
      `--kubeconfig=${cluster.kubeconfig}`,
    ]);
    assert.equal(timedOut.code, 1);
    assert.match(timedOut.stdout, /^ok {4}injected, native layout/m);
    assert.match(
      timedOut.stderr,
      /selftest failed: pod outrigger-selftest-\w+ was not Running and Ready within 3s; last seen Pending: not scheduled yet \[OUTRIGGER_SELFTEST_FAILED\]/,
    );
    assert.match(timedOut.stdout, /^ok {4}deleted pod /m);
    // A namespace that opts out (the selftest pod's own inject=true label cannot
    // override that): the pod is admitted as it is.
    const plain = await runOutrigger([
      ...args.map((arg) => (arg.startsWith('--namespace=') ? `--namespace=${DISABLED_NS}` : arg)),
      `--kubeconfig=${cluster.kubeconfig}`,
    ]);
    assert.equal(plain.code, 1);
    assert.match(
      plain.stderr,
      /the pod was admitted without injection .*outrigger-injection=enabled/,
    );
    assert.match(plain.stdout, /^ok {4}deleted pod /m);
    for (const ns of [TEST_NS, DISABLED_NS]) {
      const left = await kubectl([
        'get',
        'pods',
        '-n',
        ns,
        '-l',
        'app.kubernetes.io/name=outrigger-selftest',
        '-o',
        'name',
      ]);
      assert.equal(left.stdout.trim(), '', `no selftest pod left in ${ns}`);
    }
  });

  it('rotates the leaf during a stream of pod creations without failing one', async () => {
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

  it('installs as a subchart of an umbrella chart with global values; enabled: false installs nothing of ours; uninstall cleans up', async () => {
    const umbrella = join(cluster.dir, 'umbrella');
    mkdirSync(umbrella, { recursive: true });
    writeFileSync(
      join(umbrella, 'Chart.yaml'),
      [
        'apiVersion: v2',
        'name: platform',
        'version: 1.0.0',
        'dependencies:',
        '  - name: outrigger',
        '    version: 0.1.0',
        `    repository: file://${chart}`,
        '    condition: outrigger.enabled',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(umbrella, 'values.yaml'),
      [
        'global:',
        `  imageRegistry: ${MIRROR}`,
        "  storageClass: fast # another subchart's global: accepted, not ours",
        'outrigger:',
        '  enabled: true',
        // Nothing runs it here (no controller-manager): keep its webhook from
        // refusing pods while it exists, and its hooks and test namespace out.
        '  webhook: {failurePolicy: Ignore, timeoutSeconds: 1}',
        '  configValidation: {enabled: false}',
        '  test: {enabled: false}',
        '',
      ].join('\n'),
    );
    ok(await cluster.helm(['dependency', 'build', umbrella]), 'helm dependency build');
    ok(await kubectl(['create', 'namespace', UMBRELLA_NS]), 'create umbrella namespace');
    const release = 'platform';
    const ours = [
      '-l',
      `app.kubernetes.io/instance=${release},app.kubernetes.io/part-of=outrigger`,
    ];
    const objectsOfOurs = async () => {
      const namespaced = await kubectl([
        'get',
        'deployment,service,configmap,serviceaccount,role,rolebinding,poddisruptionbudget',
        '-n',
        UMBRELLA_NS,
        ...ours,
        '-o',
        'name',
      ]);
      const cluster = await kubectl([
        'get',
        'mutatingwebhookconfiguration,clusterrole,clusterrolebinding',
        ...ours,
        '-o',
        'name',
      ]);
      return `${ok(namespaced, 'get namespaced')}${ok(cluster, 'get cluster-scoped')}`
        .split('\n')
        .filter(Boolean)
        .sort();
    };

    ok(
      await cluster.helm(['install', release, umbrella, '-n', UMBRELLA_NS]),
      'helm install umbrella',
    );
    const installed = await objectsOfOurs();
    for (const kind of [
      'deployment.apps/platform-outrigger',
      'service/platform-outrigger',
      'configmap/platform-outrigger',
      `mutatingwebhookconfiguration.admissionregistration.k8s.io/platform-outrigger-${UMBRELLA_NS}`,
    ])
      assert.ok(installed.includes(kind), `${kind} not in ${installed.join(' ')}`);
    const deployment = JSON.parse(
      ok(
        await kubectl(['get', 'deployment', 'platform-outrigger', '-n', UMBRELLA_NS, '-o', 'json']),
        'get umbrella deployment',
      ),
    );
    assert.equal(deployment.spec.template.spec.containers[0].image, `${MIRROR}/injector:0.1.0`);
    const configMap = JSON.parse(
      ok(
        await kubectl(['get', 'configmap', 'platform-outrigger', '-n', UMBRELLA_NS, '-o', 'json']),
        'get umbrella configmap',
      ),
    );
    const config = parseYaml(configMap.data['config.yaml']) as {
      proxy: { image: string };
      init: { image: string };
    };
    assert.equal(config.proxy.image, `${MIRROR}/proxy:0.1.0`);
    assert.equal(config.init.image, `${MIRROR}/init:0.1.0`);
    // Every object the release holds, by kind and name, to look for after uninstall.
    const held = parseAllDocuments(
      ok(await cluster.helm(['get', 'manifest', release, '-n', UMBRELLA_NS]), 'get manifest'),
    )
      .map((doc) => doc.toJS() as { kind: string; metadata: { name: string } } | null)
      .filter((o) => o !== null)
      .map((o) => `${o.kind}/${o.metadata.name}`);
    assert.ok(held.length >= installed.length, held.join(' '));
    ok(await cluster.helm(['uninstall', release, '-n', UMBRELLA_NS]), 'helm uninstall umbrella');
    assert.deepEqual(await objectsOfOurs(), [], 'uninstall left objects behind');
    for (const object of held) {
      const left = await kubectl(['get', object, '-n', UMBRELLA_NS]);
      assert.notEqual(left.code, 0, `${object} is still there`);
      assert.match(left.stderr, /NotFound/, object);
    }

    ok(
      await cluster.helm([
        'install',
        release,
        umbrella,
        '-n',
        UMBRELLA_NS,
        '--set',
        'outrigger.enabled=false',
      ]),
      'helm install umbrella, outrigger disabled',
    );
    const manifest = ok(
      await cluster.helm(['get', 'manifest', release, '-n', UMBRELLA_NS]),
      'helm get manifest',
    );
    assert.equal(manifest.trim(), '', 'the disabled subchart rendered objects');
    assert.deepEqual(await objectsOfOurs(), []);
    ok(await cluster.helm(['uninstall', release, '-n', UMBRELLA_NS]), 'helm uninstall disabled');
    const releases = ok(await cluster.helm(['list', '-n', UMBRELLA_NS, '-q']), 'helm list');
    assert.equal(releases.trim(), '');
  });

  /** helm upgrade with only webhook.failurePolicy changed. */
  const setFailurePolicy = async (policy: 'Fail' | 'Ignore') =>
    ok(
      await upgradeReusingValues(`webhook.failurePolicy=${policy}`),
      `helm upgrade to failurePolicy ${policy}`,
    );

  it('with the injector stopped: Fail refuses with a clear message, Ignore admits uninjected', async () => {
    await injector?.stop();
    const refused = await createPod(podManifest('while-down-fail', ENABLED_NS));
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /failed calling webhook "inject\.sidecar\.outrigger\.dev"/);

    const bundleBefore = await caBundles();
    await setFailurePolicy('Ignore');
    // The injector is down, so only the chart could have touched caBundle: it must not have.
    assert.equal(bundleBefore.length, 6);
    for (const bundle of bundleBefore) assert.notEqual(bundle, '');
    assert.deepEqual(await caBundles(), bundleBefore, 'helm upgrade kept caBundle in every entry');
    const admitted = await createdPod(podManifest('while-down-ignore', ENABLED_NS));
    assert.deepEqual(containerNames(admitted), ['app']);

    await setFailurePolicy('Fail');
    assert.deepEqual(await caBundles(), bundleBefore);
    await runInjector();
    await waitForInjection();
  });

  it('helm uninstall removes the webhook configuration', async () => {
    ok(await cluster.helm(['uninstall', RELEASE, '-n', SYSTEM_NS]), 'helm uninstall');
    const gone = await kubectl(['get', 'mutatingwebhookconfiguration', WEBHOOK_CONFIG]);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NotFound/);
    // Pods are admitted again, untouched, with no webhook left behind.
    const pod = await createdPod(podManifest('after-uninstall', ENABLED_NS));
    assert.deepEqual(containerNames(pod), ['app']);
    // The test namespace goes with the release (it stays Terminating here, with
    // no controller-manager to empty it).
    const testNamespace = await kubectl(['get', 'namespace', TEST_NS, '-o', 'json']);
    if (testNamespace.code === 0)
      assert.equal(JSON.parse(testNamespace.stdout).status.phase, 'Terminating');
    else assert.match(testNamespace.stderr, /NotFound/);
    // The config file helm rendered is still valid YAML the injector loaded.
    assert.ok(parseYaml(readFileSync(join(cluster.dir, 'config.yaml'), 'utf8')) !== undefined);
  });
});
