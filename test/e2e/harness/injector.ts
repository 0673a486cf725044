// The injector as the e2e suite runs it: a local `outrigger serve` process built
// from this checkout (dist/), talking to the test apiserver with a kubeconfig.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { type CommandResult, run } from './cluster.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const node = `${repoRoot}node_modules/.bin/node`;
const entry = `${repoRoot}dist/src/cli/main.js`;

export interface RunningInjector {
  port: number;
  process: ChildProcess;
  /** Stops the process (SIGTERM, then SIGKILL after 10 s). */
  stop(): Promise<void>;
}

function httpsStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    // Readiness only: whether the apiserver trusts the certificate is what the suite tests.
    const req = request(
      { host: '127.0.0.1', port, path, rejectUnauthorized: false, timeout: 2_000 },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export async function startInjector(options: {
  port: number;
  args: string[];
  logFile: string;
}): Promise<RunningInjector> {
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(
    node,
    [entry, 'serve', '--host=127.0.0.1', `--port=${options.port}`, ...options.args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
    },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  process.once('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 60_000;
  while ((await httpsStatus(options.port, '/readyz')) !== 200) {
    if (child.exitCode !== null)
      throw new Error(`injector exited with ${child.exitCode}; see ${options.logFile}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`injector not ready within 60s; see ${options.logFile}`);
    }
    await sleep(200);
  }
  return { port: options.port, process: child, stop };
}

/** SHA-256 fingerprint of the certificate the injector serves to a new connection. */
export function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

/** Runs another `outrigger` command from the same build (e.g. `selftest`); never throws on a non-zero exit. */
export function runOutrigger(args: string[], timeoutMs = 120_000): Promise<CommandResult> {
  return run(node, [entry, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' },
    timeoutMs,
  });
}
