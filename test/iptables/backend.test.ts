// Backend detection against scripted command results: which binaries exist,
// which back end already holds rules, and what plain `iptables` reports.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backendFromVersion, countRules, detectBackend } from '../../src/iptables/backend.ts';
import { errors, isOutriggerError } from '../../src/iptables/errors.ts';
import type { CommandResult, RunCommand } from '../../src/iptables/run-command.ts';

const missing: CommandResult = { status: null, stdout: '', stderr: 'spawnSync ENOENT' };
const ok = (stdout: string): CommandResult => ({ status: 0, stdout, stderr: '' });

const EMPTY_NAT = '*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';
const WITH_RULES = '*nat\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p tcp -j OUTRIGGER_OUTPUT\nCOMMIT\n';

/** A fake machine: command name → what it prints; absent commands do not exist. */
function machine(commands: Record<string, string>): RunCommand {
  return (file) => (file in commands ? ok(commands[file]!) : missing);
}

test('a fresh namespace follows what plain iptables is', () => {
  const both = {
    'iptables-nft-save': EMPTY_NAT,
    'ip6tables-nft-save': EMPTY_NAT,
    'iptables-legacy-save': '',
    'ip6tables-legacy-save': '',
  };
  const legacyPlain = machine({ ...both, iptables: 'iptables v1.8.9 (legacy)\n' });
  assert.equal(detectBackend(legacyPlain).name, 'legacy');
  const nftPlain = machine({ ...both, iptables: 'iptables v1.8.9 (nf_tables)\n' });
  assert.equal(detectBackend(nftPlain).name, 'nft');
  assert.equal(detectBackend(machine(both)).name, 'nft', 'nft when nothing says otherwise');
});

test('the back end that already holds rules wins over the default', () => {
  const run = machine({
    iptables: 'iptables v1.8.9 (nf_tables)\n',
    'iptables-nft-save': EMPTY_NAT,
    'ip6tables-nft-save': EMPTY_NAT,
    'iptables-legacy-save': '',
    'ip6tables-legacy-save': WITH_RULES,
  });
  const backend = detectBackend(run);
  assert.equal(backend.name, 'legacy');
  assert.deepEqual(backend.restore, {
    ipv4: 'iptables-legacy-restore',
    ipv6: 'ip6tables-legacy-restore',
  });
});

test('a variant whose save command fails is not a candidate', () => {
  const run = machine({
    iptables: 'iptables v1.8.9 (nf_tables)\n',
    'iptables-legacy-save': '',
    'ip6tables-legacy-save': '',
  });
  assert.equal(detectBackend(run).name, 'legacy');
});

test('without variant-named binaries the plain ones are used', () => {
  const backend = detectBackend(
    machine({
      iptables: 'iptables v1.8.4 (legacy)\n',
      'iptables-save': WITH_RULES,
      'ip6tables-save': '',
    }),
  );
  assert.equal(backend.name, 'legacy');
  assert.equal(backend.save.ipv4, 'iptables-save');
  assert.equal(backend.restore.ipv6, 'ip6tables-restore');
});

test('no iptables at all is a coded error', () => {
  assert.throws(
    () => detectBackend(machine({})),
    (err: unknown) => isOutriggerError(err, errors.IPTABLES_UNAVAILABLE),
  );
});

test('version strings and rule counts', () => {
  assert.equal(backendFromVersion('iptables v1.8.10 (nf_tables)'), 'nft');
  assert.equal(backendFromVersion('iptables v1.8.10 (legacy)'), 'legacy');
  assert.equal(backendFromVersion('iptables v1.4.21'), undefined);
  assert.equal(countRules(EMPTY_NAT), 0);
  assert.equal(countRules(`${WITH_RULES}${WITH_RULES}`), 2);
});

test('plain binaries stand in for a variant that lacks variant-named ones', () => {
  const run = machine({
    iptables: 'iptables v1.8.10 (nf_tables)\n',
    'iptables-save': EMPTY_NAT,
    'ip6tables-save': EMPTY_NAT,
    'iptables-legacy-save': '',
    'ip6tables-legacy-save': '',
  });
  const backend = detectBackend(run);
  assert.equal(backend.name, 'nft');
  assert.equal(backend.restore.ipv4, 'iptables-restore');
});
