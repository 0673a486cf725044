// Which policy ConfigMap a pod's proxy gets: choosePolicy's truth table, row by
// row, and what injection renders for each answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { errors, isOutriggerError } from '../../src/errors.ts';
import { injectPod } from '../../src/inject/inject.ts';
import { readOverrides } from '../../src/inject/overrides.ts';
import { choosePolicy, describePolicy } from '../../src/inject/policy.ts';
import { POLICY_VOLUME } from '../../src/inject/render.ts';
import { PROXY_CONTAINER_NAME, PROXY_ENV } from '../../src/shared/contract.ts';
import { POLICY_FILE, POLICY_MOUNT_DIR } from '../../src/shared/policy/parse.ts';

const config = parseConfig(
  'policy: {defaultConfigMap: mesh-policy, namespaces: {shop: shop-policy, lab: ""}}',
  'test',
);

function pod(annotations: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name: 'p', annotations },
    spec: { containers: [{ name: 'app', image: 'example.com/app:1' }] },
  };
}

test('the truth table: annotation, then the namespace entry, then the default', () => {
  const rows: Array<[string, Record<string, string>, string | undefined, string]> = [
    ['shop', { 'sidecar.outrigger.dev/policy': 'mine' }, 'mine', 'annotation'],
    ['shop', { 'sidecar.outrigger.dev/policy': '' }, undefined, 'opted_out_by_annotation'],
    ['shop', {}, 'shop-policy', 'namespace_default'],
    ['lab', {}, undefined, 'namespace_opted_out'],
    ['lab', { 'sidecar.outrigger.dev/policy': 'mine' }, 'mine', 'annotation'],
    ['other', {}, 'mesh-policy', 'mesh_default'],
  ];
  for (const [namespace, annotations, configMap, reason] of rows) {
    const choice = choosePolicy(namespace, readOverrides(pod(annotations)), config);
    assert.deepEqual([choice.configMap, choice.reason], [configMap, reason], namespace);
    assert.ok(describePolicy(choice).length > 0);
  }
  assert.deepEqual(choosePolicy('shop', {}, defaultConfig()), { reason: 'no_policy' });
});

test('the mounted volume holds only policy.yaml, read-only, where OUTRIGGER_POLICY_FILE points', () => {
  for (const native of ['true', 'false']) {
    const annotations = {
      'sidecar.outrigger.dev/policy': 'web-policy',
      'sidecar.outrigger.dev/nativeSidecar': native,
    };
    const outcome = injectPod(pod(annotations), { namespace: 'shop' }, defaultConfig());
    assert.ok(outcome.injected);
    const { injection } = outcome;
    const proxy = [...injection.initContainers, ...injection.containers].find(
      (c) => c.name === PROXY_CONTAINER_NAME,
    );
    assert.ok(proxy, native);
    const mount = proxy.volumeMounts?.find((m) => m.name === POLICY_VOLUME);
    assert.deepEqual(mount, { name: POLICY_VOLUME, mountPath: POLICY_MOUNT_DIR, readOnly: true });
    assert.equal(proxy.env?.find((e) => e.name === PROXY_ENV.policyFile)?.value, POLICY_FILE);
    assert.equal(POLICY_FILE, `${POLICY_MOUNT_DIR}/policy.yaml`);
    const volume = injection.volumes.find((v) => v.name === POLICY_VOLUME);
    assert.deepEqual(volume?.configMap, {
      name: 'web-policy',
      items: [{ key: 'policy.yaml', path: 'policy.yaml' }],
      optional: false,
    });
    const status = JSON.parse(injection.annotations['sidecar.outrigger.dev/status'] ?? '{}');
    assert.ok(status.volumes.includes(POLICY_VOLUME), 'the status lists the volume for uninject');
  }
});

test('without a policy nothing about it is rendered', () => {
  const outcome = injectPod(pod(), { namespace: 'shop' }, defaultConfig());
  assert.ok(outcome.injected);
  const text = JSON.stringify(outcome.patch);
  assert.doesNotMatch(text, /outrigger-policy|OUTRIGGER_POLICY_FILE/);
});

test('two pods with the same overrides but different namespace defaults get their own volumes', () => {
  const shop = injectPod(pod(), { namespace: 'shop' }, config);
  const other = injectPod(pod(), { namespace: 'other' }, config);
  assert.ok(shop.injected && other.injected);
  const name = (o: typeof shop) =>
    o.injected ? o.injection.volumes.find((v) => v.name === POLICY_VOLUME)?.configMap?.name : '';
  assert.deepEqual([name(shop), name(other)], ['shop-policy', 'mesh-policy']);
});

test('a bad name is refused naming the annotation and the value; a user volume named outrigger-policy collides', () => {
  assert.throws(
    () =>
      injectPod(pod({ 'sidecar.outrigger.dev/policy': 'UPPER' }), { namespace: 'shop' }, config),
    (err) =>
      isOutriggerError(err, errors.INVALID_ANNOTATION) &&
      err.message.includes('sidecar.outrigger.dev/policy') &&
      err.message.includes('"UPPER"'),
  );
  const taken = pod({ 'sidecar.outrigger.dev/policy': 'web' });
  taken.spec = {
    ...taken.spec,
    containers: taken.spec?.containers ?? [],
    volumes: [{ name: POLICY_VOLUME, emptyDir: {} }],
  };
  assert.throws(
    () => injectPod(taken, { namespace: 'shop' }, config),
    (err) => isOutriggerError(err, errors.NAME_CONFLICT),
  );
});
