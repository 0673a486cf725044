// `outrigger uninject` as a user runs it: it takes out what inject put in,
// from files, directories and standard input, leaves pods it never injected
// alone with a note, and names the document whose status it cannot read.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const STYLES = new URL('./testdata/inject/styles.yaml', import.meta.url).pathname;
const WORKLOADS = new URL('./testdata/workloads.yaml', import.meta.url).pathname;

function outrigger(args: string[], input?: string) {
  const run = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const objects = (text: string) => parseAllDocuments(text).map((d) => d.toJS());

const pod = (name: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec: {containers: [{name: a, image: a}]}\n`;

test('uninject after inject gives back the manifests: comments, flow style and markers too', () => {
  const source = readFileSync(STYLES, 'utf8');
  const injected = outrigger(['inject', '-f', STYLES]);
  const back = outrigger(['uninject', '-f', '-'], injected.stdout);
  assert.equal(back.code, 0, back.stderr);
  // The one difference is the printer's: one space before a comment in a
  // document it prints again.
  assert.equal(back.stdout, source.replace('nginx:1.27   # pinned', 'nginx:1.27 # pinned'));
});

test('every workload kind comes back as it was', () => {
  const injected = outrigger(['inject', '-f', WORKLOADS]);
  assert.equal(injected.code, 0, injected.stderr);
  const back = outrigger(['uninject', '-f', '-'], injected.stdout);
  assert.equal(back.code, 0, back.stderr);
  assert.deepEqual(objects(back.stdout), objects(readFileSync(WORKLOADS, 'utf8')));
});

test('uninject takes several -f, directories (-R for subdirectories) and standard input, in order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-uninject-'));
  const injected = (name: string) => outrigger(['inject', '-f', '-'], pod(name)).stdout;
  writeFileSync(join(dir, 'a.yaml'), injected('a'));
  writeFileSync(join(dir, 'b.yml'), injected('b'));
  mkdirSync(join(dir, 'nested'));
  writeFileSync(join(dir, 'nested', 'c.yaml'), injected('c'));
  const flat = outrigger(['uninject', '-f', dir, '-f', '-'], injected('stdin'));
  assert.equal(flat.code, 0, flat.stderr);
  assert.deepEqual(objects(flat.stdout), objects([pod('a'), pod('b'), pod('stdin')].join('---\n')));
  const recursive = outrigger(['uninject', '-R', '-f', dir]);
  assert.equal(recursive.code, 0, recursive.stderr);
  assert.deepEqual(
    objects(recursive.stdout),
    objects([pod('a'), pod('b'), pod('c')].join('---\n')),
  );
  const out = join(dir, 'out.yaml');
  assert.equal(outrigger(['uninject', '-f', join(dir, 'a.yaml'), '-o', out]).code, 0);
  assert.equal(readFileSync(out, 'utf8'), pod('a'));
});

test('a pod that was never injected is copied byte for byte, with a note on stderr', () => {
  const source = `# kept\n${pod('plain').replace('{name: plain}', '{name: plain}   # odd spacing')}`;
  const run = outrigger(['uninject', '-f', '-'], source);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, source);
  assert.match(
    run.stderr,
    /^standard input: document 1: pod\/plain: not injected \(no sidecar\.outrigger\.dev\/status annotation\); left as it is\n$/,
  );
});

test('a status annotation that cannot be read is an error naming the document; the others are uninjected', () => {
  const bad = [
    'apiVersion: v1\nkind: Pod\nmetadata:\n  name: broken\n  annotations:\n    sidecar.outrigger.dev/status: "{not json"\nspec: {containers: [{name: a, image: a}]}\n',
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: odd}\nspec:\n  template:\n    metadata:\n      annotations: {sidecar.outrigger.dev/status: \'{"initContainers":"outrigger-init"}\'}\n    spec: {containers: [{name: a, image: a}]}\n',
  ];
  const good = outrigger(['inject', '-f', '-'], pod('good')).stdout;
  const input = [bad[0], good, bad[1]].join('---\n');
  const run = outrigger(['uninject', '-f', '-'], input);
  assert.equal(run.code, 1);
  const problems = run.stderr.split('\n').filter((l) => l.startsWith('outrigger: '));
  assert.equal(problems.length, 2, run.stderr);
  assert.match(
    problems[0] ?? '',
    /^outrigger: standard input: document 1: pod\/broken: annotation sidecar\.outrigger\.dev\/status: invalid value "\{not json": expected the JSON injection writes.* \[OUTRIGGER_INVALID_ANNOTATION\]$/,
  );
  assert.match(problems[1] ?? '', /^outrigger: standard input: document 3: deployment\/odd: /);
  const docs = run.stdout.split('---\n');
  assert.equal(docs[0], bad[0]);
  assert.equal(docs[1], pod('good'));
  assert.equal(docs[2], bad[1]);
});

test('what the user changed after injection is kept, and said', () => {
  const injected = outrigger(
    ['inject', '-f', '-'],
    'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: a\n      image: a\n      readinessProbe:\n        tcpSocket: {port: 8080}\n',
  ).stdout;
  // The user points the probe elsewhere and removes a volume by hand.
  const edited = injected
    .replace('path: /app-health/a/readyz', 'path: /mine')
    .replace(/^ {4}- name: outrigger-init-run\n(?: {6}.*\n)+/m, '');
  const run = outrigger(['uninject', '-f', '-'], edited);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /readinessProbe of container a no longer points at the proxy/);
  assert.match(run.stderr, /volumes lists outrigger-init-run, which the pod lacks/);
  const [result] = objects(run.stdout);
  assert.equal(result.spec.containers[0].readinessProbe.httpGet.path, '/mine');
  assert.equal(result.spec.volumes, undefined);
  assert.equal(result.metadata.annotations, undefined);
});
