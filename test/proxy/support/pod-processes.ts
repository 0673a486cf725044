// Processes inside a PodTopology's namespaces for the data-plane suites: the
// init container's real capture rules, and long-running programs (apps, the
// proxy) started in a namespace and awaited until they say they are ready.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { PodTopology, PodTopologyRole } from '../../support/netns.ts';
import { NODE, ROOT } from './harness.ts';

const IPTABLES_MAIN = path.join(ROOT, 'src/iptables/main.ts');
export const ECHO_APP = path.join(import.meta.dirname, 'echo-app.ts');
export const HTTP_CALL = path.join(import.meta.dirname, 'http-call.ts');
/** Runs what follows as the proxy user, the way the injected container does. */
export const AS_PROXY_USER = ['setpriv', '--reuid=1337', '--regid=1337', '--clear-groups'];

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  error?: string;
}

/** One HTTP request made from inside a namespace (support/http-call.ts). */
export function call(
  network: PodTopology,
  from: PodTopologyRole,
  method: string,
  url: string,
  body?: string,
): Reply {
  const args = [HTTP_CALL, method, url, ...(body === undefined ? [] : [body])];
  return JSON.parse(network.exec(from, NODE, args)) as Reply;
}

/** The init container's rules (src/iptables/main.ts with its defaults), in the pod's namespace. */
export function installCapture(network: PodTopology, args: readonly string[] = []): void {
  if (!existsSync(IPTABLES_MAIN)) throw new Error(`${IPTABLES_MAIN} is missing`);
  network.exec('pod', NODE, [IPTABLES_MAIN, ...args]);
}

/** Starts a process in a namespace and waits for `ready` to appear on its output. */
export function startIn(
  network: PodTopology,
  role: PodTopologyRole,
  command: readonly string[],
  ready: RegExp,
  env: NodeJS.ProcessEnv = {},
): Promise<ChildProcess & { output: () => string }> {
  const child = spawn('ip', ['netns', 'exec', network.namespaces[role], ...command], {
    env: { PATH: process.env.PATH, ...env },
    // stdin is a pipe for programs driven by commands (policy-probe.ts); the rest never read it.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const withOutput = Object.assign(child, { output: () => output });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command.join(' ')} did not start: ${output}`)),
      15_000,
    );
    const onData = (c: Buffer) => {
      output += c.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(withOutput);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command.join(' ')} exited with ${code}: ${output}`));
    });
  });
}
