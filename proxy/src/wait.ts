// `outrigger-proxy wait`: the classic layout's postStart hook. The kubelet
// starts a pod's containers in order and waits for each one's postStart hook
// before starting the next, so with the proxy first in spec.containers and
// this as its hook, the app starts only once the proxy is ready (Istio's
// holdApplicationUntilProxyStarts with `pilot-agent wait`). Exits 0 when
// /healthz/ready answers 200, 1 when the timeout passes first.
// main.ts loads this module only for `wait`, so commander costs the proxy nothing.
import { Command, CommanderError, Option } from 'commander';
import { HEALTH_READY_PATH, PORTS, PROXY_ENV } from '../../src/shared/contract.ts';
import { type Grammar, parsePort, wholeNumber } from '../../src/shared/grammar/index.ts';
import { errors, isOutriggerError } from './errors.ts';

const { get } = process.getBuiltinModule('node:http');

export const WAIT_COMMAND = 'wait';
export const DEFAULT_WAIT_TIMEOUT_SECONDS = 60;
const POLL_MS = 100;

export interface WaitOptions {
  healthPort: number;
  timeoutSeconds: number;
}

/**
 * `wait [--timeout-seconds N] [--health-port P]`; the health port defaults to
 * OUTRIGGER_HEALTH_PORT, which a hook inherits from the container.
 */
export function parseWaitArgs(argv: readonly string[], env: NodeJS.ProcessEnv): WaitOptions {
  const command = new Command('outrigger-proxy wait')
    .description('Exit 0 once the proxy on this pod answers ready, 1 if the timeout passes first.')
    .allowExcessArguments(false)
    .exitOverride()
    .addOption(
      new Option('--timeout-seconds <n>', 'how long to wait').default(
        String(DEFAULT_WAIT_TIMEOUT_SECONDS),
      ),
    )
    .addOption(
      new Option(
        '--health-port <port>',
        `the proxy's health port [env ${PROXY_ENV.healthPort}]`,
      ).default(env[PROXY_ENV.healthPort] ?? String(PORTS.health)),
    );
  command.parse([...argv], { from: 'user' });
  const opts = command.opts<{ timeoutSeconds: string; healthPort: string }>();
  return {
    timeoutSeconds: read(opts.timeoutSeconds, 'flag --timeout-seconds', seconds),
    healthPort: read(opts.healthPort, 'flag --health-port', parsePort),
  };
}

const seconds = wholeNumber(0, 99_999, 'seconds');

function read<T>(raw: string, source: string, grammar: Grammar<T>): T {
  const parsed = grammar(raw);
  if (!parsed.ok) throw errors.INVALID_PROXY_SETTING(source, raw, parsed.expected);
  return parsed.value;
}

/** The whole `wait` command: its exit status, with a sentence on stderr when it fails. */
export async function runWait(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let options: WaitOptions;
  try {
    options = parseWaitArgs(argv, env);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (isOutriggerError(err)) {
      process.stderr.write(`outrigger-proxy wait: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (await waitUntilReady(options)) return 0;
  process.stderr.write(
    `outrigger-proxy wait: the proxy was not ready on port ${options.healthPort} after ${options.timeoutSeconds} s\n`,
  );
  return 1;
}

/** Polls the proxy's readiness until it answers 200; false when the timeout passes first. */
export async function waitUntilReady(options: WaitOptions): Promise<boolean> {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  const url = `http://127.0.0.1:${options.healthPort}${HEALTH_READY_PATH}`;
  while (Date.now() < deadline) {
    if (await answersReady(url)) return true;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return false;
}

function answersReady(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}
