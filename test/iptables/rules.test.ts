// Golden tests: the exact iptables-restore text for each flag combination,
// compared with files under testdata/ that reviewers read in diffs.
// Regenerate them with `npm run golden:update` (or `npm run golden:iptables` for these alone).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseInvocation } from '../../src/iptables/flags.ts';
import {
  expectedJumps,
  FAMILIES,
  ownJumps,
  renderCapture,
  renderCleanup,
} from '../../src/iptables/rules.ts';
import { expectGolden } from '../support/golden.ts';

const TESTDATA = join(import.meta.dirname, 'testdata');
const MAIN = join(import.meta.dirname, '../../src/iptables/main.ts');

/** Each case is the init container's argument list; the golden is its --dry-run output. */
const cases: ReadonlyArray<{ name: string; args: string[] }> = [
  { name: 'defaults', args: [] },
  { name: 'inbound-all-ports', args: ['-b', '*'] },
  { name: 'inbound-port-list', args: ['-b', '8080,9090'] },
  { name: 'inbound-excluded-ports', args: ['-b', '*', '-d', '22,9090'] },
  { name: 'inbound-none', args: ['-b', ''] },
  { name: 'outbound-include-cidrs', args: ['-i', '10.96.0.0/12,192.0.2.0/24'] },
  { name: 'outbound-exclude-cidrs', args: ['-x', '169.254.169.254/32,203.0.113.0/24'] },
  { name: 'outbound-include-ports', args: ['-i', '', '-q', '80,443'] },
  { name: 'outbound-exclude-ports', args: ['-o', '25,3306'] },
  { name: 'outbound-none', args: ['-i', ''] },
  { name: 'excluded-interfaces', args: ['-c', 'eth1,net1'] },
  {
    name: 'ipv6-ranges',
    args: ['-i', '2001:db8:1::/48,192.0.2.0/24', '-x', '2001:db8:1:ff::/64,198.51.100.7'],
  },
  { name: 'custom-uid-gid', args: ['-u', '2000', '-g', '3000'] },
  { name: 'custom-capture-ports', args: ['-p', '16001', '-z', '16006'] },
  {
    name: 'everything',
    args: [
      ...['-b', '8080,8443', '-d', '8081', '-i', '*', '-x', '10.0.0.1/32,fd00::/8'],
      ...['-q', '9000', '-o', '5432', '-c', 'eth1', '-u', '1337', '-g', '1337', '-m', 'REDIRECT'],
    ],
  },
];

function dryRun(args: string[]): string {
  const { settings } = parseInvocation(args);
  return FAMILIES.map((family) => renderCapture(settings, family)).join('\n');
}

/** testdata/<name>.rules, through the one golden helper. */
function expectGoldenRules(name: string, actual: string): void {
  expectGolden(join(TESTDATA, `${name}.rules`), actual);
}

for (const { name, args } of cases) {
  test(`golden: ${name} (${args.map((a) => JSON.stringify(a)).join(' ') || 'no flags'})`, () => {
    expectGoldenRules(name, dryRun(args));
  });
}

test('golden: a re-run deletes the jumps it finds before adding them again', () => {
  const { settings } = parseInvocation([]);
  const saved = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    '-A PREROUTING -p tcp -j OUTRIGGER_INBOUND',
    '-A OUTPUT -p tcp -j OUTRIGGER_OUTPUT',
    '-A OUTRIGGER_OUTPUT -j OUTRIGGER_REDIRECT',
    '-A OUTPUT -j KUBE-SERVICES',
    'COMMIT',
  ].join('\n');
  expectGoldenRules('rerun', renderCapture(settings, 'ipv4', ownJumps(saved)));
});

test('golden: cleanup removes the jumps and then the chains', () => {
  const { settings } = parseInvocation([]);
  expectGoldenRules(
    'cleanup',
    FAMILIES.map((family) => renderCleanup(family, expectedJumps(settings))).join('\n'),
  );
});

test('the CLI prints exactly the golden text with --dry-run', () => {
  const args = ['-b', '*', '-d', '22,9090'];
  const stdout = execFileSync(process.execPath, [MAIN, '--dry-run', ...args], {
    encoding: 'utf8',
  });
  assert.equal(stdout, readFileSync(join(TESTDATA, 'inbound-excluded-ports.rules'), 'utf8'));
});

test('ownJumps finds only jumps from built-in chains into our chains', () => {
  const saved = [
    '-A PREROUTING -p tcp -j OUTRIGGER_INBOUND',
    '-A PREROUTING -p tcp -j OUTRIGGER_INBOUND',
    '-A OUTPUT -p tcp -j OUTRIGGER_OUTPUT',
    '-A OUTRIGGER_INBOUND -p tcp -j OUTRIGGER_IN_REDIRECT',
    '-A OUTPUT -p tcp -j KUBE-SERVICES',
    '# -A OUTPUT -j OUTRIGGER_OUTPUT',
  ].join('\n');
  assert.deepEqual(ownJumps(saved), [
    '-A PREROUTING -p tcp -j OUTRIGGER_INBOUND',
    '-A PREROUTING -p tcp -j OUTRIGGER_INBOUND',
    '-A OUTPUT -p tcp -j OUTRIGGER_OUTPUT',
  ]);
});

test('an empty inbound list installs no PREROUTING jump at all', () => {
  const { settings } = parseInvocation(['-b', '']);
  for (const family of FAMILIES) {
    assert.doesNotMatch(renderCapture(settings, family), /PREROUTING/);
  }
  assert.deepEqual(expectedJumps(settings), ['-A OUTPUT -p tcp -j OUTRIGGER_OUTPUT']);
});

test('each family only gets the CIDRs of its own family', () => {
  const { settings } = parseInvocation(['-i', '192.0.2.0/24,2001:db8::/32', '-x', '198.51.100.1']);
  const v4 = renderCapture(settings, 'ipv4');
  const v6 = renderCapture(settings, 'ipv6');
  assert.match(v4, /-d 192\.0\.2\.0\/24 -j OUTRIGGER_REDIRECT/);
  assert.match(v4, /-d 198\.51\.100\.1\/32 -j RETURN/);
  assert.doesNotMatch(v4, /2001:db8/);
  assert.match(v6, /-d 2001:db8::\/32 -j OUTRIGGER_REDIRECT/);
  assert.doesNotMatch(v6, /192\.0\.2|198\.51\.100/);
});
