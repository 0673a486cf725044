// The injector as users run it: two in-cluster replicas installed by the
// chart, a restart that fails no pod creation, `helm test` running a real pod,
// upgrades that keep caBundle, Pod Security refusals that say why, and an
// uninstall that removes the webhook.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CHART,
  CLUSTER_DIR,
  createNamespace,
  deleteNamespace,
  helm,
  kubectl,
  kubectlOk,
  RELEASE,
  skipUnlessCluster,
} from './harness.ts';
import { appPod } from './pods.ts';

const WEBHOOK_CONFIG = 'outrigger-outrigger-system';

async function caBundles(): Promise<string[]> {
  const config = JSON.parse(
    await kubectlOk(['get', 'mutatingwebhookconfiguration', WEBHOOK_CONFIG, '-o', 'json']),
  ) as { webhooks: Array<{ clientConfig: { caBundle?: string } }> };
  return config.webhooks.map((w) => w.clientConfig.caBundle ?? '');
}

/** Creates a test app pod and checks the webhook injected it. */
async function createInjectedPod(namespace: string, name: string): Promise<void> {
  const created = await kubectl(['-n', namespace, 'create', '-f', '-'], appPod({ name }));
  assert.equal(created.code, 0, created.stderr);
  const pod = JSON.parse(await kubectlOk(['-n', namespace, 'get', 'pod', name, '-o', 'json']));
  assert.ok(pod.metadata.annotations?.['sidecar.outrigger.dev/status'], `${name} was injected`);
}

/** helm upgrade of the release with its current values and one more. */
function upgradeReusingValues(set: string) {
  return helm([
    'upgrade',
    RELEASE.name,
    CHART,
    '-n',
    RELEASE.namespace,
    '--reuse-values',
    '--set',
    set,
    '--wait',
    '--timeout',
    '180s',
  ]);
}

/** The same install cluster/up.sh makes. */
async function installRelease(): Promise<void> {
  const result = await helm([
    'upgrade',
    '--install',
    RELEASE.name,
    CHART,
    '--namespace',
    RELEASE.namespace,
    '--create-namespace',
    '--values',
    join(CLUSTER_DIR, 'outrigger-values.yaml'),
    '--wait',
    '--timeout',
    '180s',
  ]);
  assert.equal(result.code, 0, result.stderr);
}

describe('the injector in the cluster', {
  concurrency: false,
  skip: await skipUnlessCluster(),
}, () => {
  let ns = '';

  before(async () => {
    ns = await createNamespace('injector', { 'outrigger-injection': 'enabled' });
  });

  after(async () => {
    if (ns) await deleteNamespace(ns);
  });

  it('runs two ready replicas behind the Service', async () => {
    const deployment = JSON.parse(
      await kubectlOk(['-n', RELEASE.namespace, 'get', 'deployment', 'outrigger', '-o', 'json']),
    );
    assert.equal(deployment.status.readyReplicas, 2);
    const slices = JSON.parse(
      await kubectlOk([
        '-n',
        RELEASE.namespace,
        'get',
        'endpointslices',
        '-l',
        'kubernetes.io/service-name=outrigger',
        '-o',
        'json',
      ]),
    ) as { items: Array<{ endpoints?: Array<{ conditions: { ready: boolean } }> }> };
    const ready = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions.ready);
    assert.equal(ready.length, 2);
    const [bundle] = await caBundles();
    assert.ok(bundle && bundle.length > 0, 'the injector wrote caBundle itself (certs mode auto)');
  });

  it('fails no pod creation while the injector restarts', async () => {
    await kubectlOk(['-n', RELEASE.namespace, 'rollout', 'restart', 'deployment/outrigger']);
    const failures: string[] = [];
    const rollout = kubectl(
      ['-n', RELEASE.namespace, 'rollout', 'status', 'deployment/outrigger', '--timeout=180s'],
      undefined,
      200_000,
    );
    let done = false;
    void rollout.then(() => {
      done = true;
    });
    let created = 0;
    // Bounded: at most 120 pods, and only while the rollout runs (plus a few after).
    for (let i = 0; i < 120 && (!done || i < created + 3); i++) {
      const name = `during-restart-${i}`;
      const result = await kubectl(['-n', ns, 'create', '-f', '-'], appPod({ name }));
      created++;
      if (result.code !== 0) failures.push(`${name}: ${result.stderr.trim()}`);
      await sleep(300);
    }
    const status = await rollout;
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(failures, [], 'every creation was admitted');
    const pods = JSON.parse(await kubectlOk(['-n', ns, 'get', 'pods', '-o', 'json'])) as {
      items: Array<{ metadata: { name: string; annotations?: Record<string, string> } }>;
    };
    const uninjected = pods.items
      .filter((p) => p.metadata.name.startsWith('during-restart-'))
      .filter((p) => !p.metadata.annotations?.['sidecar.outrigger.dev/status'])
      .map((p) => p.metadata.name);
    assert.deepEqual(uninjected, [], 'and injected');
    assert.ok(created >= 5, `pods were created throughout the restart (${created})`);
    await kubectl(['-n', ns, 'delete', 'pods', '--all', '--wait=false']);
  });

  it('passes helm test with a real pod, and shows its logs', async () => {
    const result = await helm([
      'test',
      RELEASE.name,
      '-n',
      RELEASE.namespace,
      '--logs',
      '--timeout',
      '180s',
    ]);
    assert.equal(result.code, 0, `${result.stderr}\n${result.stdout}`);
    assert.match(result.stdout, /Phase:\s+Succeeded/);
    assert.match(result.stdout, /POD LOGS/);
    assert.match(result.stdout, /outrigger-proxy/, 'the test pod said what it checked');
  });

  it('keeps caBundle across helm upgrade', async () => {
    const before = await caBundles();
    const result = await upgradeReusingValues('podAnnotations.outrigger-test/upgraded=yes');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await caBundles(), before);
    // And injection still works right after.
    await createInjectedPod(ns, 'after-upgrade');
  });

  it('refuses an upgrade whose configuration the injector would reject, before any pod restarts', async () => {
    // The values schema lets this through (both are valid quantities); the
    // pre-upgrade hook's `outrigger validate-config` refuses it (request above limit).
    const injectorState = (kind: string, path: string) =>
      kubectlOk(['-n', RELEASE.namespace, 'get', kind, 'outrigger', '-o', `jsonpath={${path}}`]);
    const config = () => injectorState('configmap', '.data');
    const generation = () => injectorState('deployment', '.metadata.generation');
    const configBefore = await config();
    // The previous upgrade's rollout must be over, so "not rolled" means this one.
    await kubectlOk(
      ['-n', RELEASE.namespace, 'rollout', 'status', 'deployment/outrigger', '--timeout=120s'],
      undefined,
      130_000,
    );
    const generationBefore = await generation();
    const result = await upgradeReusingValues('injection.proxy.resources.requests.memory=1Gi');
    assert.notEqual(result.code, 0, 'helm upgrade must fail');
    assert.match(result.stderr, /pre-upgrade hooks failed/, result.stderr);
    assert.match(result.stderr, /validate-config failed/, result.stderr);
    assert.equal(await config(), configBefore, 'the running configuration is unchanged');
    assert.equal(await generation(), generationBefore, 'the injector Deployment was not rolled');
    await createInjectedPod(ns, 'after-bad-upgrade');
  });

  it('explains why a namespace enforcing Pod Security baseline refuses injected pods', async () => {
    const restricted = await createNamespace('baseline', {
      'outrigger-injection': 'enabled',
      'pod-security.kubernetes.io/enforce': 'baseline',
    });
    try {
      const result = await kubectl(
        ['-n', restricted, 'create', '-f', '-'],
        appPod({ name: 'refused' }),
      );
      assert.notEqual(result.code, 0, 'PodSecurity refuses the injected pod');
      assert.match(result.stderr, /forbidden/i);
      // The injector's own warning says why injection did it.
      assert.match(result.stderr, /Warning:.*outrigger/i);
      assert.match(result.stderr, /baseline/);
      assert.match(result.stderr, /NET_ADMIN/);
    } finally {
      await deleteNamespace(restricted);
    }
  });

  it('removes the webhook configuration on helm uninstall', async () => {
    const result = await helm(['uninstall', RELEASE.name, '-n', RELEASE.namespace, '--wait']);
    assert.equal(result.code, 0, result.stderr);
    const gone = await kubectl(['get', 'mutatingwebhookconfiguration', WEBHOOK_CONFIG]);
    assert.notEqual(gone.code, 0, 'the webhook configuration is gone');
    // Pods are admitted (uninjected) again.
    const created = await kubectl(['-n', ns, 'create', '-f', '-'], appPod({ name: 'uninstalled' }));
    assert.equal(created.code, 0, created.stderr);
    const pod = JSON.parse(await kubectlOk(['-n', ns, 'get', 'pod', 'uninstalled', '-o', 'json']));
    assert.equal(pod.metadata.annotations?.['sidecar.outrigger.dev/status'], undefined);
    // Put it back for the suites that follow.
    await installRelease();
    assert.ok((await caBundles())[0], 'reinstalled with a fresh caBundle');
  });
});
