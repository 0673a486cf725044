// The connection-level policy compiled from a PolicyState: Block All's
// decisions from cidr, ports and host patterns, the buckets per direction and
// port, nothing compiled at all when nothing is enforced, and buckets that
// survive a reload exactly when their limits are unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ADMIT,
  ConnectionPolicy,
  POLICY_BLOCKED,
  RATE_LIMITED,
} from '../../proxy/src/policy/connection-policy.ts';
import { PolicyState } from '../../proxy/src/policy/policy-state.ts';
import { parsePolicy } from '../../src/shared/policy/parse.ts';
import type { Policy } from '../../src/shared/policy/schema.ts';

function policy(body: string): Policy {
  const result = parsePolicy(`apiVersion: outrigger.dev/v1alpha1\nkind: TrafficPolicy\n${body}`);
  assert.ok(result.ok, JSON.stringify(result));
  return result.policy;
}

const BLOCK_ALL = policy(`
outbound:
  mode: blockAll
  allow:
    - {cidr: 198.51.100.0/24, ports: [80, 443]}
    - {cidr: "2001:db8::/32"}
    - {ports: [53]}
    - {host: api.example.com}
    - {host: "*.tls.example", ports: [8443]}
`);

test('no policy, or allowAny without buckets, compiles to nothing', () => {
  assert.equal(new ConnectionPolicy(new PolicyState()).current, undefined);
  const state = new PolicyState(policy('listeners: [{port: 80, direction: inbound}]\n'));
  assert.equal(new ConnectionPolicy(state).current, undefined);
});

test('Block All decides from cidr and ports at accept, and names the hosts that could allow', () => {
  const compiled = new ConnectionPolicy(new PolicyState(BLOCK_ALL)).current!;
  const admit = (address: string, port: number) => compiled.admit('outbound', address, port);
  assert.equal(admit('198.51.100.7', 80), ADMIT);
  assert.equal(admit('::ffff:198.51.100.7', 443), ADMIT);
  assert.equal(admit('2001:db8:1::5', 9999), ADMIT);
  assert.equal(admit('203.0.113.1', 53), ADMIT);
  assert.deepEqual(admit('198.51.100.7', 22), [{ exact: 'api.example.com' }]);
  assert.deepEqual(admit('203.0.113.1', 8443), [
    { exact: 'api.example.com' },
    { suffix: '.tls.example' },
  ]);
  assert.equal(compiled.admit('inbound', '203.0.113.1', 22), ADMIT, 'inbound is never blocked');
  const hosts = admit('203.0.113.1', 8443);
  assert.ok(typeof hosts !== 'string');
  const byHost = (host: string | undefined) => compiled.admitHost('outbound', 8443, hosts, host);
  assert.equal(byHost('api.example.com'), ADMIT);
  assert.equal(byHost('a.tls.example'), ADMIT);
  assert.equal(byHost('a.b.tls.example'), ADMIT);
  assert.equal(byHost('tls.example'), POLICY_BLOCKED, '*.x matches below x, not x');
  assert.equal(byHost('evil-tls.example'), POLICY_BLOCKED);
  assert.equal(byHost(undefined), POLICY_BLOCKED);
});

test('a Block All with an empty allow list blocks every outbound connection', () => {
  const compiled = new ConnectionPolicy(new PolicyState(policy('outbound: {mode: blockAll}\n')))
    .current!;
  assert.equal(compiled.admit('outbound', '198.51.100.7', 80), POLICY_BLOCKED);
});

test('buckets are per direction and port; blocked connections take no token', () => {
  const now = { t: 0 };
  const state = new PolicyState(
    policy(`
outbound: {mode: blockAll, allow: [{ports: [7000]}]}
listeners:
  - {port: 7000, direction: outbound, connectionRateLimit: {maxTokens: 1, fillInterval: 1s}}
  - {port: 7000, direction: inbound, connectionRateLimit: {maxTokens: 1, fillInterval: 1s}}
`),
  );
  const compiled = new ConnectionPolicy(state, () => now.t).current!;
  assert.equal(compiled.admit('outbound', '198.51.100.7', 7001), POLICY_BLOCKED);
  assert.equal(compiled.admit('outbound', '198.51.100.7', 7000), ADMIT);
  assert.equal(compiled.admit('outbound', '198.51.100.7', 7000), RATE_LIMITED);
  assert.equal(compiled.admit('inbound', '192.0.2.10', 7000), ADMIT);
  assert.equal(compiled.admit('inbound', '192.0.2.10', 7000), RATE_LIMITED);
  now.t = 1000;
  assert.equal(compiled.admit('outbound', '198.51.100.7', 7000), ADMIT);
});

test('a reload keeps unchanged buckets with their tokens and rebuilds changed ones', () => {
  const now = { t: 0 };
  const listeners = (a: string, b: string) =>
    policy(`
listeners:
  - {port: 7000, direction: outbound, connectionRateLimit: ${a}}
  - {port: 7001, direction: outbound, connectionRateLimit: ${b}}
`);
  const state = new PolicyState(
    listeners('{maxTokens: 1, fillInterval: 10s}', '{maxTokens: 1, fillInterval: 10s}'),
  );
  const connections = new ConnectionPolicy(state, () => now.t);
  const first = connections.current!;
  assert.equal(first.admit('outbound', '198.51.100.7', 7000), ADMIT);
  assert.equal(first.admit('outbound', '198.51.100.7', 7001), ADMIT);

  // 7000 written differently but the same limits; 7001 changed.
  state.replace(
    listeners(
      '{maxTokens: 1, tokensPerFill: 1, fillInterval: 10000ms}',
      '{maxTokens: 2, fillInterval: 10s}',
    ),
  );
  const second = connections.current!;
  assert.notEqual(second, first);
  assert.equal(second.generation, 1);
  assert.equal(second.buckets.outbound.get(7000), first.buckets.outbound.get(7000));
  assert.notEqual(second.buckets.outbound.get(7001), first.buckets.outbound.get(7001));
  assert.equal(second.admit('outbound', '198.51.100.7', 7000), RATE_LIMITED, 'still used up');
  assert.equal(second.admit('outbound', '198.51.100.7', 7001), ADMIT, 'a fresh, full bucket');

  // Dropping every limit compiles to nothing; bringing one back starts it full.
  state.replace(policy(''));
  assert.equal(connections.current, undefined);
  state.replace(
    listeners('{maxTokens: 1, fillInterval: 10s}', '{maxTokens: 1, fillInterval: 10s}'),
  );
  assert.equal(connections.current!.admit('outbound', '198.51.100.7', 7000), ADMIT);
});
