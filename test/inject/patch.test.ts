// Patch construction details that golden files do not show on their own.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import jsonPatch from 'fast-json-patch';
import { defaultConfig } from '../../src/config/load.ts';
import { injectPod } from '../../src/inject/inject.ts';
import { buildPatch, escapePointerToken, serializePatch } from '../../src/inject/patch.ts';
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
    replacedAnnotations: [],
    probeRewrites: [],
    created: [],
  };
  const patched = jsonPatch.applyPatch(doc, buildPatch(injection), true, false).newDocument;
  assert.deepEqual(patched.metadata.annotations, { 'x.io/~1odd~/key': 'v' });
});

test('only add operations, and missing maps are created before their keys', () => {
  const injection: Injection = {
    layout: 'classic',
    initContainers: [{ name: 'i' }],
    containers: [{ name: 'c' }],
    volumes: [{ name: 'v' }],
    annotations: { a: '1' },
    replacedAnnotations: [],
    probeRewrites: [],
    created: ['/spec/initContainers', '/spec/volumes', '/metadata', '/metadata/annotations'],
  };
  const ops = buildPatch(injection);
  assert.ok(ops.every((op) => op.op === 'add'));
  assert.deepEqual(
    ops.map((op) => op.path),
    [
      '/spec/initContainers',
      '/spec/initContainers/0',
      '/spec/containers/0',
      '/spec/volumes',
      '/spec/volumes/-',
      '/metadata',
      '/metadata/annotations',
      '/metadata/annotations/a',
    ],
  );
});

test('a rewritten probe is one replace of that probe field, before any add', () => {
  const pod = {
    spec: {
      containers: [
        {
          name: 'app',
          ports: [{ name: 'http', containerPort: 8080 }],
          env: [{ name: 'A', value: '1' }],
          readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 3 },
          livenessProbe: { exec: { command: ['true'] } },
        },
      ],
    },
  };
  const outcome = injectPod(structuredClone(pod), { namespace: 'demo' }, defaultConfig());
  assert.ok(outcome.injected);
  const replaces = outcome.patch.filter((op) => op.op === 'replace');
  assert.deepEqual(replaces, [
    {
      op: 'replace',
      path: '/spec/containers/0/readinessProbe',
      value: {
        periodSeconds: 3,
        httpGet: { path: '/app-health/app/readyz', port: 15021, scheme: 'HTTP' },
      },
    },
  ]);
  assert.equal(outcome.patch[0], replaces[0], 'replaces come first');
  assert.equal(serializePatch(outcome.patch), JSON.stringify(outcome.patch));
});

test('serializePatch gives exactly JSON.stringify of the operations, shared values included', () => {
  const config = defaultConfig();
  const pod = {
    metadata: { annotations: { 'a/b~c': 'x' } },
    spec: { containers: [{ name: 'app' }] },
  };
  for (let i = 0; i < 3; i++) {
    const outcome = injectPod(structuredClone(pod), { namespace: 'demo' }, config);
    assert.ok(outcome.injected);
    assert.equal(serializePatch(outcome.patch), JSON.stringify(outcome.patch));
  }
});

test('shared rendered containers are frozen, so one pod cannot change the next one’s', () => {
  const config = defaultConfig();
  const pod = { spec: { containers: [{ name: 'app' }] } };
  const first = injectPod(pod, { namespace: 'demo' }, config);
  const second = injectPod(pod, { namespace: 'demo' }, config);
  assert.ok(first.injected && second.injected);
  assert.equal(first.injection.initContainers[0], second.injection.initContainers[0]);
  assert.throws(() => {
    (first.injection.initContainers[0] as { name: string }).name = 'changed';
  }, TypeError);
});
