// What a namespace's Pod Security level refuses in the injected containers, read
// from what render really produces, and the warnings that explain it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { defaultConfig } from '../../src/config/load.ts';
import { injectPod } from '../../src/inject/inject.ts';
import {
  enforcedLevel,
  podSecurityConflicts,
  podSecurityWarnings,
} from '../../src/inject/pod-security.ts';

const pod: V1Pod = {
  metadata: { name: 'web', namespace: 'demo' },
  spec: { containers: [{ name: 'web', image: 'nginx' }] },
};

function injectedContainers(nativeSidecars: boolean): V1Container[] {
  const outcome = injectPod(pod, { namespace: 'demo' }, { ...defaultConfig(), nativeSidecars });
  assert.ok(outcome.injected);
  return [...outcome.injection.initContainers, ...outcome.injection.containers];
}

describe('Pod Security and the injected containers', () => {
  it('reads the enforced level from the namespace labels; privileged and none refuse nothing', () => {
    assert.equal(enforcedLevel({ 'pod-security.kubernetes.io/enforce': 'baseline' }), 'baseline');
    assert.equal(
      enforcedLevel({ 'pod-security.kubernetes.io/enforce': 'restricted' }),
      'restricted',
    );
    assert.equal(enforcedLevel({ 'pod-security.kubernetes.io/enforce': 'privileged' }), undefined);
    assert.equal(enforcedLevel({ 'pod-security.kubernetes.io/warn': 'baseline' }), undefined);
    assert.equal(enforcedLevel({}), undefined);
  });

  for (const nativeSidecars of [true, false]) {
    const layout = nativeSidecars ? 'native' : 'classic';
    it(`baseline refuses only outrigger-init's NET_ADMIN and NET_RAW (${layout} layout)`, () => {
      assert.deepEqual(podSecurityConflicts('baseline', injectedContainers(nativeSidecars)), [
        { container: 'outrigger-init', refused: ['capabilities NET_ADMIN, NET_RAW'] },
      ]);
    });

    it(`restricted also refuses outrigger-init running as root; the proxy passes (${layout} layout)`, () => {
      assert.deepEqual(podSecurityConflicts('restricted', injectedContainers(nativeSidecars)), [
        {
          container: 'outrigger-init',
          refused: ['capabilities NET_ADMIN, NET_RAW', 'runs as root'],
        },
      ]);
    });
  }

  it('capabilities baseline allows, and privileged containers, are judged by the standard', () => {
    const containers: V1Container[] = [
      { name: 'chown', securityContext: { capabilities: { add: ['CHOWN', 'NET_BIND_SERVICE'] } } },
      { name: 'priv', securityContext: { privileged: true } },
    ];
    assert.deepEqual(podSecurityConflicts('baseline', containers), [
      { container: 'priv', refused: ['privileged'] },
    ]);
    assert.deepEqual(podSecurityConflicts('restricted', containers), [
      { container: 'chown', refused: ['capabilities CHOWN'] },
      { container: 'priv', refused: ['privileged'] },
    ]);
  });

  it('warns in two short lines: what the level refuses, then what to do', () => {
    const warnings = podSecurityWarnings(
      'a-namespace-name-of-the-longest-length-kubernetes-allows-63chars',
      'restricted',
      podSecurityConflicts('restricted', injectedContainers(true)),
    );
    assert.equal(warnings.length, 2);
    assert.match(
      warnings[0] ?? '',
      /^outrigger: namespace \S+ enforces Pod Security "restricted", which refuses the injected outrigger-init \(capabilities NET_ADMIN, NET_RAW; runs as root\)$/,
    );
    assert.match(warnings[1] ?? '', /pod-security\.kubernetes\.io\/enforce=privileged/);
    assert.match(warnings[1] ?? '', /sidecar\.outrigger\.dev\/inject=false/);
    // The apiserver may cut a warning longer than 256 characters.
    for (const warning of warnings) assert.ok(warning.length <= 256, warning);
    assert.deepEqual(podSecurityWarnings('demo', 'baseline', []), []);
  });
});
