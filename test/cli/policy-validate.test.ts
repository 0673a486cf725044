// `outrigger policy validate` as a user runs it: bare documents and ConfigMaps,
// several -f, directories and standard input; every problem with its file and
// path; the documented exit codes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { POLICY_VALIDATE_EXIT } from '../../src/cli/policy-validate.ts';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const EXAMPLE = new URL('../../examples/policy.yaml', import.meta.url).pathname;

function outrigger(args: string[], input?: string) {
  const run = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

const HEAD = 'apiVersion: outrigger.dev/v1alpha1\nkind: TrafficPolicy\n';
const indent = (text: string) => text.replace(/^(?=.)/gm, '    ');
const configMap = (name: string, policy: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}, namespace: shop}\ndata:\n  policy.yaml: |\n${indent(policy)}`;

function directory(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-policy-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

test('a valid bare document: exit 0 and a summary on stdout', () => {
  const run = outrigger(['policy', 'validate', '-f', EXAMPLE]);
  assert.equal(run.code, POLICY_VALIDATE_EXIT.valid, run.stderr);
  assert.match(
    run.stdout,
    /policy\.yaml: TrafficPolicy: valid \(outbound blockAll, 2 allow entries, 1 listener, 2 routes\)/,
  );
  assert.equal(run.stderr, '');
});

test('a ConfigMap from standard input: every problem with its document and path, exit 1', () => {
  const bad = `${HEAD}outbound: {mode: blockall}\nlisteners: [{port: 0, direction: inbound}]\n`;
  const input = `${configMap('good', HEAD)}---\n${configMap('bad', bad)}`;
  const run = outrigger(['policy', 'validate', '-f', '-'], input);
  assert.equal(run.code, POLICY_VALIDATE_EXIT.invalid);
  assert.match(run.stdout, /^standard input document 1: ConfigMap shop\/good: valid/m);
  assert.match(
    run.stderr,
    /^standard input document 2: ConfigMap shop\/bad: \/outbound\/mode: expected one of allowAny, blockAll \(got "blockall"\)$/m,
  );
  assert.match(
    run.stderr,
    /^standard input document 2: ConfigMap shop\/bad: \/listeners\/0\/port: /m,
  );
  assert.match(run.stderr, /^1 of 2 policies invalid$/m);
});

test('directories (-R for subdirectories) and several -f; other kinds are passed over with a note', (t) => {
  const dir = directory({
    'a.yaml': HEAD,
    'b.json': JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [{ kind: 'ConfigMap', metadata: { name: 'x' }, data: { 'policy.yaml': HEAD } }],
    }),
    'deploy.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n',
    'notes.txt': 'not read',
    'sub/c.yml': `${HEAD}listeners: [{port: 8080, direction: inbound, routes: [{name: r}]}]\n`,
  });
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  const flat = outrigger(['policy', 'validate', '-f', dir, '-f', EXAMPLE]);
  assert.equal(flat.code, POLICY_VALIDATE_EXIT.valid, flat.stderr);
  assert.equal(flat.stdout.trim().split('\n').length, 3, flat.stdout);
  assert.match(flat.stdout, /b\.json item 1: ConfigMap x: valid/);
  assert.match(
    flat.stderr,
    /deploy\.yaml: a Deployment, not a TrafficPolicy or a ConfigMap; passed over/,
  );

  const deep = outrigger(['policy', 'validate', '-R', '-f', dir]);
  assert.equal(deep.code, POLICY_VALIDATE_EXIT.invalid);
  assert.match(
    deep.stderr,
    /sub\/c\.yml: TrafficPolicy: \/listeners\/0\/routes: routes need protocol: http on this listener/,
  );
});

test('no policy in the input: exit 3; a document without kind is judged as a policy', () => {
  const none = outrigger(
    ['policy', 'validate', '-f', '-'],
    'kind: ConfigMap\nmetadata: {name: other}\ndata: {a: b}\n',
  );
  assert.equal(none.code, POLICY_VALIDATE_EXIT.noPolicy);
  assert.match(none.stderr, /ConfigMap other has no policy\.yaml key; passed over/);
  assert.match(none.stderr, /no TrafficPolicy and no ConfigMap with a policy\.yaml key/);

  const bare = outrigger(['policy', 'validate', '-f', '-'], 'outbound: {mode: blockAll}\n');
  assert.equal(bare.code, POLICY_VALIDATE_EXIT.invalid);
  assert.match(bare.stderr, /standard input: TrafficPolicy: \/apiVersion: /);
});

test('bad YAML and a missing file are reported, never a stack trace', () => {
  const yaml = outrigger(['policy', 'validate', '-f', '-'], `${HEAD}outbound: [unclosed\n`);
  assert.equal(yaml.code, POLICY_VALIDATE_EXIT.invalid);
  assert.match(yaml.stderr, /standard input: document: not valid YAML: /);
  const missing = outrigger(['policy', 'validate', '-f', '/nonexistent/policy.yaml']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\[OUTRIGGER_INVALID_MANIFEST\]/);
  assert.doesNotMatch(missing.stderr, /at .*\.ts:\d+/);
});

test('check shows which policy each injected pod gets, and judges a policy ConfigMap found in the input', (t) => {
  const dir = directory({
    'config.yaml': 'policy: {defaultConfigMap: mesh-policy, namespaces: {lab: ""}}\n',
  });
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pod = (name: string, namespace: string, annotations: Record<string, string> = {}) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, annotations },
      spec: { containers: [{ name: 'app', image: 'app' }] },
    });
  const documents = [
    pod('named', 'shop', { 'sidecar.outrigger.dev/policy': 'web-policy' }),
    pod('defaulted', 'shop'),
    pod('opted-out', 'shop', { 'sidecar.outrigger.dev/policy': '' }),
    pod('lab', 'lab'),
    configMap('web-policy', `${HEAD}outbound: {mode: blockAll}\n`),
  ];
  const check = (docs: string[]) =>
    outrigger(
      ['check', '-f', '-', '--config', join(dir, 'config.yaml'), '--json'],
      docs.join('\n---\n'),
    );

  const run = check(documents);
  assert.equal(run.code, 0, run.stderr);
  const policies = (JSON.parse(run.stdout) as Array<{ ref: string; policy: unknown }>).map((r) => [
    r.ref,
    r.policy,
  ]);
  assert.deepEqual(policies, [
    [
      'pod/named',
      {
        configMap: 'web-policy',
        reason: 'annotation',
        explanation:
          'ConfigMap web-policy (named by the pod’s sidecar.outrigger.dev/policy annotation)',
        found: {
          state: 'valid',
          summary: 'outbound blockAll, 0 allow entries, 0 listeners, 0 routes',
        },
      },
    ],
    [
      'pod/defaulted',
      {
        configMap: 'mesh-policy',
        reason: 'mesh_default',
        explanation:
          'ConfigMap mesh-policy (the injection configuration’s policy.defaultConfigMap)',
      },
    ],
    [
      'pod/opted-out',
      {
        reason: 'opted_out_by_annotation',
        explanation:
          'none (the pod’s sidecar.outrigger.dev/policy annotation is empty, which opts it out of the default)',
      },
    ],
    [
      'pod/lab',
      {
        reason: 'namespace_opted_out',
        explanation:
          'none (the configuration’s policy.namespaces entry for the namespace is empty)',
      },
    ],
  ]);

  // The same ConfigMap, broken: exit 5 and the problem under the pod in the text output.
  const broken = [
    ...documents.slice(0, 4),
    configMap('web-policy', `${HEAD}outbound: {mode: allow}\n`),
  ];
  const text = outrigger(
    ['check', '-f', '-', '--config', join(dir, 'config.yaml')],
    broken.join('\n---\n'),
  );
  assert.equal(text.code, 5);
  assert.match(
    text.stdout,
    /pod\/named \(namespace shop\): would be injected[^\n]*\n {2}policy: ConfigMap web-policy [^\n]*: INVALID[^\n]*\n {4}\/outbound\/mode: expected one of allowAny, blockAll \(got "allow"\)\n/,
  );
  assert.match(
    text.stdout,
    /pod\/defaulted[^\n]*\n {2}policy: ConfigMap mesh-policy [^\n]*: not checked/,
  );
  // A refusal still wins over a policy problem.
  const refused = check([...broken, pod('bad', 'shop', { 'sidecar.outrigger.dev/policy': 'Bad' })]);
  assert.equal(refused.code, 4);
});
