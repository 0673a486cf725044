// `outrigger inject` edits documents: what it does not add survives as it was
// written, untouched documents come out byte for byte, no anchor is ever
// written, and the result is exactly the pod the webhook would make.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { expectGolden } from '../support/golden.ts';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const STYLES = new URL('./testdata/inject/styles.yaml', import.meta.url).pathname;
const GOLDEN = new URL('./testdata/inject/styles.injected.yaml', import.meta.url).pathname;

function outrigger(args: string[], input?: string) {
  const run = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

test('inject keeps comments, key order, flow style and markers, and writes no anchor (golden)', () => {
  const run = outrigger(['inject', '-f', STYLES]);
  assert.equal(run.code, 0, run.stderr);
  expectGolden(GOLDEN, run.stdout);
  for (const kept of [
    '# A leading comment, before the first marker.\n---\n# The web deployment',
    'name: web # trailing comment',
    // The comment survives; the spaces before it are yaml's one.
    'image: nginx:1.27 # pinned',
    '      # the app itself\n      containers:',
    'matchLabels: {app: web}',
  ]) {
    assert.ok(run.stdout.includes(kept), `lost: ${kept}`);
  }
  assert.doesNotMatch(run.stdout, /[&*]a\d/, 'an anchor or alias was written');
  const docs = parseAllDocuments(run.stdout).map((d) => d.toJS());
  assert.equal(docs.length, 3);
  assert.deepEqual(
    docs[2].items.map(
      (pod: { spec: { initContainers?: unknown[] } }) => pod.spec.initContainers?.length ?? 0,
    ),
    [0, 2],
  );
});

test('a document without an injected template is copied byte for byte', () => {
  const source = readFileSync(STYLES, 'utf8');
  const configMap = source.slice(
    source.indexOf('---\n# Not a workload'),
    source.indexOf('...\n') + 4,
  );
  const run = outrigger(['inject', '-f', STYLES]);
  assert.ok(run.stdout.includes(configMap), 'the ConfigMap changed');
  const untouched =
    '# only a comment\napiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels:   {sidecar.outrigger.dev/inject: "false"}\nspec: {containers: [{name: a, image: a}]}\n';
  assert.equal(outrigger(['inject', '-f', '-'], untouched).stdout, untouched);
});

test('inject takes several -f, directories (-R for subdirectories) and standard input, in order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-inject-'));
  const pod = (name: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec: {containers: [{name: a, image: a}]}\n`;
  writeFileSync(join(dir, 'a.yaml'), pod('a'));
  writeFileSync(join(dir, 'b.yml'), pod('b'));
  writeFileSync(join(dir, 'notes.txt'), 'not a manifest');
  mkdirSync(join(dir, 'nested'));
  writeFileSync(join(dir, 'nested', 'c.yaml'), pod('c'));
  const names = (stdout: string) =>
    parseAllDocuments(stdout).map(
      (d) => (d.toJS() as { metadata: { name: string } }).metadata.name,
    );
  const flat = outrigger(['inject', '-f', dir, '-f', '-'], pod('stdin'));
  assert.equal(flat.code, 0, flat.stderr);
  assert.deepEqual(names(flat.stdout), ['a', 'b', 'stdin']);
  const recursive = outrigger(['inject', '-R', '-f', dir, '-f', join(dir, 'a.yaml')]);
  assert.deepEqual(names(recursive.stdout), ['a', 'b', 'c', 'a']);
  for (const doc of parseAllDocuments(recursive.stdout)) {
    assert.ok(JSON.stringify(doc.toJS()).includes('outrigger-proxy'));
  }
});

test('every bad annotation in every document is reported, the rest injected, and the exit is 1', () => {
  const input = [
    'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad1\n  annotations:\n    sidecar.outrigger.dev/proxyCPU: fast\n    traffic.sidecar.outrigger.dev/excludeInboundPorts: "99999"\nspec: {containers: [{name: a, image: a}]}\n',
    'apiVersion: v1\nkind: Pod\nmetadata: {name: good}\nspec: {containers: [{name: a, image: a}]}\n',
    'apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad2\n  annotations: {sidecar.outrigger.dev/logLevel: loud}\nspec: {containers: [{name: a, image: a}]}\n',
  ].join('---\n');
  const run = outrigger(['inject', '-f', '-'], input);
  assert.equal(run.code, 1);
  const problems = run.stderr.split('\n').filter((l) => l.startsWith('outrigger: '));
  assert.equal(problems.length, 3, run.stderr);
  assert.match(
    problems[0] ?? '',
    /standard input: pod\/bad1: annotation traffic\.sidecar\.outrigger\.dev\/excludeInboundPorts: invalid value "99999"/,
  );
  assert.match(
    problems[1] ?? '',
    /pod\/bad1: annotation sidecar\.outrigger\.dev\/proxyCPU: invalid value "fast"/,
  );
  assert.match(
    problems[2] ?? '',
    /pod\/bad2: annotation sidecar\.outrigger\.dev\/logLevel: invalid value "loud"/,
  );
  const docs = parseAllDocuments(run.stdout).map((d) => JSON.stringify(d.toJS()));
  assert.equal(docs.length, 3);
  assert.ok(!docs[0]?.includes('outrigger-proxy') && docs[1]?.includes('outrigger-proxy'));
});
