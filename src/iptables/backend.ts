// Chooses between the nf_tables and legacy iptables back ends. Rules written
// through one are invisible to the other, and a namespace holding both is
// confusing to debug, so we join whichever back end already holds rules here
// (our own from an earlier run, or a CNI's) and otherwise follow what the
// image's plain `iptables` is, much as istio-iptables decides.
import { errors } from './errors.ts';
import type { CommandResult, RunCommand } from './run-command.ts';
import type { Family } from './settings.ts';

export type BackendName = 'nft' | 'legacy';

export interface Backend {
  readonly name: BackendName;
  readonly save: Record<Family, string>;
  readonly restore: Record<Family, string>;
}

/** The variant-named binaries that Debian and Alpine both ship (iptables-nft-save, ...). */
export function namedBackend(name: BackendName): Backend {
  return {
    name,
    save: { ipv4: `iptables-${name}-save`, ipv6: `ip6tables-${name}-save` },
    restore: { ipv4: `iptables-${name}-restore`, ipv6: `ip6tables-${name}-restore` },
  };
}

/** The unsuffixed binaries, for images that ship only one variant under the plain names. */
function plainBackend(name: BackendName): Backend {
  return {
    name,
    save: { ipv4: 'iptables-save', ipv6: 'ip6tables-save' },
    restore: { ipv4: 'iptables-restore', ipv6: 'ip6tables-restore' },
  };
}

/** `iptables v1.8.9 (nf_tables)` or `iptables v1.8.9 (legacy)`; undefined when unknown. */
export function backendFromVersion(versionOutput: string): BackendName | undefined {
  if (versionOutput.includes('(nf_tables)')) return 'nft';
  if (versionOutput.includes('(legacy)')) return 'legacy';
  return undefined;
}

/** Counts rules (not chain headers or comments) in iptables-save output. */
export function countRules(saveOutput: string): number {
  return saveOutput.split('\n').filter((line) => line.startsWith('-A ')).length;
}

const succeeded = (result: CommandResult) => result.status === 0;

/**
 * Picks the back end for this network namespace:
 * 1. each variant is tried through its variant-named binaries, or else
 *    through the plain ones when plain `iptables --version` names it; a
 *    variant whose save command fails is out;
 * 2. the variant holding the most rules (IPv4 and IPv6 together) wins;
 * 3. on a tie (usually: a fresh pod, nothing anywhere), the one plain
 *    `iptables --version` names, else nft.
 */
export function detectBackend(run: RunCommand): Backend {
  const plainVersion = run('iptables', ['--version']);
  const plainName = succeeded(plainVersion) ? backendFromVersion(plainVersion.stdout) : undefined;
  const preferred = plainName ?? 'nft';

  const candidates = (['nft', 'legacy'] as const)
    .map((name) => {
      const ways = [namedBackend(name), ...(plainName === name ? [plainBackend(name)] : [])];
      for (const backend of ways) {
        const v4 = run(backend.save.ipv4, []);
        if (!succeeded(v4)) continue;
        const v6 = run(backend.save.ipv6, []);
        return {
          backend,
          rules: countRules(v4.stdout) + (succeeded(v6) ? countRules(v6.stdout) : 0),
        };
      }
      return undefined;
    })
    .filter((candidate) => candidate !== undefined);

  if (candidates.length === 0) {
    throw errors.IPTABLES_UNAVAILABLE(
      'neither iptables-nft-save, iptables-legacy-save nor a plain iptables-save runs',
    );
  }
  const most = Math.max(...candidates.map((c) => c.rules));
  const busiest = candidates.filter((c) => c.rules === most);
  return (busiest.find((c) => c.backend.name === preferred) ?? busiest[0]!).backend;
}
