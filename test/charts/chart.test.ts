// The chart on its own: `helm lint --strict` in every certificate mode, the schema
// refusing typos and wrong types, and `helm template` output accepted by a real
// kube-apiserver in a server-side dry run (the apiserver's validation, not ours).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { decideInjection } from '../../src/inject/decide.ts';
import { matchesLabelSelector } from '../../src/inject/label-selector.ts';
import { enforcedLevel } from '../../src/inject/pod-security.ts';
import { renderSidecar } from '../../src/inject/render.ts';
import { MONITORING_PORT, PORTS, PROMETHEUS_PATH } from '../../src/shared/contract.ts';
import { type CommandResult, startCluster, type TestCluster } from '../e2e/harness/cluster.ts';
import { goTool } from '../support/go-tool.ts';
import { skipUnless } from '../support/prerequisites.ts';

const chart = fileURLToPath(new URL('../../charts/outrigger', import.meta.url));
const MONITOR_CHECK = fileURLToPath(new URL('./monitor-check', import.meta.url));
const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const NAMESPACE = 'outrigger-chart-test';

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values: string[] }>;
}

interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  args?: string[];
}

interface Manifest {
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  webhooks?: Array<{
    name: string;
    clientConfig: { url?: string; service?: { path: string } };
    namespaceSelector: Selector;
    objectSelector?: Selector;
  }>;
  rules?: Array<{ resources: string[]; resourceNames?: string[]; verbs: string[] }>;
  subjects?: Array<{ name: string; namespace: string }>;
  spec?: {
    serviceAccountName?: string;
    containers?: Container[];
    template?: { spec: { containers: Container[] } };
    // NetworkPolicy
    policyTypes?: string[];
    ingress?: unknown[];
    podSelector?: unknown;
  };
}

describe('helm chart', { concurrency: false, skip: skipUnless('go', 'controlPlaneTools') }, () => {
  let cluster: TestCluster | undefined;

  before(async () => {
    cluster = await startCluster();
    assert.equal((await cluster.kubectl(['create', 'namespace', NAMESPACE])).code, 0);
  });
  after(async () => {
    await cluster?.stop();
  });

  const helm = (args: string[]): Promise<CommandResult> => {
    assert.ok(cluster);
    return cluster.helm(args);
  };
  const template = async (...sets: string[]): Promise<string> => {
    const result = await helm([
      'template',
      'outrigger',
      chart,
      '-n',
      NAMESPACE,
      ...sets.flatMap((s) => ['--set', s]),
    ]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout;
  };
  const manifests = (yaml: string): Manifest[] =>
    parseAllDocuments(yaml)
      .map((doc) => doc.toJS() as Manifest | null)
      .filter((doc): doc is Manifest => doc !== null);

  it('passes helm lint --strict in every certificate mode and with a url', async () => {
    for (const sets of [
      [],
      ['certs.mode=provided'],
      ['certs.mode=cert-manager'],
      ['webhook.url=https://192.0.2.10:8443/inject'],
    ]) {
      const result = await helm(['lint', '--strict', chart, ...sets.flatMap((s) => ['--set', s])]);
      assert.equal(result.code, 0, `${sets}: ${result.stdout}${result.stderr}`);
    }
  });

  it('refuses misspelt keys and wrong types, in chart values and in the injection config', async () => {
    const refused: Array<[string, RegExp]> = [
      ['webhook.failurPolicy=Fail', /failurPolicy/],
      ['replicaCount=two', /replicaCount/],
      ['webhook.failurePolicy=Sometimes', /failurePolicy/],
      ['certs.mode=vault', /mode/],
      ['injection.proxy.imag=example.test/proxy:1', /imag/],
      ['injection.defaultInject=maybe', /defaultInject/],
      ['injection.policy.defaultConfigMap=Mesh_Policy', /defaultConfigMap/],
      ['injection.policy.namespaces.shop=-shop', /shop/],
      ['injection.policy.defaultPolicy=x', /defaultPolicy/],
    ];
    for (const [set, message] of refused) {
      const result = await helm(['template', 'outrigger', chart, '--set', set]);
      assert.notEqual(result.code, 0, `${set} was accepted`);
      assert.match(result.stderr, message);
    }
  });

  it('writes the policy defaults into the injector configuration as the injector reads them', async () => {
    const rendered = await template(
      'injection.policy.defaultConfigMap=mesh-policy',
      'injection.policy.namespaces.shop=shop-policy',
    );
    const configMap = manifests(rendered).find(
      (m) => m.kind === 'ConfigMap' && !m.metadata.annotations,
    ) as (Manifest & { data: Record<string, string> }) | undefined;
    const config = parseConfig(configMap?.data['config.yaml'] ?? '', 'rendered config.yaml');
    assert.deepEqual(config.policy, {
      defaultConfigMap: 'mesh-policy',
      namespaces: { shop: 'shop-policy' },
    });
  });

  it('renders no caBundle, so upgrades never blank what the injector wrote', async () => {
    for (const rendered of [
      await template(),
      await template('webhook.url=https://192.0.2.10:8443/inject'),
    ]) {
      const webhook = manifests(rendered).find((m) => m.kind === 'MutatingWebhookConfiguration');
      assert.ok(webhook?.webhooks?.length);
      for (const entry of webhook.webhooks) assert.equal('caBundle' in entry.clientConfig, false);
    }
  });

  it('grants the injector only its own webhook configuration and Secret', async () => {
    const all = manifests(await template());
    const clusterRole = all.find((m) => m.kind === 'ClusterRole');
    assert.deepEqual(clusterRole?.rules, [
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['mutatingwebhookconfigurations'],
        resourceNames: [`outrigger-${NAMESPACE}`],
        verbs: ['get', 'patch'],
      },
    ]);
    const role = all.find((m) => m.kind === 'Role' && m.metadata.name === 'outrigger');
    const named = role?.rules?.find((r) => r.resourceNames);
    assert.deepEqual(named?.resourceNames, ['outrigger-tls']);
    assert.deepEqual(named?.verbs, ['get', 'update']);
  });

  it('sends namespaces enforcing Pod Security baseline or restricted to their own path, the rest to /inject', async () => {
    const entries = (rendered: string) =>
      manifests(rendered).find((m) => m.kind === 'MutatingWebhookConfiguration')?.webhooks ?? [];
    const podSecurity = (entry: { namespaceSelector: Selector }) =>
      entry.namespaceSelector.matchExpressions?.find(
        (e) => e.key === 'pod-security.kubernetes.io/enforce',
      );
    // The per-pod opt-in entries repeat the same three; the agreement test below covers them.
    const viaService = entries(await template('injection.podOptIn=false'));
    assert.deepEqual(
      viaService.map((w) => [w.name, w.clientConfig.service?.path, podSecurity(w)]),
      [
        [
          'inject.sidecar.outrigger.dev',
          '/inject',
          {
            key: 'pod-security.kubernetes.io/enforce',
            operator: 'NotIn',
            values: ['baseline', 'restricted'],
          },
        ],
        [
          'baseline.inject.sidecar.outrigger.dev',
          '/inject/pod-security/baseline',
          { key: 'pod-security.kubernetes.io/enforce', operator: 'In', values: ['baseline'] },
        ],
        [
          'restricted.inject.sidecar.outrigger.dev',
          '/inject/pod-security/restricted',
          { key: 'pod-security.kubernetes.io/enforce', operator: 'In', values: ['restricted'] },
        ],
      ],
    );
    // Apart from the Pod Security expression, every entry selects the same namespaces.
    const rest = viaService.map((w) => ({
      ...w.namespaceSelector,
      matchExpressions: w.namespaceSelector.matchExpressions?.filter((e) => e !== podSecurity(w)),
    }));
    for (const other of rest.slice(1)) assert.deepEqual(other, rest[0]);
    const viaUrl = entries(
      await template('webhook.url=https://192.0.2.10:8443/inject/', 'injection.podOptIn=false'),
    );
    assert.deepEqual(
      viaUrl.map((w) => w.clientConfig.url),
      [
        'https://192.0.2.10:8443/inject',
        'https://192.0.2.10:8443/inject/pod-security/baseline',
        'https://192.0.2.10:8443/inject/pod-security/restricted',
      ],
    );
  });

  for (const podOptIn of [true, false]) {
    it(`the webhook entries and the injector (as outrigger check runs it) agree on every namespace and pod (podOptIn ${podOptIn})`, async () => {
      const webhooks =
        manifests(await template(`injection.podOptIn=${podOptIn}`)).find(
          (m) => m.kind === 'MutatingWebhookConfiguration',
        )?.webhooks ?? [];
      assert.equal(webhooks.length, podOptIn ? 6 : 3);
      const namespaces: Array<[string, Record<string, string>]> = [
        ['shop', { 'outrigger-injection': 'enabled' }],
        ['shop', {}],
        ['shop', { 'outrigger-injection': 'off' }],
        ['shop', { 'pod-security.kubernetes.io/enforce': 'baseline' }],
        [
          'shop',
          { 'outrigger-injection': 'enabled', 'pod-security.kubernetes.io/enforce': 'privileged' },
        ],
        [
          'shop',
          { 'outrigger-injection': 'enabled', 'pod-security.kubernetes.io/enforce': 'baseline' },
        ],
        [
          'shop',
          { 'outrigger-injection': 'enabled', 'pod-security.kubernetes.io/enforce': 'restricted' },
        ],
        [
          'shop',
          { 'outrigger-injection': 'enabled', 'pod-security.kubernetes.io/warn': 'baseline' },
        ],
        [
          'shop',
          { 'outrigger-injection': 'disabled', 'pod-security.kubernetes.io/enforce': 'baseline' },
        ],
        ['shop', { 'pod-security.kubernetes.io/enforce': 'restricted' }],
        ['kube-system', { 'outrigger-injection': 'enabled' }],
        ['kube-system', {}],
        [
          NAMESPACE,
          { 'outrigger-injection': 'enabled', 'pod-security.kubernetes.io/enforce': 'baseline' },
        ],
        [NAMESPACE, {}],
      ];
      const pods: Array<Record<string, string> | undefined> = [
        undefined,
        { 'sidecar.outrigger.dev/inject': 'true' },
        { 'sidecar.outrigger.dev/inject': 'false' },
        { app: 'web' },
      ];
      const config = { ...defaultConfig(), podOptIn };
      for (const [name, labels] of namespaces) {
        for (const podLabels of pods) {
          const pod = {
            metadata: { name: 'web', labels: podLabels },
            spec: { containers: [{ name: 'web', image: 'nginx' }] },
          };
          const namespaceLabels = { ...labels, 'kubernetes.io/metadata.name': name };
          const matched = webhooks.filter(
            (w) =>
              matchesLabelSelector(
                w.namespaceSelector as Parameters<typeof matchesLabelSelector>[0],
                namespaceLabels,
              ) &&
              matchesLabelSelector(
                (w.objectSelector ?? {}) as Parameters<typeof matchesLabelSelector>[0],
                podLabels ?? {},
              ),
          );
          const decision = decideInjection(
            pod,
            { namespace: name, namespaceLabels, injectorNamespace: NAMESPACE },
            config,
          );
          const what = `${name} ${JSON.stringify(labels)} pod ${JSON.stringify(podLabels)}`;
          assert.ok(matched.length <= 1, `${what}: the entries overlap`);
          assert.equal(
            matched.length === 1,
            decision.inject,
            `${what}: selectors and decision differ`,
          );
          const level = enforcedLevel(namespaceLabels);
          if (matched[0])
            assert.equal(
              matched[0].clientConfig.service?.path,
              level ? `/inject/pod-security/${level}` : '/inject',
              what,
            );
        }
      }
    });
  }

  it('installs as a subchart of an umbrella chart: global values accepted, enabled as its condition', async () => {
    const umbrella = mkdtempSync(join(tmpdir(), 'outrigger-umbrella-'));
    mkdirSync(join(umbrella, 'charts'));
    cpSync(chart, join(umbrella, 'charts', 'outrigger'), { recursive: true });
    writeFileSync(
      join(umbrella, 'Chart.yaml'),
      'apiVersion: v2\nname: platform\nversion: 1.0.0\ndependencies:\n' +
        '  - name: outrigger\n    version: 0.1.0\n    condition: outrigger.enabled\n',
    );
    writeFileSync(
      join(umbrella, 'values.yaml'),
      'global:\n  imageRegistry: registry.example.test/mirror\n  storageClass: fast\n' +
        'outrigger:\n  replicaCount: 1\n',
    );
    const lint = await helm(['lint', '--strict', umbrella]);
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
    const rendered = await helm(['template', 'platform', umbrella, '-n', NAMESPACE]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const all = manifests(rendered.stdout);
    const deployment = all.find((m) => m.kind === 'Deployment');
    assert.equal(
      deployment?.spec?.template?.spec.containers[0]?.image,
      'registry.example.test/mirror/injector:0.1.0',
    );
    // One replica: no disruption budget that would block every drain.
    assert.equal(
      all.some((m) => m.kind === 'PodDisruptionBudget'),
      false,
    );
    const disabled = await helm([
      'template',
      'platform',
      umbrella,
      '-n',
      NAMESPACE,
      '--set',
      'outrigger.enabled=false',
    ]);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal(manifests(disabled.stdout).length, 0);
  });

  it('a pre-install/pre-upgrade hook Job runs validate-config on the exact configuration the release writes', async () => {
    // Within the schema, but refused by the injector: a request above its limit.
    const sets = [
      'injection.proxy.resources.requests.cpu=2',
      'injection.proxy.resources.limits.cpu=1',
    ];
    const all = manifests(await template(...sets));
    const hooks = all.filter((m) =>
      m.metadata.annotations?.['helm.sh/hook']?.includes('pre-upgrade'),
    );
    assert.deepEqual(
      hooks.map((m) => [m.kind, m.metadata.annotations?.['helm.sh/hook']]),
      [
        ['ConfigMap', 'pre-install,pre-upgrade'],
        ['Job', 'pre-install,pre-upgrade'],
      ],
    );
    const [hookConfig, job] = hooks as [Manifest & { data: Record<string, string> }, Manifest];
    const release = all.find((m) => m.kind === 'ConfigMap' && !m.metadata.annotations) as
      | (Manifest & { data: Record<string, string> })
      | undefined;
    assert.equal(hookConfig.data['config.yaml'], release?.data['config.yaml']);
    const container = job.spec?.template?.spec.containers[0];
    assert.deepEqual(container?.args, ['validate-config', '--config=/etc/outrigger/config.yaml']);
    // The pod is no injector: neither the Service nor the disruption budget selects it.
    const podLabels = (job.spec?.template as { metadata?: { labels?: Record<string, string> } })
      ?.metadata?.labels;
    assert.notEqual(podLabels?.['app.kubernetes.io/name'], 'outrigger');
    // What the Job would print and exit with, run here on the same text.
    const dir = mkdtempSync(join(tmpdir(), 'outrigger-hook-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, hookConfig.data['config.yaml'] ?? '');
    const refused = spawnSync(process.execPath, [cli, 'validate-config', `--config=${file}`], {
      encoding: 'utf8',
    });
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /request 2 exceeds limit 1 \[OUTRIGGER_INVALID_CONFIG\]/);
    const good = manifests(await template()).find(
      (m) => m.kind === 'ConfigMap' && m.metadata.annotations?.['helm.sh/hook'] !== undefined,
    ) as (Manifest & { data: Record<string, string> }) | undefined;
    writeFileSync(file, good?.data['config.yaml'] ?? '');
    const valid = spawnSync(process.execPath, [cli, 'validate-config', `--config=${file}`], {
      encoding: 'utf8',
    });
    assert.equal(valid.status, 0, valid.stderr);
    assert.equal(
      manifests(await template('configValidation.enabled=false')).some((m) =>
        m.metadata.annotations?.['helm.sh/hook']?.includes('pre-upgrade'),
      ),
      false,
    );
  });

  it('helm test is one Pod hook running the injector image; what it needs are ordinary resources', async () => {
    const all = manifests(
      await template(
        'image.registry=registry.example.test/outrigger',
        'image.repository=injector',
        'image.tag=9.9.9',
      ),
    );
    const hooks = all.filter((m) => m.metadata.annotations?.['helm.sh/hook'] === 'test');
    // helm test --logs reads every test hook as a pod of that name in the release namespace.
    assert.deepEqual(
      hooks.map((m) => [m.kind, m.metadata.namespace, m.metadata.annotations]),
      [
        [
          'Pod',
          NAMESPACE,
          { 'helm.sh/hook': 'test', 'helm.sh/hook-delete-policy': 'before-hook-creation' },
        ],
      ],
    );
    const testPod = hooks[0];
    const deployment = all.find((m) => m.kind === 'Deployment');
    const injectorImage = deployment?.spec?.template?.spec.containers[0]?.image;
    assert.equal(injectorImage, 'registry.example.test/outrigger/injector:9.9.9');
    const container = testPod?.spec?.containers?.[0];
    assert.equal(container?.image, injectorImage);
    assert.deepEqual(container?.args, [
      'selftest',
      '--namespace=outrigger-injection-test',
      `--image=${injectorImage}`,
      '--image-pull-policy=IfNotPresent',
      '--timeout=120',
    ]);

    const namespace = all.find((m) => m.kind === 'Namespace');
    assert.equal(namespace?.metadata.name, 'outrigger-injection-test');
    assert.equal(namespace?.metadata.labels?.['outrigger-injection'], 'enabled');
    assert.equal(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
    const account = testPod?.spec?.serviceAccountName;
    assert.ok(all.some((m) => m.kind === 'ServiceAccount' && m.metadata.name === account));
    const role = all.find((m) => m.kind === 'Role' && m.metadata.name === account);
    assert.equal(role?.metadata.namespace, 'outrigger-injection-test');
    assert.deepEqual(role?.rules, [
      { apiGroups: [''], resources: ['pods'], verbs: ['create', 'get', 'delete'] },
    ]);
    const binding = all.find((m) => m.kind === 'RoleBinding' && m.metadata.name === account);
    assert.deepEqual(binding?.subjects?.[0], {
      kind: 'ServiceAccount',
      name: account,
      namespace: NAMESPACE,
    });

    const secrets = manifests(
      await template('imagePullSecrets[0].name=a', 'imagePullSecrets[1].name=b'),
    );
    const args = secrets.find((m) => m.kind === 'Pod')?.spec?.containers?.[0]?.args ?? [];
    assert.ok(args.includes('--image-pull-secrets=a,b'), args.join(' '));

    const disabled = manifests(await template('test.enabled=false'));
    for (const kind of ['Pod', 'Namespace'])
      assert.equal(
        disabled.some((m) => m.kind === kind),
        false,
      );
    assert.equal(
      disabled.some((m) => m.metadata.name === account),
      false,
    );
  });

  it('renders a NetworkPolicy only when asked: ingress to 8443 and the monitoring port alone, from anywhere or from the peers given', async () => {
    const policies = (rendered: string) =>
      manifests(rendered).filter((m) => m.kind === 'NetworkPolicy');
    assert.deepEqual(policies(await template()), []);

    const [open] = policies(await template('networkPolicy.enabled=true'));
    assert.deepEqual(open?.spec?.policyTypes, ['Ingress']);
    assert.deepEqual(open?.spec?.ingress, [
      { ports: [{ protocol: 'TCP', port: 8443 }] },
      { ports: [{ protocol: 'TCP', port: MONITORING_PORT }] },
    ]);
    assert.deepEqual(open?.spec?.podSelector, {
      matchLabels: {
        'app.kubernetes.io/name': 'outrigger',
        'app.kubernetes.io/instance': 'outrigger',
      },
    });

    const [narrow] = policies(
      await template(
        'networkPolicy.enabled=true',
        'networkPolicy.from[0].ipBlock.cidr=192.0.2.0/24',
        'networkPolicy.monitoringFrom[0].namespaceSelector.matchLabels.team=monitoring',
      ),
    );
    assert.deepEqual(narrow?.spec?.ingress, [
      { ports: [{ protocol: 'TCP', port: 8443 }], from: [{ ipBlock: { cidr: '192.0.2.0/24' } }] },
      {
        ports: [{ protocol: 'TCP', port: MONITORING_PORT }],
        from: [{ namespaceSelector: { matchLabels: { team: 'monitoring' } } }],
      },
    ]);
  });

  it('serves the monitoring port on the Service, and renders a ServiceMonitor and a PodMonitor only when asked', async () => {
    const monitors = ['metrics.serviceMonitor.enabled=true', 'metrics.podMonitor.enabled=true'];
    const lint = await helm(['lint', '--strict', chart, ...monitors.flatMap((s) => ['--set', s])]);
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);

    const plain = manifests(await template());
    assert.deepEqual(
      plain.filter((m) => m.kind === 'ServiceMonitor' || m.kind === 'PodMonitor'),
      [],
      'off by default',
    );
    const service = plain.find((m) => m.kind === 'Service') as unknown as {
      metadata: { labels: Record<string, string> };
      spec: { ports: Array<{ name: string; port: number; targetPort: string }> };
    };
    const monitoringPort = service.spec.ports.find((p) => p.name === 'http-monitoring');
    assert.deepEqual(monitoringPort, {
      name: 'http-monitoring',
      port: MONITORING_PORT,
      targetPort: 'http-monitoring',
      protocol: 'TCP',
    });
    const injector = (
      plain.find((m) => m.kind === 'Deployment') as unknown as {
        spec: { template: { spec: { containers: Array<Container & { ports: unknown[] }> } } };
      }
    ).spec.template.spec.containers[0];
    assert.ok(injector?.args?.includes(`--monitoring-port=${MONITORING_PORT}`));
    assert.deepEqual(injector?.ports[1], {
      name: 'http-monitoring',
      containerPort: MONITORING_PORT,
      protocol: 'TCP',
    });

    const all = manifests(
      await template(
        ...monitors,
        'metrics.serviceMonitor.labels.release=prom',
        'metrics.podMonitor.interval=15s',
      ),
    ) as unknown as Array<Manifest & { spec: Record<string, unknown> }>;
    const serviceMonitor = all.find((m) => m.kind === 'ServiceMonitor');
    assert.ok(serviceMonitor);
    assert.equal(serviceMonitor.metadata.labels?.release, 'prom');
    assert.equal(serviceMonitor.metadata.namespace, NAMESPACE);
    // It selects the Service by labels the Service has, and scrapes its named port.
    const selector = (serviceMonitor.spec.selector as Selector).matchLabels ?? {};
    assert.ok(Object.keys(selector).length > 0);
    for (const [key, value] of Object.entries(selector))
      assert.equal(service.metadata.labels[key], value, key);
    assert.deepEqual(serviceMonitor.spec.endpoints, [
      {
        port: 'http-monitoring',
        path: '/metrics',
        scheme: 'http',
        interval: '30s',
        scrapeTimeout: '10s',
      },
    ]);
    // The PodMonitor scrapes the port name and path the injector gives every proxy.
    const podMonitor = all.find((m) => m.kind === 'PodMonitor');
    assert.ok(podMonitor);
    const [endpoint] = podMonitor.spec.podMetricsEndpoints as Array<Record<string, unknown>>;
    assert.ok(endpoint);
    const proxy = renderSidecar(defaultConfig(), {}, 'native');
    const promPort = proxy.ports?.find((p) => p.containerPort === PORTS.prometheus);
    assert.equal(endpoint.port, promPort?.name);
    assert.equal(endpoint.path, PROMETHEUS_PATH);
    assert.equal(endpoint.interval, '15s');
    assert.deepEqual(podMonitor.spec.namespaceSelector, { any: true });
    assert.deepEqual((endpoint.relabelings as unknown[])[0], {
      action: 'keep',
      sourceLabels: ['__meta_kubernetes_pod_container_name'],
      regex: proxy.name,
    });

    // Both decode into prometheus-operator's own API types, unknown fields refused.
    const monitorObjects = all.filter(
      (m) => m.kind === 'ServiceMonitor' || m.kind === 'PodMonitor',
    );
    const decoded = JSON.parse(
      execFileSync(goTool(MONITOR_CHECK), {
        input: monitorObjects.map((m) => JSON.stringify(m)).join('\n'),
        encoding: 'utf8',
      }),
    ) as string[];
    assert.deepEqual(decoded, ['', '']);
    const misspelt = { ...serviceMonitor, spec: { ...serviceMonitor.spec, endpoint: [] } };
    const [error] = JSON.parse(
      execFileSync(goTool(MONITOR_CHECK), { input: JSON.stringify(misspelt), encoding: 'utf8' }),
    ) as string[];
    assert.match(error ?? '', /unknown field "endpoint"/);

    const refused = await helm([
      'template',
      'outrigger',
      chart,
      '--set',
      'metrics.serviceMonitor.interval=30',
    ]);
    assert.notEqual(refused.code, 0, 'a duration without a unit was accepted');
    assert.match(refused.stderr, /interval/);
  });

  it('helm template output passes a server-side dry run on the real apiserver', async () => {
    assert.ok(cluster);
    // The test namespace must exist for the objects in it to be checked (a dry
    // run creates nothing).
    await cluster.kubectl(['create', 'namespace', 'outrigger-injection-test']);
    const variants = [
      [],
      ['certs.mode=provided', 'certs.secretName=my-webhook-tls'],
      [
        'webhook.url=https://192.0.2.10:8443/inject',
        'certs.ipAddresses={192.0.2.10}',
        'replicaCount=0',
      ],
      [
        'webhook.failurePolicy=Ignore',
        'webhook.reinvocationPolicy=IfNeeded',
        'injection.nativeSidecars=false',
        'injection.proxy.logLevel=debug',
        'podDisruptionBudget.enabled=false',
      ],
      ['networkPolicy.enabled=true', 'networkPolicy.from[0].ipBlock.cidr=192.0.2.0/24'],
    ];
    for (const sets of variants) {
      const rendered = await template(...sets);
      // A pod is checked against ServiceAccounts that exist, so those are created for real.
      const accounts = parseAllDocuments(rendered).filter(
        (doc) => (doc.toJS() as Manifest | null)?.kind === 'ServiceAccount',
      );
      for (const account of accounts)
        await cluster.kubectl(['apply', '-f', '-'], account.toString());
      const result = await cluster.kubectl(['apply', '--dry-run=server', '-f', '-'], rendered);
      assert.equal(result.code, 0, `${sets.join(' ')}:\n${result.stderr}`);
      for (const kind of [
        'deployment.apps',
        'mutatingwebhookconfiguration.admissionregistration.k8s.io',
        'service',
      ]) {
        assert.match(
          result.stdout,
          new RegExp(`${kind.replace(/\./g, '\\.')}/outrigger\\S* created \\(server dry run\\)`),
        );
      }
    }
  });
});
