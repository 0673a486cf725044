// The references the image builder writes: `<registry>/<name>:<tag>`, with
// registry and tag checked before anything is built.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_REGISTRY, imageReference } from '../../images/reference.ts';

test('a reference is registry, image name and tag', () => {
  assert.equal(imageReference(DEFAULT_REGISTRY, 'proxy', '0.1.0'), 'ghcr.io/outrigger/proxy:0.1.0');
  assert.equal(
    imageReference('localhost:5000/team/', 'init', 'dev-1'),
    'localhost:5000/team/init:dev-1',
    'a trailing slash is dropped',
  );
});

test('a registry or tag that no client would accept is refused', () => {
  assert.throws(() => imageReference('Registry.Example', 'proxy', '1'), /--registry/);
  assert.throws(() => imageReference('https://ghcr.io', 'proxy', '1'), /--registry/);
  assert.throws(() => imageReference(DEFAULT_REGISTRY, 'proxy', 'v1:2'), /--tag/);
  assert.throws(() => imageReference(DEFAULT_REGISTRY, 'proxy', '.hidden'), /--tag/);
});
