#!/usr/bin/env node
// outrigger-proxy: resolves its configuration once, starts every listener, and
// drains on SIGTERM/SIGINT. Exits non-zero with a sentence when a setting is wrong.
// `outrigger-proxy wait` is the classic layout's postStart hook (wait.ts).
import { isOutriggerError } from '../../src/errors.ts';
import { commandLineExitCode, resolveConfig } from './config.ts';
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
  const proxy = await startProxy(config, { log }).catch((err: unknown) => {
    log.error('cannot start', { error: String(err) });
    process.exit(1);
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    proxy.drain().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error('drain failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
