#!/usr/bin/env node
import { commandLineExitCode, resolveConfig } from './config.ts';
// outrigger-proxy: resolves its configuration once, starts every listener, and
// drains on SIGTERM/SIGINT. Exits non-zero with a sentence when a setting is wrong.
// `outrigger-proxy wait` is the classic layout's postStart hook (wait.ts).
import { isOutriggerError } from './errors.ts';
import { createLogger } from './log.ts';
import { startProxy } from './proxy.ts';

async function main(): Promise<void> {
  if (process.argv[2] === 'wait') {
    const { runWait } = await import('./wait.ts');
    process.exit(await runWait(process.argv.slice(3), process.env));
  }
  let config: ReturnType<typeof resolveConfig>;
  try {
    config = resolveConfig(process.argv.slice(2), process.env);
  } catch (err) {
    const exitCode = commandLineExitCode(err);
    if (exitCode !== undefined) process.exit(exitCode);
    if (isOutriggerError(err)) {
      process.stderr.write(`outrigger-proxy: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  // In the classic layout SIGTERM reaches the app and the proxy together, so the
  // app is still running while the proxy drains; natively it has exited already.
  // quitquitquit comes from a job that is done. See docs/proxy.md, "Shutdown".
  const proxy = await startProxy(config, {
    log,
    onQuit: () => stop('quitquitquit', false),
  }).catch((err: unknown) => {
    log.error('cannot start', { error: String(err) });
    process.exit(1);
  });
  let stopping = false;
  const stop = (cause: string, appRunning: boolean) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { cause, appRunning });
    proxy.drain({ appRunning }).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('drain failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  const appRunning = config.layout === 'classic';
  process.on('SIGTERM', () => stop('SIGTERM', appRunning));
  process.on('SIGINT', () => stop('SIGINT', appRunning));
}

void main();
