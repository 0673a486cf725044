// The "client — pod — remote" network that the data-plane suites run on: three
// network namespaces joined by two veth pairs, so real TCP crosses the pod's
// own interfaces the way it does in a cluster.
//
//   client [veths.client] ──veth── eth0 [pod] eth1 ──veth── [veths.remote] remote
//
// Each suite brings its own namespace prefix (so concurrent runs never share a
// namespace) and its own address plan (documentation ranges only).
import { execFileSync } from 'node:child_process';

export type PodTopologyRole = 'client' | 'pod' | 'remote';

export interface PodTopologyPlan {
  /** Unique to the suite and the process, e.g. `orx3-${process.pid}`. */
  readonly prefix: string;
  /** The client's and the remote's end of their veth to the pod (whose ends are eth0 and eth1). */
  readonly veths: { readonly client: string; readonly remote: string };
  /** CIDRs per namespace and interface, added in the order given. */
  readonly addresses: {
    readonly [role in PodTopologyRole]: { readonly [device: string]: readonly string[] };
  };
  /** Static routes, e.g. towards addresses the remote holds on its loopback. */
  readonly routes?: ReadonlyArray<{ readonly in: PodTopologyRole; to: string; via: string }>;
}

const ROLES: readonly PodTopologyRole[] = ['pod', 'client', 'remote'];

function run(file: string, args: readonly string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function isIPv6(cidr: string): boolean {
  return cidr.includes(':');
}

/** Names are fixed at construction, so a suite can refer to them before `create()`. */
export class PodTopology {
  readonly namespaces: Readonly<Record<PodTopologyRole, string>>;
  readonly #plan: PodTopologyPlan;

  constructor(plan: PodTopologyPlan) {
    this.#plan = plan;
    this.namespaces = {
      pod: `${plan.prefix}-pod`,
      client: `${plan.prefix}-client`,
      remote: `${plan.prefix}-remote`,
    };
  }

  /** Builds the namespaces afresh (leftovers of a killed run are removed first). */
  create(): void {
    this.remove();
    try {
      this.#build();
    } catch (error) {
      // A half-built network would outlive the suite: take it down before failing.
      this.remove();
      throw error;
    }
  }

  /** Runs a command inside one namespace and returns its standard output. */
  exec(role: PodTopologyRole, file: string, args: readonly string[]): string {
    return run('ip', ['netns', 'exec', this.namespaces[role], file, ...args]);
  }

  /** Deletes every namespace (and so both veth pairs); safe to call when none exist. */
  remove(): void {
    for (const role of ROLES) {
      try {
        run('ip', ['netns', 'del', this.namespaces[role]]);
      } catch {
        // Not there: nothing to clean.
      }
    }
  }

  #build(): void {
    const { veths, addresses, routes = [] } = this.#plan;
    const ns = this.namespaces;
    for (const role of ROLES) {
      run('ip', ['netns', 'add', ns[role]]);
      run('ip', ['-n', ns[role], 'link', 'set', 'lo', 'up']);
    }
    this.#veth(veths.client, 'client', 'eth0');
    this.#veth(veths.remote, 'remote', 'eth1');
    for (const role of ROLES) {
      for (const [device, cidrs] of Object.entries(addresses[role])) {
        for (const cidr of cidrs) {
          // nodad: an address still in duplicate detection cannot be bound yet.
          const v6 = isIPv6(cidr);
          run('ip', [
            '-n',
            ns[role],
            ...(v6 ? ['-6'] : []),
            'addr',
            'add',
            cidr,
            'dev',
            device,
            ...(v6 ? ['nodad'] : []),
          ]);
        }
      }
    }
    for (const [role, device] of [
      ['pod', 'eth0'],
      ['pod', 'eth1'],
      ['client', veths.client],
      ['remote', veths.remote],
    ] as const) {
      run('ip', ['-n', ns[role], 'link', 'set', device, 'up']);
    }
    for (const route of routes) {
      const family = isIPv6(route.to) ? ['-6'] : [];
      run('ip', ['-n', ns[route.in], ...family, 'route', 'add', route.to, 'via', route.via]);
    }
  }

  /** A veth pair between `role` (end named `device`) and the pod (end named `podDevice`). */
  #veth(device: string, role: PodTopologyRole, podDevice: string): void {
    const { pod } = this.namespaces;
    run('ip', [
      'link',
      'add',
      device,
      'netns',
      this.namespaces[role],
      'type',
      'veth',
      'peer',
      'name',
      podDevice,
      'netns',
      pod,
    ]);
  }
}
