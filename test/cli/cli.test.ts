// The `outrigger` command as a user runs it: inject and check on manifests,
// from a file or standard input, and clear errors for bad input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';

const SOURCE_CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const BUILT_CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const WORKLOADS = new URL('./testdata/workloads.yaml', import.meta.url).pathname;

function outrigger(args: string[], input?: string, cli = SOURCE_CLI) {
  const run = spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

// biome-ignore lint/suspicious/noExplicitAny: the test walks arbitrary manifests
type Doc = Record<string, any>;

function templates(doc: Doc): Doc[] {
  switch (doc.kind) {
    case 'List':
      return doc.items.flatMap(templates);
    case 'CronJob':
      return [doc.spec.jobTemplate.spec.template];
    case 'ConfigMap':
      return [];
    default:
      return [doc.spec.template];
  }
}

test('inject: every workload kind, Lists included; skips explained on stderr; others untouched', () => {
  const run = outrigger(['inject', '-f', WORKLOADS]);
  assert.equal(run.code, 0, run.stderr);
  const docs = parseAllDocuments(run.stdout).map((d) => d.toJS() as Doc);
  assert.equal(docs.length, 6);
  const injected = docs
    .flatMap(templates)
    .map((t) => (t.spec.initContainers ?? []).map((c: Doc) => c.name).join(','));
  assert.deepEqual(injected, [
    'outrigger-init,outrigger-proxy', // StatefulSet
    'outrigger-init,outrigger-proxy', // DaemonSet
    'outrigger-init,outrigger-proxy', // CronJob
    'outrigger-init,outrigger-proxy', // Job in a List
    '', // ReplicaSet opted out by label
    '', // hostNetwork
  ]);
  assert.match(run.stderr, /replicaset\/rs: not injected: .*\[injection_disabled_by_label\]/);
  assert.match(run.stderr, /replicationcontroller\/rc: not injected: .*\[host_network_enabled\]/);
  // The ConfigMap comes out as it went in, its comments included.
  const original = parseAllDocuments(readFileSync(WORKLOADS, 'utf8')).map((d) => d.toJS());
  assert.deepEqual(docs[5], original[5]);
  assert.match(
    run.stdout,
    /# A ConfigMap: passed through untouched, comments and all\.\napiVersion: v1\nkind: ConfigMap/,
  );
  assert.match(run.stdout, /name: settings +# keep me/);
});

test('inject reads standard input, and is idempotent', () => {
  const first = outrigger(['inject', '-f', '-'], readFileSync(WORKLOADS, 'utf8'));
  assert.equal(first.code, 0);
  const second = outrigger(['inject', '-f', '-'], first.stdout);
  assert.equal(second.code, 0);
  assert.equal(second.stdout, first.stdout);
  assert.match(second.stderr, /statefulset\/db: not injected: .*\[sidecar_already_exists\]/);
});

test('inject refuses a bad annotation, naming object, annotation and value', () => {
  const pod = `apiVersion: v1
kind: Pod
metadata:
  name: bad
  annotations: {sidecar.outrigger.dev/proxyCPU: "fast"}
spec: {containers: [{name: a, image: b}]}
`;
  const run = outrigger(['inject', '-f', '-'], pod);
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /pod\/bad: annotation sidecar\.outrigger\.dev\/proxyCPU: invalid value "fast"/,
  );
  // The refused pod is written back as it came, never half injected.
  assert.equal(run.stdout, pod);
});

test('inject reports unreadable input clearly', () => {
  const missing = outrigger(['inject', '-f', '/nonexistent.yaml']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read manifest \/nonexistent\.yaml/);
  const broken = outrigger(['inject', '-f', '-'], 'kind: Pod\n  bad: [indent\n');
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /OUTRIGGER_INVALID_MANIFEST/);
});

test('check explains each template against the namespace labels given', () => {
  const enabled = outrigger([
    'check',
    '-f',
    WORKLOADS,
    '--namespace-labels',
    'outrigger-injection=enabled',
    '--json',
  ]);
  // Two of the six are left uninjected.
  assert.equal(enabled.code, 3, enabled.stderr);
  const results = JSON.parse(enabled.stdout) as Array<{
    ref: string;
    inject: boolean;
    reason: string;
  }>;
  assert.deepEqual(
    results.map((r) => [r.ref, r.inject, r.reason]),
    [
      ['statefulset/db', true, 'default_inject'],
      ['daemonset/agent', true, 'default_inject'],
      ['cronjob/nightly', true, 'default_inject'],
      ['job/once', true, 'default_inject'],
      ['replicaset/rs', false, 'injection_disabled_by_label'],
      ['replicationcontroller/rc', false, 'host_network_enabled'],
    ],
  );
  const unlabelled = outrigger(['check', '-f', WORKLOADS, '--namespace-labels', 'team=a']);
  assert.match(
    unlabelled.stdout,
    /statefulset\/db \(namespace data\): would NOT be injected — the namespace is not labelled outrigger-injection=enabled, and the pod does not opt in with the label sidecar.outrigger.dev\/inject=true \[namespace_not_enabled\]/,
  );
  const assumed = outrigger(['check', '-f', WORKLOADS]);
  assert.match(assumed.stdout, /namespace labels not given: assumed outrigger-injection=enabled/);
});

test('check says when the namespace’s Pod Security level refuses the injected pod, as the webhook warns', () => {
  const labels = (level: string) =>
    `outrigger-injection=enabled,pod-security.kubernetes.io/enforce=${level}`;
  const baseline = outrigger(['check', '-f', WORKLOADS, '--namespace-labels', labels('baseline')]);
  assert.equal(baseline.code, 3, baseline.stderr);
  assert.match(
    baseline.stdout,
    /statefulset\/db \(namespace data\): would be injected .*\n {2}outrigger: namespace data enforces Pod Security "baseline", which refuses the injected outrigger-init \(capabilities NET_ADMIN, NET_RAW\)\n {2}outrigger: to run injected pods there, label the namespace pod-security\.kubernetes\.io\/enforce=privileged; or opt this pod out with sidecar\.outrigger\.dev\/inject=false\n/,
  );
  // Pods that are not injected are not refused for what injection would add.
  assert.doesNotMatch(baseline.stdout, /replicaset\/rs[^\n]*\n {2}outrigger:/);
  const restricted = outrigger([
    'check',
    '-f',
    WORKLOADS,
    '--namespace-labels',
    labels('restricted'),
    '--json',
  ]);
  const results = JSON.parse(restricted.stdout) as Array<{ ref: string; podSecurity?: string[] }>;
  assert.match(results[0]?.podSecurity?.[0] ?? '', /"restricted".*runs as root/);
  assert.equal(results[4]?.podSecurity, undefined);
  const privileged = outrigger([
    'check',
    '-f',
    WORKLOADS,
    '--namespace-labels',
    labels('privileged'),
  ]);
  assert.doesNotMatch(privileged.stdout, /Pod Security/);
});

test('check exits 0 when every pod would be injected, 3 when one would not, 4 when one would be refused', () => {
  const pod = (name: string, annotations: Record<string, string> = {}) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'shop', annotations },
      spec: { containers: [{ name: 'app', image: 'app' }] },
    });
  const injected = outrigger(['check', '-f', '-'], pod('a'));
  assert.equal(injected.code, 0, injected.stdout);
  const skipped = outrigger(
    ['check', '-f', '-'],
    `${pod('a')}\n---\n${pod('b', { 'sidecar.outrigger.dev/inject': 'false' })}`,
  );
  assert.equal(skipped.code, 3, skipped.stdout);
  const refused = outrigger(
    ['check', '-f', '-'],
    `${pod('b', { 'sidecar.outrigger.dev/inject': 'false' })}\n---\n${pod('c', { 'sidecar.outrigger.dev/proxyCPU': 'lots' })}`,
  );
  assert.equal(refused.code, 4, refused.stdout);
  assert.match(
    refused.stdout,
    /pod\/c .*creation would be refused.*\[OUTRIGGER_INVALID_ANNOTATION\]/,
  );
  const warned = outrigger(['check', '-f', '-'], pod('d', { 'sidecar.outrigger.dev/newKey': 'x' }));
  assert.equal(warned.code, 0, warned.stdout);
  assert.match(
    warned.stdout,
    /\n {2}warning: annotation sidecar\.outrigger\.dev\/newKey is not one/,
  );
  assert.equal(outrigger(['check', '-f', '/nonexistent.yaml']).code, 1);
  assert.equal(outrigger(['check', '-f', '-'], 'kind: ConfigMap\n').code, 3, 'no pod at all');
});

test('check reads the labels of a Namespace document in the same input', () => {
  const input = [
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {team: a}',
    'apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: shop}\nspec: {containers: [{name: app, image: app}]}',
    'apiVersion: v1\nkind: Pod\nmetadata: {name: opt-in, namespace: shop, labels: {sidecar.outrigger.dev/inject: "true"}}\nspec: {containers: [{name: app, image: app}]}',
    'apiVersion: v1\nkind: Pod\nmetadata: {name: elsewhere, namespace: other}\nspec: {containers: [{name: app, image: app}]}',
  ].join('\n---\n');
  const run = outrigger(['check', '-f', '-', '--json'], input);
  assert.equal(run.code, 3, run.stderr);
  const results = JSON.parse(run.stdout) as Array<{
    ref: string;
    reason: string;
    namespaceLabelsFrom: string;
  }>;
  assert.deepEqual(
    results.map((r) => [r.ref, r.reason, r.namespaceLabelsFrom]),
    [
      ['pod/web', 'namespace_not_enabled', 'document'],
      ['pod/opt-in', 'enabled_by_label', 'document'],
      ['pod/elsewhere', 'default_inject', 'assumed'],
    ],
  );
  // The flag still wins over the document.
  const flagged = outrigger(
    ['check', '-f', '-', '--namespace-labels', 'outrigger-injection=enabled'],
    input,
  );
  assert.match(flagged.stdout, /pod\/web \(namespace shop\): would be injected/);
});

test('check shows each app probe injection points at the proxy, and what it was', () => {
  const probes = new URL('../inject/testdata/pods/31-app-probes.yaml', import.meta.url).pathname;
  const run = outrigger(['check', '-f', probes]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(
    run.stdout,
    /probe web readinessProbe: httpGet http :http\/ready → httpGet http :15021\/app-health\/web\/readyz/,
  );
  assert.match(
    run.stdout,
    /probe web livenessProbe: tcpSocket :8080 → httpGet http :15021\/app-health\/web\/livez/,
  );
  assert.doesNotMatch(run.stdout, /startupProbe/, 'exec, gRPC and other hosts are left alone');
  const json = JSON.parse(outrigger(['check', '-f', probes, '--json']).stdout) as Array<{
    rewrittenProbes?: string[];
  }>;
  assert.equal(json[0]?.rewrittenProbes?.length, 3);
});

test('serve flag errors are one coded line, never a stack trace', () => {
  const run = outrigger(['serve', '--certs-mode', 'auto']);
  assert.equal(run.code, 1);
  assert.equal(
    run.stderr,
    'outrigger: --certs-mode auto needs --namespace (or $POD_NAMESPACE) [OUTRIGGER_MISSING_FLAG]\n',
  );
});

test('a bad flag value is one coded line naming the flag, in the shared grammar’s words', () => {
  for (const [args, line] of [
    [
      ['serve', '--port', 'http'],
      'outrigger: flag --port: invalid value "http": expected a port number from 0 to 65535 (0: any free port) [OUTRIGGER_INVALID_FLAG]\n',
    ],
    [
      ['serve', '--cert-leaf-validity-days', '-1'],
      'outrigger: flag --cert-leaf-validity-days: invalid value "-1": expected a positive number of days [OUTRIGGER_INVALID_FLAG]\n',
    ],
    [
      ['check', '-f', WORKLOADS, '--namespace-labels', 'team'],
      'outrigger: flag --namespace-labels: invalid value "team": expected key=value pairs separated by commas [OUTRIGGER_INVALID_FLAG]\n',
    ],
  ] as const) {
    const run = outrigger([...args]);
    assert.equal(run.code, 1, args.join(' '));
    assert.equal(run.stderr, line);
  }
});

test('validate-config exits 0 on a configuration serve would load, 1 naming what it would refuse', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-validate-'));
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const good = outrigger([
    'validate-config',
    '--config',
    file('good.yaml', 'defaultInject: false\n'),
  ]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /configuration \S+good\.yaml is valid/);
  const bad = outrigger([
    'validate-config',
    '--config',
    file(
      'bad.yaml',
      'interception: {excludeOutboundIPRanges: [10.0.0.0/33], includeInboundPorts: "80,http"}\n',
    ),
  ]);
  assert.equal(bad.code, 1);
  // Every problem, each with the parser's own words.
  assert.match(bad.stderr, /includeInboundPorts: expected "\*" or a comma-separated list of ports/);
  assert.match(
    bad.stderr,
    /excludeOutboundIPRanges\/0: expected a prefix length from 0 to 32 after "\/" \(got "10\.0\.0\.0\/33"\) \[OUTRIGGER_INVALID_CONFIG\]/,
  );
});

test('--help on every command', () => {
  for (const command of ['serve', 'inject', 'check', 'validate-config', 'selftest']) {
    const run = outrigger([command, '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, new RegExp(`Usage: outrigger ${command}`));
  }
});

test('the built bin behaves like the source (npm test builds first)', {
  skip: !existsSync(BUILT_CLI) && 'dist/ not built: run npm run build',
}, () => {
  const built = outrigger(['inject', '-f', WORKLOADS], undefined, BUILT_CLI);
  assert.equal(built.code, 0, built.stderr);
  assert.equal(built.stdout, outrigger(['inject', '-f', WORKLOADS]).stdout);
});
