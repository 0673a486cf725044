// The caBundle patch: only webhooks that lack the bundle are touched, and each
// write is pinned to the webhook's name so a reordered configuration fails safe.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { caBundlePatch, everyWebhookTrusts } from '../../src/certs/ca-bundle-patch.ts';

const bundle = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
const encoded = Buffer.from(bundle).toString('base64');

it('adds the bundle to each webhook that lacks it, guarded by a name test', () => {
  const patch = caBundlePatch(
    [
      { name: 'a.example.test', caBundle: encoded },
      { name: 'b.example.test' },
      { name: 'c.example.test', caBundle: 'eA==' },
    ],
    bundle,
  );
  assert.deepEqual(patch, [
    { op: 'test', path: '/webhooks/1/name', value: 'b.example.test' },
    { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: encoded },
    { op: 'test', path: '/webhooks/2/name', value: 'c.example.test' },
    { op: 'add', path: '/webhooks/2/clientConfig/caBundle', value: encoded },
  ]);
});

it('is empty when every webhook already carries the bundle', () => {
  assert.deepEqual(caBundlePatch([{ name: 'a', caBundle: encoded }], bundle), []);
});

it('knows whether every webhook trusts a certificate', () => {
  const cert = bundle.trim();
  assert.equal(
    everyWebhookTrusts(
      [
        { name: 'a', caBundle: encoded },
        { name: 'b', caBundle: encoded },
      ],
      cert,
    ),
    true,
  );
  assert.equal(everyWebhookTrusts([{ name: 'a', caBundle: encoded }, { name: 'b' }], cert), false);
  assert.equal(everyWebhookTrusts([], cert), false);
});
