// dist/images/images.json after a partial build (`--only`): what was rebuilt
// replaces its old entry, the rest stays while its archive is there.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type BuiltImage, readImagesJson, writeImagesJson } from '../../images/images-json.ts';

const entry = (dir: string, name: string, tag: string): BuiltImage => ({
  name,
  reference: `ghcr.io/outrigger/${name}:${tag}`,
  digest: `sha256:${name.padEnd(64, '0')}`,
  archive: join(dir, `${name}.tar`),
  sizeBytes: 1,
});

test('a partial build keeps the other images whose archives remain, in catalog order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-images-json-'));
  try {
    const order = ['injector', 'init', 'proxy'];
    for (const name of order) writeFileSync(join(dir, `${name}.tar`), '');
    writeImagesJson(
      dir,
      dir,
      order.map((name) => entry(dir, name, 'old')),
      order,
    );
    rmSync(join(dir, 'init.tar'));
    writeImagesJson(dir, dir, [entry(dir, 'proxy', 'new')], order);
    assert.deepEqual(
      readImagesJson(dir).map((image) => image.reference),
      ['ghcr.io/outrigger/injector:old', 'ghcr.io/outrigger/proxy:new'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no images.json reads as nothing built', () => {
  assert.deepEqual(readImagesJson(join(tmpdir(), 'outrigger-no-such-dir')), []);
});
