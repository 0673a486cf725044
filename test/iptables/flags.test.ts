// Every bad value is refused before any rule exists, with a coded error that
// names the flag and the value.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { CommanderError } from 'commander';
import { errors, isOutriggerError } from '../../src/iptables/errors.ts';
import { type Output, parseInvocation } from '../../src/iptables/flags.ts';
import { PORTS, PROXY_GID, PROXY_UID } from '../../src/shared/contract.ts';

const MAIN = join(import.meta.dirname, '../../src/iptables/main.ts');
const silent: Output = { writeOut: () => {}, writeErr: () => {} };

const invalid: ReadonlyArray<{ args: string[]; flag: string; value: string }> = [
  { args: ['-p', '0'], flag: '-p', value: '0' },
  { args: ['-p', '70000'], flag: '-p', value: '70000' },
  { args: ['-z', '15006x'], flag: '-z', value: '15006x' },
  { args: ['-z', ''], flag: '-z', value: '' },
  { args: ['-u', 'root'], flag: '-u', value: 'root' },
  { args: ['-g', '-1'], flag: '-g', value: '-1' },
  { args: ['-g', '4294967295'], flag: '-g', value: '4294967295' },
  { args: ['-m', 'TPROXY'], flag: '-m', value: 'TPROXY' },
  { args: ['-m', 'redirect'], flag: '-m', value: 'redirect' },
  { args: ['-b', '80,0'], flag: '-b', value: '80,0' },
  { args: ['-d', '8080-8090'], flag: '-d', value: '8080-8090' },
  { args: ['-q', '65536'], flag: '-q', value: '65536' },
  { args: ['-o', '*'], flag: '-o', value: '*' },
  { args: ['-i', '10.0.0.0/33'], flag: '-i', value: '10.0.0.0/33' },
  { args: ['-i', '10.0.0.256/8'], flag: '-i', value: '10.0.0.256/8' },
  { args: ['-x', '*'], flag: '-x', value: '*' },
  { args: ['-x', '2001:db8::/129'], flag: '-x', value: '2001:db8::/129' },
  { args: ['-x', '192.0.2.0/24/8'], flag: '-x', value: '192.0.2.0/24/8' },
  { args: ['-x', 'example.com'], flag: '-x', value: 'example.com' },
  { args: ['-c', 'eth0;rm'], flag: '-c', value: 'eth0;rm' },
  { args: ['-c', 'a-very-long-interface-name'], flag: '-c', value: 'a-very-long-interface-name' },
  // A flag taken as the interface name: refused, so the rules are not applied (issue #11 row 11).
  { args: ['-c', '--dry-run'], flag: '-c', value: '--dry-run' },
  { args: ['-c', '-eth0'], flag: '-c', value: '-eth0' },
  // A zone id, which ip6tables-restore would refuse after IPv4 was committed (row 7).
  { args: ['-i', 'fe80::1%eth0/64'], flag: '-i', value: 'fe80::1%eth0/64' },
  { args: ['-x', 'fe80::1%eth0'], flag: '-x', value: 'fe80::1%eth0' },
];

for (const { args, flag, value } of invalid) {
  test(`refuses ${args.map((a) => JSON.stringify(a)).join(' ')}`, () => {
    assert.throws(
      () => parseInvocation(args, silent),
      (err: unknown) =>
        isOutriggerError(err, errors.INVALID_FLAG) &&
        err.message.startsWith(`flag ${flag}: `) &&
        err.message.includes(JSON.stringify(value)),
    );
  });
}

test('TPROXY is refused with a message saying it is not implemented yet', () => {
  assert.throws(() => parseInvocation(['-m', 'TPROXY'], silent), /TPROXY is not implemented yet/);
});

test('an unknown flag or a missing value is a usage error from commander', () => {
  assert.throws(() => parseInvocation(['--tproxy'], silent), CommanderError);
  assert.throws(() => parseInvocation(['-p'], silent), CommanderError);
  assert.throws(() => parseInvocation(['extra'], silent), CommanderError);
});

test('defaults follow the contract: capture everything, spare the proxy', () => {
  const { action, settings } = parseInvocation([], silent);
  assert.equal(action, 'apply');
  assert.deepEqual(settings, {
    mode: 'REDIRECT',
    outboundCapturePort: PORTS.outboundCapture,
    inboundCapturePort: PORTS.inboundCapture,
    proxyUid: PROXY_UID,
    proxyGid: PROXY_GID,
    inboundPorts: '*',
    excludeInboundPorts: [PORTS.admin, PORTS.health, PORTS.prometheus],
    includeOutboundCidrs: '*',
    excludeOutboundCidrs: [],
    includeOutboundPorts: [],
    excludeOutboundPorts: [],
    excludeInterfaces: [],
  });
});

test('lists are trimmed and deduplicated; bare addresses become host CIDRs', () => {
  // The annotations' list grammar (src/shared/grammar): blank items are dropped, so `80,` is 80.
  const { settings } = parseInvocation(
    ['-b', ' 8080, 9090 ,8080,', '-d', '15021,,22', '-x', '192.0.2.1, 2001:DB8::1,192.0.2.1/32'],
    silent,
  );
  assert.deepEqual(settings.inboundPorts, [8080, 9090]);
  assert.deepEqual(settings.excludeInboundPorts, [15000, 15021, 15090, 22]);
  assert.deepEqual(settings.excludeOutboundCidrs, [
    { family: 'ipv4', text: '192.0.2.1/32' },
    { family: 'ipv6', text: '2001:db8::1/128' },
  ]);
});

test('empty -b and -i mean capture nothing, not everything', () => {
  const { settings } = parseInvocation(['-b', '', '-i', ''], silent);
  assert.deepEqual(settings.inboundPorts, []);
  assert.deepEqual(settings.includeOutboundCidrs, []);
});

test('--dry-run and --cleanup select the action', () => {
  assert.equal(parseInvocation(['--dry-run'], silent).action, 'dry-run');
  assert.equal(parseInvocation(['--cleanup'], silent).action, 'cleanup');
  assert.equal(parseInvocation(['--cleanup', '--dry-run'], silent).action, 'dry-run-cleanup');
});

test('the CLI exits non-zero naming the flag and value, and prints no rules', () => {
  for (const args of [['-p', '0'], ['-x', '10.0.0.0/33'], ['-m', 'TPROXY'], ['--nope']]) {
    const result = spawnSync(process.execPath, [MAIN, '--dry-run', ...args], { encoding: 'utf8' });
    assert.equal(result.status, 2, `status for ${args.join(' ')}`);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, new RegExp(args[0]!));
    if (args[1] !== undefined) assert.ok(result.stderr.includes(args[1]), result.stderr);
  }
});
