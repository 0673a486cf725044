// proxy-status judges injected pods against the injector that runs now, and
// names the command that re-creates each stale one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { formatProxyStatus, formatVersion, judgePods } from '../../src/cli/proxy-status.ts';

const injected = (
  name: string,
  version: string,
  image: string,
  owner?: { kind: string; name: string },
  hash?: string,
): V1Pod => ({
  metadata: {
    name,
    namespace: 'shop',
    annotations: { 'sidecar.outrigger.dev/status': JSON.stringify({ version }) },
    ...(hash ? { labels: { 'pod-template-hash': hash } } : {}),
    ...(owner
      ? { ownerReferences: [{ ...owner, apiVersion: 'apps/v1', uid: 'u', controller: true }] }
      : {}),
  },
  spec: {
    initContainers: [{ name: 'outrigger-proxy', image }],
    containers: [{ name: 'app', image: 'app' }],
  },
});

const injector = {
  deployment: 'outrigger-system/outrigger',
  version: '0.2.0',
  image: 'ghcr.io/outrigger/injector:0.2.0',
  proxyImage: 'ghcr.io/outrigger/proxy:0.2.0',
};

test('current pods pass; stale ones say why and how to restart their workload', () => {
  const pods = [
    injected(
      'web-7d9f-abcde',
      '0.2.0',
      'ghcr.io/outrigger/proxy:0.2.0',
      { kind: 'ReplicaSet', name: 'web-7d9f' },
      '7d9f',
    ),
    injected(
      'web-old-1',
      '0.1.0',
      'ghcr.io/outrigger/proxy:0.1.0',
      { kind: 'ReplicaSet', name: 'web-5c6b' },
      '5c6b',
    ),
    injected('db-0', '0.2.0', 'ghcr.io/outrigger/proxy:0.1.0', { kind: 'StatefulSet', name: 'db' }),
    injected('debug', '0.1.0', 'ghcr.io/outrigger/proxy:0.1.0'),
    { metadata: { name: 'plain', namespace: 'shop' }, spec: { containers: [{ name: 'a' }] } },
  ];
  const rows = judgePods(pods, injector);
  assert.deepEqual(
    rows.map((r) => [r.pod, r.stale.length, r.restart]),
    [
      ['web-7d9f-abcde', 0, 'kubectl rollout restart deployment/web -n shop'],
      ['web-old-1', 2, 'kubectl rollout restart deployment/web -n shop'],
      ['db-0', 1, 'kubectl rollout restart statefulset/db -n shop'],
      ['debug', 2, 'kubectl delete pod debug -n shop (then create it again)'],
    ],
  );
  const text = formatProxyStatus(rows, injector);
  assert.match(
    text,
    /shop\/web-7d9f-abcde: proxy ghcr\.io\/outrigger\/proxy:0\.2\.0, injector 0\.2\.0: current/,
  );
  assert.match(
    text,
    /shop\/db-0: .*STALE \(proxy ghcr\.io\/outrigger\/proxy:0\.1\.0, new pods get ghcr\.io\/outrigger\/proxy:0\.2\.0\)\n {2}kubectl rollout restart statefulset\/db -n shop/,
  );
  const version = formatVersion(injector, rows);
  assert.match(
    version,
    /^client: outrigger \S+\ninjector: outrigger-system\/outrigger version 0\.2\.0/,
  );
  assert.match(version, /proxy: ghcr\.io\/outrigger\/proxy:0\.1\.0 \(injector 0\.1\.0\) in 2 pods/);
});
