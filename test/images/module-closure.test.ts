// What an image carries of the repository: the files reachable from its entry
// point and the npm packages they need, found from the sources as they are.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { packageClosure, packageName, sourceClosure } from '../../images/module-closure.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('package names come from bare specifiers, scoped or not', () => {
  assert.equal(packageName('prom-client/lib/registry'), 'prom-client');
  assert.equal(packageName('@kubernetes/client-node'), '@kubernetes/client-node');
  assert.equal(packageName('@sinclair/typebox/value'), '@sinclair/typebox');
});

test('the proxy needs neither fastify nor the Kubernetes client, but koffi and its linux-x64 binary', () => {
  const proxy = sourceClosure(root, ['proxy/src/main.ts']);
  assert.ok(proxy.files.includes('proxy/src/original-destination.ts'));
  assert.ok(proxy.files.every((file) => !file.startsWith('src/webhook/')));
  // TypeBox and yaml read the traffic policy file (loaded only when one is given).
  assert.deepEqual(proxy.packages, [
    '@sinclair/typebox',
    'commander',
    'ipaddr.js',
    'koffi',
    'prom-client',
    'yaml',
  ]);
  const packages = packageClosure(root, proxy.packages);
  assert.ok(packages.includes('node_modules/@koromix/koffi-linux-x64'));
  assert.ok(!packages.some((dir) => /fastify|@kubernetes/.test(dir)));
});

test('the init program needs only commander and ipaddr.js (the CIDR grammar it shares with admission)', () => {
  assert.deepEqual(sourceClosure(root, ['src/iptables/main.ts']).packages, [
    'commander',
    'ipaddr.js',
  ]);
});

test('the injector reaches the lazily imported certificate code and its Kubernetes client', () => {
  const injector = sourceClosure(root, ['src/cli/main.ts']);
  assert.ok(injector.files.includes('src/certs/cluster-serving.ts'));
  assert.ok(injector.packages.includes('@kubernetes/client-node'));
  assert.ok(injector.packages.includes('fastify'));
});

test('a missing required package is an error, a missing optional one is another platform', () => {
  assert.throws(() => packageClosure(root, ['no-such-package-here']), /not installed/);
  const koffi = packageClosure(root, ['koffi']);
  assert.deepEqual(koffi, ['node_modules/@koromix/koffi-linux-x64', 'node_modules/koffi']);
});
