#!/usr/bin/env node
// outrigger-iptables: the program the `outrigger-init` container runs. It
// programs the pod's network namespace so TCP in and out goes through the
// proxy, and exits. Flags follow istio-iptables; see docs/traffic-capture.md.
import { CommanderError } from 'commander';
import { type Applied, applyCapture, cleanupCapture } from './apply.ts';
import { isOutriggerError } from './errors.ts';
import { parseInvocation } from './flags.ts';
import { expectedJumps, FAMILIES, renderCapture, renderCleanup } from './rules.ts';

/** Exit status for a bad flag or value, as commander uses for usage errors. */
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

function main(args: readonly string[]): number {
  let invocation: ReturnType<typeof parseInvocation>;
  try {
    invocation = parseInvocation(args);
  } catch (err) {
    // Commander has already printed its own message (or the help text).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    return report(err, EXIT_USAGE);
  }

  const { action, settings } = invocation;
  try {
    switch (action) {
      case 'dry-run':
        process.stdout.write(FAMILIES.map((family) => renderCapture(settings, family)).join('\n'));
        return 0;
      case 'dry-run-cleanup':
        process.stdout.write(
          FAMILIES.map((family) => renderCleanup(family, expectedJumps(settings))).join('\n'),
        );
        return 0;
      case 'apply':
        log('applied', applyCapture(settings));
        return 0;
      case 'cleanup':
        log('removed', cleanupCapture());
        return 0;
    }
  } catch (err) {
    return report(err, EXIT_FAILURE);
  }
}

function log(verb: string, applied: Applied): void {
  for (const { command, input } of applied.inputs) {
    process.stdout.write(`outrigger-iptables: ${verb} with ${command}\n${input}\n`);
  }
  // IPv4-only mode (docs/traffic-capture.md): said on stderr, where a warning is looked for.
  for (const { family, reason } of applied.skipped) {
    process.stderr.write(
      `outrigger-iptables: warning: ${family} left alone, its traffic is not captured: ${reason}\n`,
    );
  }
}

function report(err: unknown, status: number): number {
  if (!isOutriggerError(err)) throw err;
  process.stderr.write(`outrigger-iptables: ${err.message} [${err.code}]\n`);
  return status;
}

process.exitCode = main(process.argv.slice(2));
