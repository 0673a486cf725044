// The error tables: one per program, every entry coded, a reason for metrics,
// and an HTTP status only where the error ends an HTTP exchange.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errors as proxyErrors } from '../../proxy/src/errors.ts';
import { errors as injectorErrors } from '../../src/errors.ts';
import { errors as iptablesErrors } from '../../src/iptables/errors.ts';
import { type ErrorSpec, isOutriggerError } from '../../src/shared/errors.ts';

const TABLES = { injector: injectorErrors, iptables: iptablesErrors, proxy: proxyErrors };

test('every reason is its code without the prefix, as the metrics and dashboards label them', () => {
  for (const [program, table] of Object.entries(TABLES)) {
    for (const [name, entry] of Object.entries(table)) {
      assert.equal(entry.code, `OUTRIGGER_${name}`, `${program} ${name}`);
      assert.equal(entry.reason, name.toLowerCase(), `${program} ${name}`);
    }
  }
});

test('only the errors the webhook answers with carry an HTTP status', () => {
  const withStatus = (table: Record<string, ErrorSpec>) =>
    Object.entries(table)
      .filter(([, entry]) => entry.httpStatus !== undefined)
      .map(([name, entry]) => `${name} ${entry.httpStatus}`);
  assert.deepEqual(withStatus(injectorErrors), [
    'NOT_ADMISSION_REVIEW 400',
    'NOT_A_POD 400',
    'INVALID_ANNOTATION 400',
    'INVALID_LABEL 400',
    'NAME_CONFLICT 400',
    'PROXY_PORT_CONFLICT 400',
  ]);
  assert.deepEqual(withStatus(iptablesErrors), []);
  assert.deepEqual(withStatus(proxyErrors), []);
});

test('a code means one thing in every table that has it', () => {
  const seen = new Map<string, string>();
  for (const table of Object.values(TABLES)) {
    for (const entry of Object.values(table)) {
      const spec = JSON.stringify({ reason: entry.reason, httpStatus: entry.httpStatus });
      assert.equal(seen.get(entry.code) ?? spec, spec, entry.code);
      seen.set(entry.code, spec);
    }
  }
});

test('an error made from an entry is recognised by the entry, whichever table it came from', () => {
  const err = iptablesErrors.INVALID_FLAG('-p', 'x', 'expected a port');
  assert.equal(err.reason, 'invalid_flag');
  assert.equal(err.httpStatus, undefined);
  assert.equal(isOutriggerError(err, iptablesErrors.INVALID_FLAG), true);
  assert.equal(isOutriggerError(err, injectorErrors.INVALID_FLAG), true);
  assert.equal(isOutriggerError(err, iptablesErrors.IPTABLES_UNAVAILABLE), false);
});
