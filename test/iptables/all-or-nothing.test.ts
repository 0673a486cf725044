// The init program is all-or-nothing across address families, proven with the
// real CLI and real iptables in a network namespace of the suite's own:
//
// - when the IPv6 transaction fails after the IPv4 one committed (a shim in
//   front of ip6tables-restore adds a rule the kernel refuses), the IPv4 nat
//   table is restored to exactly what it held, and the exit status is non-zero;
// - when the kernel has no IPv6 nat table (a shim answers ip6tables-save -t nat
//   as legacy iptables does then), IPv4 is captured and the IPv6 gap is logged.
//
// The host's own tables are never touched; no address is connected to.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { requirePrerequisites } from '../support/prerequisites.ts';

const NODE = process.execPath;
const MAIN = join(import.meta.dirname, '../../src/iptables/main.ts');
const NS = `orx7-${process.pid}`;
/** A rule of ours that was not there before: the IPv4 half is on when this shows. */
const OUR_CHAIN = 'OUTRIGGER_OUTPUT';
/** Someone else's rule, which the rollback must keep (documentation range, never dialled). */
const MARKER = ['-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.99/32', '-j', 'RETURN'];

const IP6_RESTORES = ['ip6tables-nft-restore', 'ip6tables-legacy-restore', 'ip6tables-restore'];
const IP6_SAVES = ['ip6tables-nft-save', 'ip6tables-legacy-save', 'ip6tables-save'];

function realPath(command: string): string {
  return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim();
}

/** A directory of shell scripts that stand in for some commands, put first in PATH. */
function shimDirectory(scripts: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-shim-'));
  for (const [name, body] of Object.entries(scripts)) {
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\n${body}\n`);
    chmodSync(file, 0o755);
  }
  return dir;
}

function inNamespace(file: string, args: string[], path?: string) {
  const env = path ? ['env', `PATH=${path}:${process.env.PATH}`] : [];
  return spawnSync('ip', ['netns', 'exec', NS, ...env, file, ...args], { encoding: 'utf8' });
}

/** Both back ends' nat tables for a family, rules only (counters and comments vary). */
function natRules(family: 'ipv4' | 'ipv6'): string {
  const prefix = family === 'ipv4' ? 'iptables' : 'ip6tables';
  return ['nft', 'legacy']
    .map((variant) => {
      const result = inNamespace(`${prefix}-${variant}-save`, ['-t', 'nat']);
      return result.stdout
        .split('\n')
        .filter((line) => line.startsWith('-A ') || line.startsWith(':'))
        .map((line) => line.replace(/\[\d+:\d+\]/, ''))
        .join('\n');
    })
    .join('\n---\n');
}

describe('outrigger-iptables across address families', () => {
  const dirs: string[] = [];
  let ready = false;

  before(() => {
    if (process.getuid?.() !== 0) return;
    spawnSync('ip', ['netns', 'del', NS]);
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    ready = true;
  });
  after(() => {
    spawnSync('ip', ['netns', 'del', NS]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const prerequisites = (t: TestContext) =>
    requirePrerequisites(t, 'root', 'iptables', 'ip') && ready;

  test('an IPv6 failure after IPv4 committed rolls IPv4 back and exits non-zero', (t) => {
    if (!prerequisites(t)) return;
    // The plain iptables decides the back end in a fresh namespace; mark it there.
    const marked = inNamespace('iptables', MARKER);
    assert.equal(marked.status, 0, marked.stderr);
    const before = natRules('ipv4');
    const before6 = natRules('ipv6');

    const shims = shimDirectory(
      Object.fromEntries(
        IP6_RESTORES.map((name) => [
          name,
          // Passes the input on with one more rule, whose target does not exist.
          `sed 's/^COMMIT$/-A ${OUR_CHAIN} -p tcp -j NO_SUCH_TARGET\\nCOMMIT/' | exec ${realPath(name)} "$@"`,
        ]),
      ),
    );
    dirs.push(shims);
    const result = inNamespace(NODE, [MAIN], shims);

    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /ip6tables-\S*restore --noflush failed/);
    assert.match(result.stderr, /the IPv4 rules committed before it were rolled back/);
    assert.match(result.stderr, /OUTRIGGER_IPTABLES_ROLLED_BACK/);
    const after = natRules('ipv4');
    assert.equal(after, before, 'the IPv4 nat table is exactly as it was');
    assert.ok(after.includes('192.0.2.99/32'), 'the marker rule survived the rollback');
    assert.ok(!after.includes(OUR_CHAIN));
    assert.equal(natRules('ipv6'), before6);
  });

  test('without an IPv6 nat table, IPv4 is captured and the IPv6 gap is logged', (t) => {
    if (!prerequisites(t)) return;
    const shims = shimDirectory(
      Object.fromEntries(
        IP6_SAVES.map((name) => [
          name,
          // What legacy ip6tables-save prints when ip6table_nat is not in the kernel.
          `case "$*" in *"-t nat"*) echo "${name} v1.8.9 (legacy): Cannot initialize: Table does not exist (do you need to insmod?)" >&2; exit 1;; esac\nexec ${realPath(name)} "$@"`,
        ]),
      ),
    );
    dirs.push(shims);
    const before6 = natRules('ipv6');
    const result = inNamespace(NODE, [MAIN], shims);

    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(
      result.stderr,
      /warning: ipv6 left alone, its traffic is not captured: ip6tables-\S*save -t nat: .*Table does not exist/,
    );
    assert.ok(natRules('ipv4').includes(`-A OUTPUT -p tcp -j ${OUR_CHAIN}`));
    assert.equal(natRules('ipv6'), before6, 'IPv6 untouched');
  });
});
