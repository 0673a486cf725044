// The chart on its own: `helm lint --strict` in every certificate mode, the schema
// refusing typos and wrong types, and `helm template` output accepted by a real
// kube-apiserver in a server-side dry run (the apiserver's validation, not ours).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { type CommandResult, startCluster, type TestCluster } from '../e2e/harness/cluster.ts';
import { clusterSuiteBlocker } from '../e2e/harness/prerequisites.ts';

const chart = fileURLToPath(new URL('../../charts/outrigger', import.meta.url));
const NAMESPACE = 'outrigger-chart-test';

interface Manifest {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  webhooks?: Array<{ clientConfig: Record<string, unknown> }>;
  rules?: Array<{ resources: string[]; resourceNames?: string[]; verbs: string[] }>;
  spec?: Record<string, unknown>;
}

describe('helm chart', { concurrency: false }, () => {
  const blocker = clusterSuiteBlocker();
  let cluster: TestCluster | undefined;

  before(async () => {
    if (blocker) return;
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

  it('passes helm lint --strict in every certificate mode and with a url', async (t) => {
    if (blocker) return t.skip(blocker);
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

  it('refuses misspelt keys and wrong types, in chart values and in the injection config', async (t) => {
    if (blocker) return t.skip(blocker);
    const refused: Array<[string, RegExp]> = [
      ['webhook.failurPolicy=Fail', /failurPolicy/],
      ['replicaCount=two', /replicaCount/],
      ['webhook.failurePolicy=Sometimes', /failurePolicy/],
      ['certs.mode=vault', /mode/],
      ['injection.proxy.imag=example.test/proxy:1', /imag/],
      ['injection.defaultInject=maybe', /defaultInject/],
    ];
    for (const [set, message] of refused) {
      const result = await helm(['template', 'outrigger', chart, '--set', set]);
      assert.notEqual(result.code, 0, `${set} was accepted`);
      assert.match(result.stderr, message);
    }
  });

  it('renders no caBundle, so upgrades never blank what the injector wrote', async (t) => {
    if (blocker) return t.skip(blocker);
    for (const rendered of [
      await template(),
      await template('webhook.url=https://192.0.2.10:8443/inject'),
    ]) {
      const webhook = manifests(rendered).find((m) => m.kind === 'MutatingWebhookConfiguration');
      assert.ok(webhook?.webhooks?.length);
      for (const entry of webhook.webhooks) assert.equal('caBundle' in entry.clientConfig, false);
    }
  });

  it('grants the injector only its own webhook configuration and Secret', async (t) => {
    if (blocker) return t.skip(blocker);
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
    const role = all.find((m) => m.kind === 'Role' && !m.metadata.annotations?.['helm.sh/hook']);
    const named = role?.rules?.find((r) => r.resourceNames);
    assert.deepEqual(named?.resourceNames, ['outrigger-tls']);
    assert.deepEqual(named?.verbs, ['get', 'update']);
  });

  it('renders a NetworkPolicy only when asked: ingress to 8443 alone, from anywhere or from the peers given', async (t) => {
    if (blocker) return t.skip(blocker);
    const policies = (rendered: string) =>
      manifests(rendered).filter((m) => m.kind === 'NetworkPolicy');
    assert.deepEqual(policies(await template()), []);

    const [open] = policies(await template('networkPolicy.enabled=true'));
    assert.deepEqual(open?.spec?.policyTypes, ['Ingress']);
    assert.deepEqual(open?.spec?.ingress, [{ ports: [{ protocol: 'TCP', port: 8443 }] }]);
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
      ),
    );
    assert.deepEqual(narrow?.spec?.ingress, [
      { ports: [{ protocol: 'TCP', port: 8443 }], from: [{ ipBlock: { cidr: '192.0.2.0/24' } }] },
    ]);
  });

  it('helm template output passes a server-side dry run on the real apiserver', async (t) => {
    if (blocker || !cluster) return t.skip(blocker);
    // The test hook's namespace must exist for its namespaced objects to be checked.
    await cluster.kubectl(['create', 'namespace', 'outrigger-injection-test']);
    await cluster.kubectl([
      'label',
      'namespace',
      'outrigger-injection-test',
      'outrigger-injection=enabled',
    ]);
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
