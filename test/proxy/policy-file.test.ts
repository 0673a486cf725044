// The policy file: read at start (a bad one stops the proxy with a coded
// error), then watched through the kubelet's `..data` symlink swap; a good
// change replaces the policy and bumps the generation, a bad one is rejected,
// counted and logged once while the last good policy stays in force.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { createLogger } from '../../proxy/src/log.ts';
import { watchPolicyFile } from '../../proxy/src/policy/policy-file.ts';
import { Registry } from '../../proxy/src/stats/prometheus-core.ts';
import { errors, isOutriggerError } from '../../src/errors.ts';
import { POLICY_CONFIGMAP_KEY } from '../../src/shared/policy/parse.ts';
import { ConfigMapVolume } from './support/configmap-volume.ts';
import { EPHEMERAL_FLAGS, NODE, PROXY_MAIN } from './support/harness.ts';

const HEAD = 'apiVersion: outrigger.dev/v1alpha1\nkind: TrafficPolicy\n';
const ALLOW_ANY = `${HEAD}outbound: {mode: allowAny}\n`;
const BLOCK_ALL = `${HEAD}outbound: {mode: blockAll, allow: [{cidr: 198.51.100.0/24}]}\n`;
const BAD = `${HEAD}outbound: {mode: blockAll, allow: [{cidr: 198.51.100.0/33}]}\nlisteners: [{port: 0, direction: sideways}]\n`;

function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('debug', (line) => lines.push(JSON.parse(line)));
  return { log, lines };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function metric(registry: Registry, name: string): Promise<string> {
  const text = await registry.metrics();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .join('\n');
}

test('a ConfigMap update (the ..data swap) replaces the policy; a bad one keeps the last good', async (t) => {
  const volume = new ConfigMapVolume({ [POLICY_CONFIGMAP_KEY]: ALLOW_ANY });
  const { log, lines } = capturingLog();
  const registry = new Registry();
  const watched = watchPolicyFile(volume.path(POLICY_CONFIGMAP_KEY), { log, registry });
  t.after(() => {
    watched.close();
    volume.remove();
  });
  const { state } = watched;
  assert.equal(state.generation, 0);
  assert.equal(state.current.outbound.mode, 'allowAny');
  const generations: number[] = [];
  state.onChange((_, generation) => generations.push(generation));

  await t.test('a good document is applied, with a log line naming its generation', async () => {
    volume.update({ [POLICY_CONFIGMAP_KEY]: BLOCK_ALL });
    await until('generation 1', () => state.generation === 1);
    assert.equal(state.current.outbound.mode, 'blockAll');
    assert.deepEqual(state.current.outbound.allow, [{ cidr: '198.51.100.0/24' }]);
    const applied = lines.find((l) => l.msg === 'traffic policy applied');
    assert.equal(applied?.generation, 1);
    assert.equal(applied?.level, 'info');
    assert.match(
      await metric(registry, 'outrigger_policy_reloads_total'),
      /result="applied"\} 1\n.*result="rejected"\} 0/,
    );
    assert.match(await metric(registry, 'outrigger_policy_generation'), / 1$/);
  });

  await t.test('a bad document is rejected with every problem; the policy stays', async () => {
    const before = state.current;
    volume.update({ [POLICY_CONFIGMAP_KEY]: BAD });
    await until('a rejection', () => lines.some((l) => String(l.msg).includes('rejected')));
    const warning = lines.find(
      (l) => l.msg === 'traffic policy rejected: keeping the last good one',
    );
    assert.equal(warning?.level, 'warn');
    assert.equal(warning?.generation, 1);
    const problems = ((warning?.problems ?? []) as string[]).join('\n');
    for (const at of ['/listeners/0/port', '/listeners/0/direction']) {
      assert.ok(problems.includes(at), problems);
    }
    assert.equal(state.current, before);
    assert.equal(state.generation, 1);
    assert.match(await metric(registry, 'outrigger_policy_reloads_total'), /rejected"\} 1/);
    assert.match(await metric(registry, 'outrigger_policy_last_reload_successful'), / 0$/);
  });

  await t.test('the same bad content is judged once, however often it is seen', async () => {
    // Two polls and a touch of the directory: nothing new to judge.
    writeFileSync(`${volume.dir}/unrelated`, 'x');
    await new Promise((r) => setTimeout(r, 4500));
    assert.equal(lines.filter((l) => String(l.msg).includes('rejected')).length, 1);
    assert.match(await metric(registry, 'outrigger_policy_reloads_total'), /rejected"\} 1/);
  });

  await t.test('fixing the document applies it again', async () => {
    volume.update({ [POLICY_CONFIGMAP_KEY]: ALLOW_ANY });
    await until('generation 2', () => state.generation === 2);
    assert.equal(state.current.outbound.mode, 'allowAny');
    assert.match(await metric(registry, 'outrigger_policy_last_reload_successful'), / 1$/);
    assert.deepEqual(generations, [1, 2]);
  });
});

test('undoing a bad edit goes back to the policy in force without a new generation', async (t) => {
  const volume = new ConfigMapVolume({ [POLICY_CONFIGMAP_KEY]: BLOCK_ALL });
  const { log, lines } = capturingLog();
  const registry = new Registry();
  const watched = watchPolicyFile(volume.path(POLICY_CONFIGMAP_KEY), { log, registry });
  t.after(() => {
    watched.close();
    volume.remove();
  });
  const before = watched.state.current;
  volume.update({ [POLICY_CONFIGMAP_KEY]: BAD });
  await until('the rejection', () => lines.some((l) => String(l.msg).includes('rejected')));
  assert.match(await metric(registry, 'outrigger_policy_last_reload_successful'), / 0$/);
  volume.update({ [POLICY_CONFIGMAP_KEY]: BLOCK_ALL });
  await until('back in force', () =>
    lines.some((l) => String(l.msg).includes('back to the policy')),
  );
  assert.equal(watched.state.generation, 0);
  assert.equal(watched.state.current, before);
  assert.match(await metric(registry, 'outrigger_policy_last_reload_successful'), / 1$/);
  assert.match(
    await metric(registry, 'outrigger_policy_reloads_total'),
    /applied"\} 0\n.*rejected"\} 1/,
  );
});

test('a change the watch misses is found by the poll', async (t) => {
  const volume = new ConfigMapVolume({ [POLICY_CONFIGMAP_KEY]: ALLOW_ANY });
  const { log } = capturingLog();
  // A debounce far longer than the poll: only the poll can apply the change in time.
  const watched = watchPolicyFile(volume.path(POLICY_CONFIGMAP_KEY), {
    log,
    registry: new Registry(),
    pollMs: 200,
    debounceMs: 60_000,
  });
  t.after(() => {
    watched.close();
    volume.remove();
  });
  volume.update({ [POLICY_CONFIGMAP_KEY]: BLOCK_ALL });
  await until('the poll applied it', () => watched.state.generation === 1, 5000);
});

test('a bad or missing document at start is a coded error naming the file and the problems', () => {
  const volume = new ConfigMapVolume({ [POLICY_CONFIGMAP_KEY]: BAD });
  try {
    const options = { log: createLogger('silent'), registry: new Registry() };
    assert.throws(
      () => watchPolicyFile(volume.path(POLICY_CONFIGMAP_KEY), options),
      (err: unknown) =>
        isOutriggerError(err, errors.INVALID_POLICY) &&
        err.message.includes(volume.path(POLICY_CONFIGMAP_KEY)) &&
        err.message.includes('/listeners/0/direction'),
    );
    assert.throws(
      () => watchPolicyFile(`${volume.dir}/absent.yaml`, options),
      (err: unknown) => isOutriggerError(err, errors.POLICY_UNREADABLE),
    );
  } finally {
    volume.remove();
  }
});

test('the proxy refuses to start on a bad policy, with the code on stderr', () => {
  const volume = new ConfigMapVolume({ [POLICY_CONFIGMAP_KEY]: BAD });
  try {
    const run = spawnSync(NODE, [PROXY_MAIN, ...EPHEMERAL_FLAGS], {
      env: { PATH: process.env.PATH, OUTRIGGER_POLICY_FILE: volume.path(POLICY_CONFIGMAP_KEY) },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(run.status, 1, run.stderr);
    const line = JSON.parse(run.stderr.trim().split('\n').at(-1)!);
    assert.equal(line.msg, 'cannot start');
    assert.equal(line.code, 'OUTRIGGER_INVALID_POLICY');
    assert.match(line.error, /\/listeners\/0\/direction/);
    assert.doesNotMatch(run.stderr, /"msg":"ready"/);
  } finally {
    volume.remove();
  }
});
