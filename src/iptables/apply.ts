// Applies (or removes) the capture rules in the current network namespace:
// one `iptables-restore --noflush` transaction per address family. Together
// the families are all-or-nothing: every family's nat table is read before
// any is changed, and when a later family fails the earlier ones are restored
// from what was read, so a pod never starts with capture half installed.
import { existsSync } from 'node:fs';
import { type Backend, detectBackend } from './backend.ts';
import { errors, type OutriggerError } from './errors.ts';
import { ownJumps, renderCapture, renderCleanup } from './rules.ts';
import { type RunCommand, runCommand } from './run-command.ts';
import type { CaptureSettings, Family } from './settings.ts';

export interface ApplyOptions {
  readonly run?: RunCommand;
  /** Families to program; defaults to IPv4, plus IPv6 when the kernel has it. */
  readonly families?: readonly Family[];
}

export interface Applied {
  readonly backend: Backend;
  /** The restore input sent for each family, for the init container's log. */
  readonly inputs: ReadonlyArray<{ family: Family; command: string; input: string }>;
  /** Families left alone because the kernel cannot NAT them (IPv4-only mode), and why. */
  readonly skipped: ReadonlyArray<{ family: Family; reason: string }>;
}

const FAMILY_LABEL: Record<Family, string> = { ipv4: 'IPv4', ipv6: 'IPv6' };

/** A kernel booted with ipv6.disable=1 has no ip6tables nat table to program. */
export function kernelFamilies(): Family[] {
  return existsSync('/proc/net/if_inet6') ? ['ipv4', 'ipv6'] : ['ipv4'];
}

/**
 * What ip6tables-save says when the kernel has IPv6 but no IPv6 nat table
 * (ip6table_nat / nf_nat not built or not loadable): legacy's "Table does not
 * exist (do you need to insmod?)", nft's "Could not fetch rule set" or an
 * unsupported address family. Any other failure is an error, not a mode.
 */
const NO_NAT_TABLE =
  /table does not exist|can't initialize|cannot initialize|address family not supported|protocol not supported|could not fetch rule set/i;

export function applyCapture(settings: CaptureSettings, options: ApplyOptions = {}): Applied {
  return transact(options, (family, saved) => renderCapture(settings, family, ownJumps(saved)));
}

export function cleanupCapture(options: ApplyOptions = {}): Applied {
  return transact(options, (family, saved) => renderCleanup(family, ownJumps(saved)));
}

function transact(
  options: ApplyOptions,
  render: (family: Family, savedNat: string) => string,
): Applied {
  const run = options.run ?? runCommand;
  const backend = detectBackend(run);
  const families = options.families ?? kernelFamilies();
  const skipped: Array<{ family: Family; reason: string }> = [];
  if (options.families === undefined && !families.includes('ipv6'))
    skipped.push({
      family: 'ipv6',
      reason: 'the kernel has IPv6 disabled (no /proc/net/if_inet6)',
    });

  // 1. Read every family's nat table before changing any.
  const saved: Array<{ family: Family; dump: string }> = [];
  for (const family of families) {
    const save = backend.save[family];
    const result = run(save, ['-t', 'nat']);
    if (result.status === 0) saved.push({ family, dump: result.stdout });
    else if (family === 'ipv6' && NO_NAT_TABLE.test(result.stderr))
      skipped.push({ family, reason: `${save} -t nat: ${result.stderr.trim()}` });
    else throw errors.IPTABLES_COMMAND_FAILED(`${save} -t nat`, result.stderr.trim());
  }

  // 2. Commit family by family; a failure restores the families already committed.
  const inputs: Array<{ family: Family; command: string; input: string }> = [];
  const committed: typeof saved = [];
  for (const { family, dump } of saved) {
    const input = render(family, dump);
    const restore = backend.restore[family];
    const restored = run(restore, ['--noflush'], input);
    if (restored.status !== 0) {
      const failure = errors.IPTABLES_COMMAND_FAILED(
        `${restore} --noflush`,
        `${restored.stderr.trim()}\n--- input ---\n${input}`,
      );
      throw committed.length === 0 ? failure : rollBack(run, backend, committed, failure);
    }
    committed.push({ family, dump });
    inputs.push({ family, command: `${restore} --noflush`, input });
  }
  return { backend, inputs, skipped };
}

/**
 * Puts each committed family's nat table back as it was read. Restoring a dump
 * without --noflush replaces the whole table with it, which undoes our chains
 * and jumps and keeps whatever else was there.
 */
function rollBack(
  run: RunCommand,
  backend: Backend,
  committed: ReadonlyArray<{ family: Family; dump: string }>,
  failure: OutriggerError,
): OutriggerError {
  const families = committed.map(({ family }) => FAMILY_LABEL[family]).join(' and ');
  const problems: string[] = [];
  for (const { family, dump } of committed) {
    const restore = backend.restore[family];
    const result = run(restore, [], dump);
    if (result.status !== 0) problems.push(`${restore}: ${result.stderr.trim()}`);
  }
  return problems.length === 0
    ? errors.IPTABLES_ROLLED_BACK(failure.message, families)
    : errors.IPTABLES_HALF_APPLIED(failure.message, families, problems.join('; '));
}
