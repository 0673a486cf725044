// Configuration is resolved once from OUTRIGGER_* variables and flags (flags
// win); a wrong value stops the proxy with a message naming the setting.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { resolveConfig } from '../../proxy/src/config.ts';
import { isOutriggerError } from '../../proxy/src/errors.ts';
import { parseHeaderList } from '../../proxy/src/http/added-headers.ts';
import { PORTS, PROXY_ENV } from '../../src/shared/contract.ts';
import { NODE, PROXY_MAIN } from './support/harness.ts';

describe('resolveConfig', () => {
  test('no flags and no environment gives the contract defaults', () => {
    const config = resolveConfig([], {});
    assert.deepEqual(config.ports, {
      outbound: PORTS.outboundCapture,
      inbound: PORTS.inboundCapture,
      admin: PORTS.admin,
      health: PORTS.health,
      prometheus: PORTS.prometheus,
    });
    assert.equal(config.adminAddress, '127.0.0.1');
    assert.equal(config.accessLog, false);
    assert.equal(config.forwardPodIdentity, false);
    assert.deepEqual(config.addRequestHeaders, []);
    assert.equal(config.fixedDestination, undefined);
  });

  test('every OUTRIGGER_* variable is read, and flags win over them', () => {
    const env = {
      [PROXY_ENV.podName]: 'web-1',
      [PROXY_ENV.podNamespace]: 'shop',
      [PROXY_ENV.podIp]: '192.0.2.7',
      [PROXY_ENV.nodeName]: 'node-a',
      [PROXY_ENV.serviceAccount]: 'web',
      [PROXY_ENV.workloadName]: 'web',
      [PROXY_ENV.app]: 'web-app',
      [PROXY_ENV.version]: 'v2',
      [PROXY_ENV.accessLogFormat]: 'text',
      [PROXY_ENV.outboundPort]: '16001',
      [PROXY_ENV.inboundPort]: '16006',
      [PROXY_ENV.adminPort]: '16000',
      [PROXY_ENV.healthPort]: '16021',
      [PROXY_ENV.prometheusPort]: '16090',
      [PROXY_ENV.logLevel]: 'debug',
      [PROXY_ENV.accessLog]: 'true',
      [PROXY_ENV.forwardPodIdentity]: 'true',
      [PROXY_ENV.addRequestHeaders]: 'X-A: 1\nX-B: two, words',
      [PROXY_ENV.addResponseHeaders]: 'Server: outrigger',
      [PROXY_ENV.connectTimeoutMs]: '1500',
      [PROXY_ENV.idleTimeoutMs]: '0',
      [PROXY_ENV.drainTimeoutMs]: '2500',
    };
    const config = resolveConfig(['--inbound-port', '17006', '--access-log=false'], env);
    assert.deepEqual(config.pod, {
      name: 'web-1',
      namespace: 'shop',
      ip: '192.0.2.7',
      nodeName: 'node-a',
      serviceAccount: 'web',
      workload: 'web',
      app: 'web-app',
      version: 'v2',
    });
    assert.equal(config.accessLogFormat, 'text');
    assert.deepEqual(config.ports, {
      outbound: 16001,
      inbound: 17006,
      admin: 16000,
      health: 16021,
      prometheus: 16090,
    });
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.accessLog, false);
    assert.equal(config.forwardPodIdentity, true);
    assert.deepEqual(config.addRequestHeaders, [
      { name: 'X-A', value: '1' },
      { name: 'X-B', value: 'two, words' },
    ]);
    assert.deepEqual(config.addResponseHeaders, [{ name: 'Server', value: 'outrigger' }]);
    assert.equal(config.connectTimeoutMs, 1500);
    assert.equal(config.idleTimeoutMs, 0);
    assert.equal(config.drainTimeoutMs, 2500);
  });

  for (const [name, value] of [
    [PROXY_ENV.inboundPort, '70000'],
    [PROXY_ENV.accessLog, 'yes'],
    [PROXY_ENV.connectTimeoutMs, '-1'],
    [PROXY_ENV.logLevel, 'loud'],
    [PROXY_ENV.addRequestHeaders, 'no colon here'],
    [PROXY_ENV.addResponseHeaders, 'Bad Name: x'],
  ] as const) {
    test(`${name}=${value} is refused with a message naming both`, () => {
      assert.throws(
        () => resolveConfig([], { [name]: value }),
        (err: unknown) =>
          isOutriggerError(err) &&
          err.code === 'OUTRIGGER_INVALID_PROXY_SETTING' &&
          err.message.includes(name) &&
          err.message.includes(JSON.stringify(value)),
      );
    });
  }

  test('--read-buffer-kib sets the upstream read buffer, 64 KiB by default, 1 to 1024', () => {
    assert.equal(resolveConfig([], {}).readBufferKiB, 64);
    assert.equal(resolveConfig(['--read-buffer-kib', '16'], {}).readBufferKiB, 16);
    for (const value of ['0', '1025', '16k', '-1']) {
      assert.throws(
        () => resolveConfig(['--read-buffer-kib', value], {}),
        (err: unknown) =>
          isOutriggerError(err) &&
          err.code === 'OUTRIGGER_INVALID_PROXY_SETTING' &&
          err.message.includes('--read-buffer-kib'),
      );
    }
  });

  test('header lists accept one pair per line or comma-separated pairs', () => {
    assert.deepEqual(parseHeaderList('A: 1, B: 2\nC: x,y'), {
      ok: true,
      value: [
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
        { name: 'C', value: 'x,y' },
      ],
    });
  });
});

describe('outrigger-proxy command', () => {
  test('an invalid environment value exits non-zero naming the variable and value', () => {
    const result = spawnSync(NODE, [PROXY_MAIN], {
      env: { PATH: process.env.PATH, [PROXY_ENV.idleTimeoutMs]: 'soon' },
      encoding: 'utf8',
    });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /OUTRIGGER_IDLE_TIMEOUT_MS/);
    assert.match(result.stderr, /"soon"/);
  });

  test('an invalid flag value exits non-zero naming the flag', () => {
    const result = spawnSync(NODE, [PROXY_MAIN, '--outbound-port', 'http'], { encoding: 'utf8' });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /--outbound-port/);
    assert.match(result.stderr, /"http"/);
  });
});
