// `outrigger-proxy wait`, the classic layout's postStart hook: it holds the
// kubelet (and so the app's start) until the proxy answers ready, and fails
// when the proxy never does.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { EPHEMERAL_FLAGS, NODE, PROXY_MAIN, spawnProxy } from './support/harness.ts';

function runWait(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(NODE, [PROXY_MAIN, 'wait', ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = once(child, 'exit').then(([code]) => ({ code: code as number, stderr }));
  return { child, exited };
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('exits 0 once the proxy is ready, having waited for it to start', async () => {
  const healthPort = await freePort();
  const started = Date.now();
  // Port from the environment, as the hook inherits it from the container.
  const wait = runWait(['--timeout-seconds', '30'], { OUTRIGGER_HEALTH_PORT: String(healthPort) });
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(wait.child.exitCode, null, 'still waiting while no proxy runs');
  const flags = EPHEMERAL_FLAGS.filter((f) => !f.startsWith('--health-port'));
  const proxy = await spawnProxy([...flags, `--health-port=${healthPort}`, '--log-level=info']);
  try {
    const { code, stderr } = await wait.exited;
    assert.equal(code, 0, stderr);
    assert.ok(Date.now() - started >= 700);
  } finally {
    proxy.child.kill('SIGKILL');
    await proxy.exited;
  }
});

test('exits 1 with a sentence when the proxy is not ready in time', async () => {
  const { code, stderr } = await runWait([
    '--timeout-seconds=1',
    `--health-port=${await freePort()}`,
  ]).exited;
  assert.equal(code, 1);
  assert.match(stderr, /not ready on port \d+ after 1 s/);
});

test('a bad flag value exits 2 naming it', async () => {
  const { code, stderr } = await runWait(['--timeout-seconds', 'soon']).exited;
  assert.equal(code, 2);
  assert.match(stderr, /--timeout-seconds: invalid value "soon"/);
});
