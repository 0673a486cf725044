// Loading and hot-reloading the configuration file.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { type ConfigReport, ConfigSource } from '../../src/config/watch.ts';
import { errors, isOutriggerError } from '../../src/errors.ts';

test('an empty file is the complete default configuration', () => {
  const config = parseConfig('', 'empty');
  assert.equal(config.nativeSidecars, true);
  assert.equal(config.proxy.uid, 1337);
  assert.equal(config.interception.includeInboundPorts, '*');
  assert.deepEqual(config, defaultConfig());
});

test('the interception selections are resolved once, at load, into the values rendering uses', () => {
  const config = parseConfig(
    'interception: {includeInboundPorts: "8080, 9090", includeOutboundIPRanges: "192.0.2.1, 2001:DB8::/32"}',
    'selections',
  );
  assert.deepEqual(config.interception.includeInboundPorts, [8080, 9090]);
  assert.deepEqual(config.interception.includeOutboundIPRanges, ['192.0.2.1/32', '2001:db8::/32']);
  const none = parseConfig(
    'interception: {includeInboundPorts: "", includeOutboundIPRanges: ""}',
    'none',
  );
  assert.deepEqual(none.interception.includeInboundPorts, []);
  assert.deepEqual(none.interception.includeOutboundIPRanges, []);
});

test('the checks beyond the schema report every problem at once, each with its path', () => {
  assert.throws(
    () =>
      parseConfig(
        'interception: {excludeInterfaces: ["-x"]}\ninit: {resources: {requests: {cpu: "2"}, limits: {cpu: "1"}}}',
        'cfg',
      ),
    (err) =>
      isOutriggerError(err, errors.INVALID_CONFIG) &&
      err.message.includes('/interception/excludeInterfaces/0: ') &&
      err.message.includes('/init/resources/requests/cpu: request 2 exceeds limit 1'),
  );
});

test('typos, wrong types and bad list values are refused with their path', () => {
  const cases: Array<[string, string]> = [
    ['proxy: {imge: x}', '/proxy/imge'],
    ['nativeSidecars: maybe', '/nativeSidecars'],
    ['interception: {excludeInboundPorts: [0]}', '/interception/excludeInboundPorts/0'],
    [
      'interception: {excludeOutboundIPRanges: ["10.0.0.0/40"]}',
      '/interception/excludeOutboundIPRanges/0',
    ],
    ['interception: {includeInboundPorts: "80,http"}', '/interception/includeInboundPorts'],
    [
      'proxy: {resources: {requests: {memory: 1Gi}, limits: {memory: 1Mi}}}',
      '/proxy/resources/requests/memory',
    ],
    ['- just\n- a list', 'top level'],
    ['a: [unclosed', 'YAML'],
  ];
  for (const [text, where] of cases) {
    assert.throws(
      () => parseConfig(text, 'cfg'),
      (err) => isOutriggerError(err, errors.INVALID_CONFIG) && err.message.includes(where),
      text,
    );
  }
});

test('YAML numbers stand for quantities, as in kubectl', () => {
  const config = parseConfig('proxy: {resources: {requests: {cpu: 1}, limits: {cpu: 2}}}', 'cfg');
  assert.equal(config.proxy.resources.requests?.cpu, '1');
});

/** A config file in a fresh directory, loaded; both are cleaned up after the test. */
async function loadedConfigFile(t: TestContext, text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'outrigger-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.yaml');
  writeFileSync(path, text);
  const source = await ConfigSource.load(path);
  t.after(() => source.close());
  return { path, source };
}

test('a changed file is reloaded; a bad one keeps the last good config and is reported', {
  timeout: 30_000,
}, async (t) => {
  const { path, source } = await loadedConfigFile(t, 'proxy: {logLevel: info}\n');
  const events: ConfigReport[] = [];
  const next = () =>
    new Promise<ConfigReport>((resolve) => {
      const start = events.length;
      const timer = setInterval(() => {
        if (events.length > start) {
          clearInterval(timer);
          resolve(events[start] as ConfigReport);
        }
      }, 20);
    });
  source.watch((event) => events.push(event), 50);

  let reported = next();
  writeFileSync(path, 'proxy: {logLevel: debug}\n');
  assert.equal((await reported).ok, true);
  assert.equal(source.current.proxy.logLevel, 'debug');

  reported = next();
  writeFileSync(path, 'proxy: {logLevel: loud}\n');
  const bad = await reported;
  assert.equal(bad.ok, false);
  assert.ok(isOutriggerError(bad.error, errors.INVALID_CONFIG));
  assert.equal(source.current.proxy.logLevel, 'debug', 'the last good configuration stays');
});

test('a change made between load and watch is still picked up', { timeout: 30_000 }, async (t) => {
  const { path, source } = await loadedConfigFile(t, 'proxy: {logLevel: info}\n');
  writeFileSync(path, 'proxy: {logLevel: error}\n');
  const event = await new Promise<ConfigReport>((resolve) => source.watch(resolve, 60_000));
  assert.equal(event.ok, true);
  assert.equal(source.current.proxy.logLevel, 'error');
});

test('a missing or bad file at start is an error, not a silent default', async () => {
  await assert.rejects(ConfigSource.load('/nonexistent/outrigger.yaml'), (err) =>
    isOutriggerError(err, errors.INVALID_CONFIG),
  );
});
