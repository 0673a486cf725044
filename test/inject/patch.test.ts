// Patch construction details that golden files do not show on their own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import jsonPatch from 'fast-json-patch';
import { buildPatch, escapePointerToken } from '../../src/inject/patch.ts';
import type { Injection } from '../../src/inject/render.ts';

test('RFC 6901 escaping: ~ before /, so "~1" in a key survives', () => {
  assert.equal(escapePointerToken('a/b'), 'a~1b');
  assert.equal(escapePointerToken('a~b'), 'a~0b');
  assert.equal(escapePointerToken('~1'), '~01');
  const doc = { metadata: { annotations: {} } };
  const injection: Injection = {
    layout: 'native',
    initContainers: [],
    containers: [],
    volumes: [],
    annotations: { 'x.io/~1odd~/key': 'v' },
  };
  const patched = jsonPatch.applyPatch(doc, buildPatch(doc, injection), true, false).newDocument;
  assert.deepEqual(patched.metadata.annotations, { 'x.io/~1odd~/key': 'v' });
});

test('only add operations, and missing maps are created before their keys', () => {
  const injection: Injection = {
    layout: 'classic',
    initContainers: [{ name: 'i' }],
    containers: [{ name: 'c' }],
    volumes: [{ name: 'v' }],
    annotations: { a: '1' },
  };
  const ops = buildPatch({ spec: { containers: [{ name: 'app' }] } }, injection);
  assert.ok(ops.every((op) => op.op === 'add'));
  assert.deepEqual(
    ops.map((op) => op.path),
    [
      '/spec/initContainers',
      '/spec/initContainers/0',
      '/spec/containers/-',
      '/spec/volumes',
      '/spec/volumes/-',
      '/metadata',
      '/metadata/annotations',
      '/metadata/annotations/a',
    ],
  );
});
