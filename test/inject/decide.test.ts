// The decision truth table, row by row, plus the errors for bad inject values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { errors, isOutriggerError } from '../../src/errors.ts';
import { decideInjection } from '../../src/inject/decide.ts';

const KEY = 'sidecar.outrigger.dev/inject';

function pod(
  options: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    hostNetwork?: boolean;
  } = {},
): V1Pod {
  return {
    metadata: { name: 'p', labels: options.labels, annotations: options.annotations },
    spec: { hostNetwork: options.hostNetwork, containers: [{ name: 'app', image: 'app' }] },
  };
}

const config = defaultConfig();
const ctx = { namespace: 'demo' };

test('row 1: system namespaces, the injector’s own and configured ones are never injected', () => {
  for (const namespace of [
    'kube-system',
    'kube-public',
    'kube-node-lease',
    'outrigger-system',
    'legacy',
  ]) {
    const decision = decideInjection(
      pod({ labels: { [KEY]: 'true' } }),
      { namespace, injectorNamespace: 'outrigger-system' },
      parseConfig('ignoredNamespaces: [legacy]', 't'),
    );
    assert.deepEqual(decision, { inject: false, reason: 'ignored_namespace' }, namespace);
  }
});

test('rows 2-3: known namespace labels must say enabled', () => {
  const decide = (labels: Record<string, string>) =>
    decideInjection(pod(), { namespace: 'demo', namespaceLabels: labels }, config);
  assert.equal(decide({ 'outrigger-injection': 'disabled' }).reason, 'namespace_disabled');
  assert.equal(decide({}).reason, 'namespace_not_enabled');
  assert.equal(decide({ 'outrigger-injection': 'yes' }).reason, 'namespace_not_enabled');
  assert.deepEqual(decide({ 'outrigger-injection': 'enabled' }), {
    inject: true,
    reason: 'default_inject',
  });
});

test('row 3: a pod labelled inject=true opts in from an unlabelled namespace, as the opt-in entries select', () => {
  const decide = (
    labels: Record<string, string>,
    podLabels: Record<string, string> | undefined,
    podOptIn = true,
  ) =>
    decideInjection(
      pod({ labels: podLabels }),
      { namespace: 'demo', namespaceLabels: labels },
      { ...config, podOptIn },
    ).reason;
  assert.equal(decide({}, { [KEY]: 'true' }), 'enabled_by_label');
  assert.equal(decide({}, { [KEY]: 'true' }, false), 'namespace_not_enabled');
  assert.equal(decide({}, undefined), 'namespace_not_enabled');
  // The annotation is invisible to the apiserver's objectSelector, so it cannot opt in.
  assert.equal(
    decideInjection(
      pod({ annotations: { [KEY]: 'true' } }),
      { namespace: 'demo', namespaceLabels: {} },
      config,
    ).reason,
    'namespace_not_enabled',
  );
  // A namespace that says disabled (or anything but enabled) is never overridden.
  assert.equal(
    decide({ 'outrigger-injection': 'disabled' }, { [KEY]: 'true' }),
    'namespace_disabled',
  );
  assert.equal(
    decide({ 'outrigger-injection': 'off' }, { [KEY]: 'true' }),
    'namespace_not_enabled',
  );
});

test('row 5: a pod carrying Istio’s or Linkerd’s sidecar is skipped, even when it opts in', () => {
  const istio = pod({ labels: { [KEY]: 'true' } });
  istio.spec?.containers.push({ name: 'istio-proxy' });
  const istioInit = pod();
  istioInit.spec = {
    ...istioInit.spec,
    containers: istioInit.spec?.containers ?? [],
    initContainers: [{ name: 'istio-init' }],
  };
  const istioStatus = pod({ annotations: { 'sidecar.istio.io/status': '{}' } });
  const linkerd = pod();
  linkerd.spec?.containers.push({ name: 'linkerd-proxy' });
  const linkerdVersion = pod({ annotations: { 'linkerd.io/proxy-version': 'stable-2.14.10' } });
  for (const meshed of [istio, istioInit, istioStatus, linkerd, linkerdVersion]) {
    assert.equal(decideInjection(meshed, ctx, config).reason, 'other_mesh_sidecar');
  }
  // Istio's opt-out annotation alone is not a sidecar.
  assert.equal(
    decideInjection(pod({ annotations: { 'sidecar.istio.io/inject': 'false' } }), ctx, config)
      .reason,
    'default_inject',
  );
});

test('row 4: an injected pod is never injected again, whatever it asks', () => {
  const injected = pod({
    labels: { [KEY]: 'true' },
    annotations: { 'sidecar.outrigger.dev/status': '{}' },
  });
  assert.equal(decideInjection(injected, ctx, config).reason, 'sidecar_already_exists');
  const withProxy = pod();
  withProxy.spec?.containers.push({ name: 'outrigger-proxy' });
  assert.equal(decideInjection(withProxy, ctx, config).reason, 'sidecar_already_exists');
});

test('row 6: hostNetwork pods are skipped even when they opt in', () => {
  assert.equal(
    decideInjection(pod({ hostNetwork: true, labels: { [KEY]: 'true' } }), ctx, config).reason,
    'host_network_enabled',
  );
});

test('rows 7-10: the label wins over the annotation', () => {
  const cases: Array<
    [Record<string, string> | undefined, Record<string, string> | undefined, string]
  > = [
    [{ [KEY]: 'false' }, { [KEY]: 'true' }, 'injection_disabled_by_label'],
    [{ [KEY]: 'true' }, { [KEY]: 'false' }, 'enabled_by_label'],
    [undefined, { [KEY]: 'false' }, 'injection_disabled_by_annotation'],
    [undefined, { [KEY]: 'true' }, 'enabled_by_annotation'],
  ];
  for (const [labels, annotations, reason] of cases) {
    assert.equal(decideInjection(pod({ labels, annotations }), ctx, config).reason, reason);
  }
});

test('rows 11-14: selectors and defaultInject decide pods that say nothing', () => {
  const selectors = parseConfig(
    `neverInjectSelector: [{matchLabels: {tier: batch}}]
alwaysInjectSelector: [{matchExpressions: [{key: mesh, operator: Exists}]}]
defaultInject: false`,
    't',
  );
  assert.equal(
    decideInjection(pod({ labels: { tier: 'batch', mesh: 'x' } }), ctx, selectors).reason,
    'never_inject_selector',
  );
  assert.equal(
    decideInjection(pod({ labels: { mesh: 'x' } }), ctx, selectors).reason,
    'always_inject_selector',
  );
  assert.equal(
    decideInjection(pod({ labels: { other: 'x' } }), ctx, selectors).reason,
    'not_default_injected',
  );
  // An explicit opt-in beats a neverInjectSelector.
  assert.equal(
    decideInjection(pod({ labels: { tier: 'batch', [KEY]: 'true' } }), ctx, selectors).reason,
    'enabled_by_label',
  );
  assert.equal(decideInjection(pod(), ctx, config).reason, 'default_inject');
});

test('inject values other than "true"/"false" are refused, naming label or annotation', () => {
  for (const [labels, annotations, factory] of [
    [{ [KEY]: 'yes' }, undefined, errors.INVALID_LABEL],
    [undefined, { [KEY]: 'TRUE' }, errors.INVALID_ANNOTATION],
  ] as const) {
    assert.throws(
      () => decideInjection(pod({ labels, annotations }), ctx, config),
      (err) => isOutriggerError(err, factory) && err.message.includes(KEY),
    );
  }
});
