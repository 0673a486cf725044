// The capture rules proven with real TCP connections. The suite builds three
// network namespaces of its own and removes them afterwards:
//
//   client 192.0.2.20 ──veth── 192.0.2.10 [pod] 198.51.100.10 ──veth── 198.51.100.20 remote
//          2001:db8:1::20       2001:db8:1::10   2001:db8:2::10          2001:db8:2::20
//                                                                 lo: 203.0.113.5, 2001:db8:3::5
//
// In the pod, the real CLI installs the rules; listeners stand in for the
// proxy (15001, 15006: they answer with SO_ORIGINAL_DST), the app (8080,
// 9090) and the proxy's health port (15021). The host's own tables are never touched.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { PodTopology, type PodTopologyRole } from '../support/netns.ts';
import { requirePrerequisites } from '../support/prerequisites.ts';
import type { WhoAnswer } from './fixtures/who-server.ts';

const NODE = process.execPath;
const MAIN = join(import.meta.dirname, '../../src/iptables/main.ts');
const WHO_SERVER = join(import.meta.dirname, 'fixtures/who-server.ts');
const PROBE = join(import.meta.dirname, 'fixtures/probe.ts');
const SETPRIV_PROXY = ['setpriv', '--reuid=1337', '--regid=1337', '--clear-groups'];

const network = new PodTopology({
  prefix: `orx3-${process.pid}`,
  veths: { client: 'cl0', remote: 're0' },
  addresses: {
    pod: {
      eth0: ['192.0.2.10/24', '2001:db8:1::10/64'],
      eth1: ['198.51.100.10/24', '2001:db8:2::10/64'],
    },
    client: { cl0: ['192.0.2.20/24', '2001:db8:1::20/64'] },
    remote: {
      re0: ['198.51.100.20/24', '2001:db8:2::20/64'],
      lo: ['203.0.113.5/32', '2001:db8:3::5/128'],
    },
  },
  // The excluded CIDRs live on the remote's loopback, one hop behind it.
  routes: [
    { in: 'pod', to: '203.0.113.0/24', via: '198.51.100.20' },
    { in: 'pod', to: '2001:db8:3::/64', via: '2001:db8:2::20' },
  ],
});

/** The flags the init container gets in this suite. */
const CAPTURE_FLAGS = [
  '-b',
  '*',
  '-d',
  '9090',
  '-x',
  '203.0.113.0/24,2001:db8:3::/64',
  '-o',
  '7070',
];

interface Addresses {
  readonly podIp: string;
  readonly remoteIp: string;
  readonly excludedRemoteIp: string;
  readonly loopback: string;
}
const FAMILIES: ReadonlyArray<{ name: string; save: string; addr: Addresses }> = [
  {
    name: 'IPv4',
    save: 'iptables-save',
    addr: {
      podIp: '192.0.2.10',
      remoteIp: '198.51.100.20',
      excludedRemoteIp: '203.0.113.5',
      loopback: '127.0.0.1',
    },
  },
  {
    name: 'IPv6',
    save: 'ip6tables-save',
    addr: {
      podIp: '2001:db8:1::10',
      remoteIp: '2001:db8:2::20',
      excludedRemoteIp: '2001:db8:3::5',
      loopback: '::1',
    },
  },
];

function target(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

type Answer = WhoAnswer | { error: string };

/** One connection per target from inside the `from` namespace; optionally as the proxy user. */
function probe(from: PodTopologyRole, targets: string[], asProxyUser = false): Answer[] {
  const command = asProxyUser ? [...SETPRIV_PROXY, NODE, PROBE] : [NODE, PROBE];
  return JSON.parse(network.exec(from, command[0]!, [...command.slice(1), ...targets])) as Answer[];
}

function probeOne(from: PodTopologyRole, host: string, port: number, asProxyUser = false): Answer {
  return probe(from, [target(host, port)], asProxyUser)[0]!;
}

function assertAnswer(answer: Answer, label: string, original?: string): void {
  assert.ok('label' in answer, `expected ${label}, got ${JSON.stringify(answer)}`);
  assert.equal(answer.label, label, JSON.stringify(answer));
  if (original !== undefined) assert.equal(answer.original, original, JSON.stringify(answer));
}

/** The nat table as iptables-save prints it, without timestamps and packet counters. */
function natTable(save: string): string {
  return network
    .exec('pod', save, ['-t', 'nat'])
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .map((line) => line.replace(/\[\d+:\d+\]/, '[counters]'))
    .join('\n');
}

function bothNatTables(saveSuffix = ''): string {
  return FAMILIES.map((f) => natTable(f.save.replace('-save', `${saveSuffix}-save`))).join('\n');
}

function outrigger(args: readonly string[]): string {
  return network.exec('pod', NODE, [MAIN, ...args]);
}

/** Starts a who-server inside the `role` namespace and waits until every port listens. */
function startServer(role: PodTopologyRole, label: string, ports: number[]): Promise<ChildProcess> {
  const ns = network.namespaces[role];
  const child = spawn('ip', ['netns', 'exec', ns, NODE, WHO_SERVER, label, ports.join(',')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start`)), 10_000);
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${label} exited with ${code}`)));
  });
}

async function suite(t: TestContext): Promise<void> {
  const servers: ChildProcess[] = [];
  try {
    network.create();
    servers.push(
      await startServer('pod', 'proxy-outbound', [15001]),
      await startServer('pod', 'proxy-inbound', [15006]),
      await startServer('pod', 'app', [8080, 9090]),
      await startServer('pod', 'proxy-health', [15021]),
      await startServer('remote', 'remote', [80, 7070]),
    );
    const pristine = bothNatTables();

    await t.test('before any rule, every connection goes direct', () => {
      for (const { addr } of FAMILIES) {
        assertAnswer(probeOne('client', addr.podIp, 8080), 'app');
        assertAnswer(probeOne('pod', addr.remoteIp, 80), 'remote');
      }
    });

    await t.test('the CLI installs the rules in the pod namespace', () => {
      const log = outrigger(CAPTURE_FLAGS);
      assert.match(log, /applied with iptables-nft-restore --noflush/);
      assert.match(natTable('iptables-save'), /-A PREROUTING -p tcp -j OUTRIGGER_INBOUND/);
    });

    for (const { name, addr } of FAMILIES) {
      await t.test(`${name}: inbound to an app port reaches 15006 with the original port`, () => {
        assertAnswer(
          probeOne('client', addr.podIp, 8080),
          'proxy-inbound',
          target(addr.podIp, 8080),
        );
      });
      await t.test(`${name}: excluded inbound ports and the proxy's health port go direct`, () => {
        const [excluded, health] = probe('client', [
          target(addr.podIp, 9090),
          target(addr.podIp, 15021),
        ]);
        assertAnswer(excluded!, 'app');
        assertAnswer(health!, 'proxy-health');
      });
      await t.test(
        `${name}: outbound to the remote reaches 15001 with the original address`,
        () => {
          assertAnswer(
            probeOne('pod', addr.remoteIp, 80),
            'proxy-outbound',
            target(addr.remoteIp, 80),
          );
        },
      );
      await t.test(`${name}: excluded CIDRs and excluded ports go direct`, () => {
        const [cidr, port] = probe('pod', [
          target(addr.excludedRemoteIp, 80),
          target(addr.remoteIp, 7070),
        ]);
        assertAnswer(cidr!, 'remote');
        assertAnswer(port!, 'remote');
      });
      await t.test(`${name}: the proxy user's connections are never redirected`, () => {
        assertAnswer(probeOne('pod', addr.remoteIp, 80, true), 'remote');
      });
      await t.test(
        `${name}: app-to-app traffic over loopback and the own pod IP stays direct`,
        () => {
          const [loopback, ownIp] = probe('pod', [
            target(addr.loopback, 8080),
            target(addr.podIp, 8080),
          ]);
          assertAnswer(loopback!, 'app');
          assertAnswer(ownIp!, 'app');
        },
      );
    }

    await t.test('a second run converges to identical rules', () => {
      const first = bothNatTables();
      outrigger(CAPTURE_FLAGS);
      assert.equal(bothNatTables(), first);
      assert.equal(
        first.match(/-A OUTPUT -p tcp -j OUTRIGGER_OUTPUT/g)?.length,
        2,
        'one per family',
      );
    });

    await t.test('a re-run with new flags replaces the old rules', () => {
      // No inbound capture; outbound only towards the IPv6 remote network.
      outrigger(['-b', '', '-i', '2001:db8:2::/64']);
      assert.doesNotMatch(bothNatTables(), /-A PREROUTING .*OUTRIGGER/);
      const [v4, v6] = FAMILIES.map(({ addr }) => addr);
      assertAnswer(probeOne('client', v4!.podIp, 8080), 'app');
      assertAnswer(probeOne('client', v6!.podIp, 8080), 'app');
      assertAnswer(probeOne('pod', v4!.remoteIp, 80), 'remote');
      assertAnswer(probeOne('pod', v6!.remoteIp, 80), 'proxy-outbound', target(v6!.remoteIp, 80));
    });

    await t.test('--cleanup restores the pristine namespace, twice in a row', () => {
      outrigger(['--cleanup']);
      assert.equal(bothNatTables(), pristine);
      outrigger(['--cleanup']);
      assert.equal(bothNatTables(), pristine);
      for (const { addr } of FAMILIES) {
        assertAnswer(probeOne('client', addr.podIp, 8080), 'app');
        assertAnswer(probeOne('pod', addr.remoteIp, 80), 'remote');
      }
    });

    await t.test('a namespace already using legacy iptables gets legacy rules', () => {
      const marker = ['-t', 'filter', '-A', 'INPUT', '-p', 'tcp', '--dport', '1', '-j', 'ACCEPT'];
      network.exec('pod', 'iptables-legacy', marker);
      try {
        assert.match(outrigger(CAPTURE_FLAGS), /applied with iptables-legacy-restore --noflush/);
        assert.match(bothNatTables('-legacy'), /OUTRIGGER_INBOUND/);
        assert.doesNotMatch(bothNatTables(), /OUTRIGGER/, 'nothing in nf_tables');
        assertAnswer(
          probeOne('client', '192.0.2.10', 8080),
          'proxy-inbound',
          target('192.0.2.10', 8080),
        );
        outrigger(['--cleanup']);
        assert.doesNotMatch(bothNatTables('-legacy'), /OUTRIGGER/);
      } finally {
        network.exec('pod', 'iptables-legacy', ['-t', 'filter', '-D', ...marker.slice(3)]);
      }
    });
  } finally {
    for (const server of servers) server.kill();
    network.remove();
  }
}

test('traffic capture in real network namespaces', async (t) => {
  if (!requirePrerequisites(t, 'root', 'iptables', 'ip')) return;
  await suite(t);
});
