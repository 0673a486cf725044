// Applies (or removes) the capture rules in the current network namespace:
// one `iptables-restore --noflush` transaction per address family, so each
// family is either fully programmed or untouched.
import { existsSync } from 'node:fs';
import { errors } from '../errors.ts';
import { type Backend, detectBackend } from './backend.ts';
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
}

/** A kernel booted with ipv6.disable=1 has no ip6tables nat table to program. */
export function kernelFamilies(): Family[] {
  return existsSync('/proc/net/if_inet6') ? ['ipv4', 'ipv6'] : ['ipv4'];
}

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
  const inputs = (options.families ?? kernelFamilies()).map((family) => {
    const save = backend.save[family];
    const saved = run(save, ['-t', 'nat']);
    if (saved.status !== 0) {
      throw errors.IPTABLES_COMMAND_FAILED(`${save} -t nat`, saved.stderr.trim());
    }
    const input = render(family, saved.stdout);
    const restore = backend.restore[family];
    const restored = run(restore, ['--noflush'], input);
    if (restored.status !== 0) {
      throw errors.IPTABLES_COMMAND_FAILED(
        `${restore} --noflush`,
        `${restored.stderr.trim()}\n--- input ---\n${input}`,
      );
    }
    return { family, command: `${restore} --noflush`, input };
  });
  return { backend, inputs };
}
