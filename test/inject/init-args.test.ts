// The injector renders the init container's args; outrigger-iptables parses
// them. This pins the two ends of that contract together: every rendered args
// list parses, and means what the configuration and annotations said.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { readOverrides } from '../../src/inject/overrides.ts';
import { capturesInboundPort, renderIptablesArgs } from '../../src/inject/render.ts';
import { parseInvocation } from '../../src/iptables/flags.ts';

const pod = (annotations: Record<string, string>): V1Pod => ({
  metadata: { annotations },
  spec: { containers: [{ name: 'app' }] },
});

test('default args parse to capture everything in and out, as uid/gid 1337 on 15001/15006', () => {
  const { action, settings } = parseInvocation(renderIptablesArgs(defaultConfig(), {}));
  assert.equal(action, 'apply');
  assert.equal(settings.outboundCapturePort, 15001);
  assert.equal(settings.inboundCapturePort, 15006);
  assert.equal(settings.proxyUid, 1337);
  assert.equal(settings.proxyGid, 1337);
  assert.equal(settings.inboundPorts, '*');
  assert.equal(settings.includeOutboundCidrs, '*');
  // The proxy's own admin, health and metrics ports are never captured.
  for (const port of [15000, 15021, 15090]) assert.ok(settings.excludeInboundPorts.includes(port));
});

test('every traffic annotation reaches the init container with its meaning intact', () => {
  const overrides = readOverrides(
    pod({
      'traffic.sidecar.outrigger.dev/includeInboundPorts': '8080, 9090',
      'traffic.sidecar.outrigger.dev/excludeInboundPorts': '9091',
      'traffic.sidecar.outrigger.dev/includeOutboundPorts': '443',
      'traffic.sidecar.outrigger.dev/excludeOutboundPorts': '5432,6379',
      'traffic.sidecar.outrigger.dev/includeOutboundIPRanges': '10.96.0.0/12, fd00::/8',
      'traffic.sidecar.outrigger.dev/excludeOutboundIPRanges': '10.96.0.1',
    }),
  );
  const { settings } = parseInvocation(renderIptablesArgs(defaultConfig(), overrides));
  assert.deepEqual(settings.inboundPorts, [8080, 9090]);
  assert.ok(settings.excludeInboundPorts.includes(9091));
  assert.deepEqual(settings.includeOutboundPorts, [443]);
  assert.deepEqual(settings.excludeOutboundPorts, [5432, 6379]);
  assert.equal(
    settings.includeOutboundCidrs === '*' ? '*' : settings.includeOutboundCidrs.length,
    2,
  );
  assert.equal(settings.excludeOutboundCidrs.length, 1);
});

test('configured lists are normalized like annotations, and empty captures nothing', () => {
  const config = parseConfig(
    `interception:
  includeInboundPorts: "8080, 9090"
  includeOutboundIPRanges: ""
  excludeInterfaces: [eth9]`,
    'test',
  );
  const args = renderIptablesArgs(config, {});
  assert.equal(args[args.indexOf('-b') + 1], '8080,9090');
  const { settings } = parseInvocation(args);
  assert.deepEqual(settings.inboundPorts, [8080, 9090]);
  assert.deepEqual(settings.includeOutboundCidrs, []);
  assert.deepEqual(settings.excludeInterfaces, ['eth9']);
});

test('a probe is rewritten exactly when the init container captures its port', () => {
  const cases: Array<Record<string, string>> = [
    {},
    { 'traffic.sidecar.outrigger.dev/includeInboundPorts': '8080, 9090' },
    { 'traffic.sidecar.outrigger.dev/excludeInboundPorts': '8080' },
    { 'traffic.sidecar.outrigger.dev/includeInboundPorts': '' },
    { 'traffic.sidecar.outrigger.dev/includeInboundPorts': '15021,15090,8080' },
  ];
  for (const annotations of cases) {
    const overrides = readOverrides(pod(annotations));
    const { settings } = parseInvocation(renderIptablesArgs(defaultConfig(), overrides));
    const captured = capturesInboundPort(defaultConfig(), overrides);
    for (const port of [80, 8080, 9090, 15000, 15006, 15021, 15090]) {
      const byRules =
        (settings.inboundPorts === '*' || settings.inboundPorts.includes(port)) &&
        !settings.excludeInboundPorts.includes(port);
      assert.equal(captured(port), byRules, `port ${port} with ${JSON.stringify(annotations)}`);
    }
  }
});
