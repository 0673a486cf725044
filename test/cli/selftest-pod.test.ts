// How `outrigger selftest` judges its pod: the injection it reads back from the
// apiserver (checked against the status annotation) and the pod's way to Running
// and Ready, on pods shaped as the apiserver and the kubelet report them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import jsonPatch from 'fast-json-patch';
import { judgeInjection, judgeReadiness, selftestPod } from '../../src/cli/selftest-pod.ts';
import { defaultConfig } from '../../src/config/load.ts';
import { injectPod } from '../../src/inject/inject.ts';

const options = {
  namespace: 'outrigger-injection-test',
  image: 'example.test/injector:1',
  timeoutSeconds: 120,
};

/** The selftest pod as the webhook would inject it (the same injectPod), in either layout. */
function injected(nativeSidecars = true): V1Pod {
  const pod = selftestPod(options);
  const outcome = injectPod(
    pod,
    { namespace: options.namespace },
    { ...defaultConfig(), nativeSidecars },
  );
  assert.ok(outcome.injected);
  return jsonPatch.applyPatch(structuredClone(pod), outcome.patch, true, false).newDocument;
}

const running = (name: string, ready: boolean): V1ContainerStatus => ({
  name,
  image: 'x',
  imageID: '',
  restartCount: 0,
  ready,
  state: { running: { startedAt: new Date() } },
});
const exited = (name: string, exitCode: number, message?: string): V1ContainerStatus => ({
  name,
  image: 'x',
  imageID: '',
  restartCount: 0,
  ready: false,
  state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', message } },
});

function withStatus(pod: V1Pod, status: V1Pod['status']): V1Pod {
  return { ...pod, spec: { ...pod.spec!, nodeName: 'node-1' }, status };
}

describe('the selftest pod', () => {
  it('runs the injector image as its app, opts in by label, and is bounded in time', () => {
    const pod = selftestPod({
      ...options,
      imagePullPolicy: 'Never',
      imagePullSecrets: ['regcred'],
    });
    const app = pod.spec?.containers[0];
    assert.equal(app?.image, options.image);
    assert.equal(app?.imagePullPolicy, 'Never');
    assert.deepEqual(app?.args, ['selftest-app', '--port=8080']);
    assert.equal(app?.readinessProbe?.httpGet?.port, 8080);
    assert.deepEqual(pod.spec?.imagePullSecrets, [{ name: 'regcred' }]);
    assert.equal(pod.metadata?.labels?.['sidecar.outrigger.dev/inject'], 'true');
    assert.equal(pod.spec?.activeDeadlineSeconds, 180);
    assert.equal(pod.spec?.restartPolicy, 'Never');
  });
});

describe('judgeInjection', () => {
  for (const native of [true, false]) {
    it(`accepts what the webhook injects (${native ? 'native' : 'classic'} layout)`, () => {
      const shape = judgeInjection(injected(native));
      assert.ok(!('problem' in shape), 'problem' in shape ? shape.problem : '');
      assert.equal(shape.layout, native ? 'native' : 'classic');
    });
  }

  it('explains an uninjected pod, a broken annotation and a missing container', () => {
    const plain = judgeInjection(selftestPod(options));
    assert.ok('problem' in plain);
    assert.match(
      plain.problem,
      /admitted without injection .*containers: app\b.*outrigger-injection=enabled/,
    );

    const pod = injected();
    const broken = structuredClone(pod);
    broken.metadata!.annotations!['sidecar.outrigger.dev/status'] = '{"layout":"native"';
    assert.match((judgeInjection(broken) as { problem: string }).problem, /is not JSON/);

    const noProxy = structuredClone(pod);
    noProxy.spec!.initContainers = noProxy.spec!.initContainers!.filter(
      (c) => c.name !== 'outrigger-proxy',
    );
    assert.match(
      (judgeInjection(noProxy) as { problem: string }).problem,
      /native, but outrigger-proxy is not an init container with restartPolicy Always/,
    );

    const noVolume = structuredClone(pod);
    noVolume.spec!.volumes = [];
    assert.match((judgeInjection(noVolume) as { problem: string }).problem, /lists outrigger-tmp/);
  });
});

describe('judgeReadiness', () => {
  const pod = injected();

  it('waits while Pending, saying why', () => {
    assert.deepEqual(judgeReadiness(pod), {
      state: 'waiting',
      summary: 'Pending: not scheduled yet',
    });
    const unschedulable = {
      ...pod,
      status: {
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/1 nodes are available',
          },
        ],
      },
    };
    assert.equal(
      judgeReadiness(unschedulable).summary,
      'Pending: not scheduled (Unschedulable: 0/1 nodes are available)',
    );
    const pulling = withStatus(pod, {
      phase: 'Pending',
      initContainerStatuses: [
        {
          name: 'outrigger-init',
          image: 'x',
          imageID: '',
          restartCount: 0,
          ready: false,
          state: { waiting: { reason: 'ErrImagePull', message: 'not found' } },
        },
      ],
    });
    assert.deepEqual(judgeReadiness(pulling), {
      state: 'waiting',
      summary: 'Pending: outrigger-init waiting (ErrImagePull: not found)',
    });
  });

  it('is ready once Running and Ready with outrigger-init done and outrigger-proxy ready', () => {
    const status = (proxyReady: boolean, podReady: boolean): V1Pod['status'] => ({
      phase: 'Running',
      conditions: [{ type: 'Ready', status: podReady ? 'True' : 'False' }],
      initContainerStatuses: [exited('outrigger-init', 0), running('outrigger-proxy', proxyReady)],
      containerStatuses: [running('app', podReady)],
    });
    assert.equal(judgeReadiness(withStatus(pod, status(false, false))).state, 'waiting');
    assert.equal(judgeReadiness(withStatus(pod, status(true, false))).state, 'waiting');
    assert.deepEqual(judgeReadiness(withStatus(pod, status(true, true))), {
      state: 'ready',
      summary:
        'Running: outrigger-init exited 0 Completed; outrigger-proxy running, ready; app running, ready',
    });
  });

  it('fails at once when outrigger-init fails or the pod ends', () => {
    const initFailed = withStatus(pod, {
      phase: 'Pending',
      initContainerStatuses: [exited('outrigger-init', 1, 'iptables-restore: Permission denied\n')],
    });
    assert.deepEqual(judgeReadiness(initFailed), {
      state: 'failed',
      summary: 'Pending: outrigger-init exited 1 Error: iptables-restore: Permission denied',
    });
    assert.equal(judgeReadiness(withStatus(pod, { phase: 'Failed' })).state, 'failed');
  });
});
