import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parsePolicy } from '../../src/shared/policy/parse.ts';
import { durationMs } from '../../src/shared/policy/schema.ts';

const example = readFileSync(new URL('../../examples/policy.yaml', import.meta.url), 'utf8');

test('the example policy parses, with defaults filled in', () => {
  const result = parsePolicy(example);
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.policy.listeners[0]?.routes?.[0]?.to?.[0]?.weight, 1);
  assert.deepEqual(result.policy.listeners[0]?.routes?.[0]?.match, {
    headers: [{ name: 'version', exact: 'v2' }],
  });
});

test('an empty policy allows any outbound destination and declares no listener', () => {
  const result = parsePolicy('apiVersion: outrigger.dev/v1alpha1\nkind: TrafficPolicy\n');
  assert.ok(result.ok);
  assert.deepEqual(result.policy.outbound, { mode: 'allowAny', allow: [] });
  assert.deepEqual(result.policy.listeners, []);
});

test('every problem is reported with its path', () => {
  const result = parsePolicy(`apiVersion: outrigger.dev/v1alpha1
kind: TrafficPolicy
outbound: {mode: blockAll, allow: [{cidr: "fe80::1%eth0/64"}, {}]}
listeners:
  - {port: 80, direction: outbound, routes: [{name: a}]}
  - {port: 80, direction: outbound, protocol: http, routes: [{name: a, to: [{weight: 0}]}, {name: a, fault: {}}]}
`);
  assert.ok(!result.ok);
  const text = result.problems.join('\n');
  for (const path of [
    '/outbound/allow/0/cidr',
    '/outbound/allow/1',
    '/listeners/0/routes',
    '/listeners/1: outbound/80 is declared twice',
    '/listeners/1/routes/0/to',
    '/listeners/1/routes/1/name',
    '/listeners/1/routes/1/fault',
  ]) {
    assert.match(text, new RegExp(path.replace(/[/]/g, '\\/')), text);
  }
});

test('schema errors and YAML errors are problems, never exceptions', () => {
  for (const text of ['{', '[]', 'apiVersion: v1\nkind: ConfigMap', '42']) {
    const result = parsePolicy(text);
    assert.ok(!result.ok, text);
    assert.ok(result.problems.length > 0);
  }
});

test('durations are read as Envoy writes them', () => {
  assert.equal(durationMs('250ms'), 250);
  assert.equal(durationMs('1.5s'), 1500);
  assert.equal(durationMs('2m'), 120_000);
  assert.throws(() => durationMs('1h'));
});

test('a token bucket that refills every 0 ms is a problem, at both layers', () => {
  const result = parsePolicy(`apiVersion: outrigger.dev/v1alpha1
kind: TrafficPolicy
listeners:
  - port: 80
    direction: inbound
    protocol: http
    connectionRateLimit: {maxTokens: 1, fillInterval: 0s}
    routes: [{name: a, rateLimit: {maxTokens: 1, fillInterval: 0ms}}]
`);
  assert.ok(!result.ok);
  const text = result.problems.join('\n');
  assert.match(text, /\/listeners\/0\/connectionRateLimit\/fillInterval: must be above 0/);
  assert.match(text, /\/listeners\/0\/routes\/0\/rateLimit\/fillInterval: must be above 0/);
});

test('a union that does not match says what it takes, not "Expected union value"', () => {
  const result = parsePolicy(`apiVersion: outrigger.dev/v1alpha1
kind: TrafficPolicy
outbound: {mode: blockEverything}
listeners:
  - port: 80
    direction: outbound
    protocol: h2
  - port: 81
    direction: inbound
    protocol: http
    routes:
      - name: a
        match:
          path: {regex: x}
          authority: {exact: a, prefix: b}
          headers: [{name: v, exact: 1}, {name: w}]
`);
  assert.ok(!result.ok);
  assert.deepEqual(result.problems, [
    '/outbound/mode: expected one of allowAny, blockAll (got "blockEverything")',
    '/listeners/0/protocol: expected one of tcp, http (got "h2")',
    '/listeners/1/routes/0/match/authority: expected exactly one of exact, prefix (got {"exact":"a","prefix":"b"})',
    '/listeners/1/routes/0/match/path: expected exactly one of exact, prefix (got {"regex":"x"})',
    '/listeners/1/routes/0/match/headers/0/exact: Expected string (got 1)',
    '/listeners/1/routes/0/match/headers/1: expected name and exactly one of exact, prefix, present (got {"name":"w"})',
  ]);
});

test('a route may not rewrite framing or hop-by-hop fields', () => {
  const result = parsePolicy(`apiVersion: outrigger.dev/v1alpha1
kind: TrafficPolicy
listeners:
  - port: 80
    direction: inbound
    protocol: http
    routes:
      - name: a
        requestHeaders: {remove: [Content-Length], add: [{name: x-ok, value: "1"}]}
        responseHeaders: {set: [{name: connection, value: close}]}
`);
  assert.ok(!result.ok);
  assert.deepEqual(result.problems, [
    '/listeners/0/routes/0/requestHeaders: Content-Length frames the message or belongs to one connection; it cannot be rewritten',
    '/listeners/0/routes/0/responseHeaders: connection frames the message or belongs to one connection; it cannot be rewritten',
  ]);
});
