// The injector renders the proxy's environment; outrigger-proxy reads it. This
// pins the two ends together: what the pod's annotations ask for is what the
// proxy resolves, and nothing the injector can render makes the proxy refuse
// to start.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { resolveConfig } from '../../proxy/src/config.ts';
import { defaultConfig } from '../../src/config/load.ts';
import { LOG_LEVELS } from '../../src/config/schema.ts';
import { readOverrides } from '../../src/inject/overrides.ts';
import { renderSidecar } from '../../src/inject/render.ts';

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
    'sidecar.outrigger.dev/forwardPodIdentity': 'true',
    'sidecar.outrigger.dev/addRequestHeaders': 'X-Team: payments\nAccept: a, b',
    'sidecar.outrigger.dev/addResponseHeaders': 'Server: outrigger',
  });
  assert.deepEqual(sidecar.args, undefined, 'the proxy is started with no flags');
  const config = resolveConfig([], kubeletEnv(sidecar.env ?? []));
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.accessLog, true);
  assert.equal(config.forwardPodIdentity, true);
  assert.deepEqual(config.pod, {
    name: 'web-7d9f-abcde',
    namespace: 'shop',
    ip: '192.0.2.10',
    nodeName: 'node-1',
    serviceAccount: 'web',
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
  assert.equal(config.drainTimeoutMs, 20_000);
});

test('every log level the injector accepts starts the proxy', () => {
  for (const level of LOG_LEVELS) {
    const sidecar = sidecarFor({ 'sidecar.outrigger.dev/logLevel': level });
    assert.equal(resolveConfig([], kubeletEnv(sidecar.env ?? [])).logLevel, level);
  }
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
