// `outrigger selftest`: what `helm test` runs. Creates a real pod in a namespace
// labelled for injection, checks that the webhook injected it as its status
// annotation says, waits (bounded) until it is Running and Ready, deletes it,
// and prints every step, so `helm test --logs` shows what was proven or where
// it stopped. Only pods in that one namespace are touched: create, get, delete.

import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { loadKubeConfig } from '../certs/kube-api.ts';
import { errors } from '../errors.ts';
import {
  judgeInjection,
  judgeReadiness,
  type SelftestPodOptions,
  selftestPod,
} from './selftest-pod.ts';

export interface SelftestOptions extends SelftestPodOptions {
  kubeconfig?: string;
  /** How often the pod is read while waiting. */
  pollIntervalMs?: number;
}

/** The three pod calls the selftest makes, in its namespace. */
interface PodCalls {
  create(pod: V1Pod): Promise<V1Pod>;
  read(name: string): Promise<V1Pod>;
  remove(name: string): Promise<void>;
}

function podCalls(kubeconfig: string | undefined, namespace: string): PodCalls {
  const core = loadKubeConfig(kubeconfig).makeApiClient(CoreV1Api);
  return {
    create: (body) => core.createNamespacedPod({ namespace, body }),
    read: (name) => core.readNamespacedPod({ name, namespace }),
    remove: async (name) => {
      await core.deleteNamespacedPod({ name, namespace });
    },
  };
}

/** The apiserver's own message from a failed call (its Status body), else the error's. */
function apiMessage(error: unknown): string {
  if (!(error instanceof ApiException))
    return error instanceof Error ? error.message : String(error);
  let body: unknown = error.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      return `HTTP ${error.code}: ${body}`;
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return `HTTP ${error.code}: ${typeof message === 'string' ? message : error.message}`;
}

export async function selftest(
  options: SelftestOptions,
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<void> {
  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)}s`;
  const deadline = started + options.timeoutSeconds * 1000;
  const ok = (line: string) => print(`ok    ${line}`);
  const fail = (detail: string) => errors.SELFTEST_FAILED(detail);
  const pods = podCalls(options.kubeconfig, options.namespace);

  print(
    `outrigger selftest: namespace ${options.namespace}, image ${options.image}, timeout ${options.timeoutSeconds}s`,
  );
  // SIGTERM (the test pod deleted, helm interrupted) still removes the pod below.
  const interrupted = new AbortController();
  const onSignal = () => interrupted.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  let created: V1Pod;
  try {
    created = await pods.create(selftestPod(options));
  } catch (error) {
    throw fail(`the apiserver refused the test pod in ${options.namespace}: ${apiMessage(error)}`);
  }
  const name = created.metadata?.name ?? '';
  ok(`created pod ${options.namespace}/${name}`);
  try {
    const shape = judgeInjection(created);
    if ('problem' in shape) throw fail(shape.problem);
    const { status } = shape;
    ok(
      `injected, ${shape.layout} layout: init containers ${(created.spec?.initContainers ?? []).map((c) => c.name).join(', ')}; ` +
        `containers ${(created.spec?.containers ?? []).map((c) => c.name).join(', ')}`,
    );
    ok(
      `status annotation: injector ${status.version}, lists ${[...status.initContainers, ...status.containers].join(', ')} and volumes ${status.volumes.join(', ')}`,
    );

    let last = '';
    for (;;) {
      let pod: V1Pod;
      try {
        pod = await pods.read(name);
      } catch (error) {
        throw fail(`cannot read pod ${name}: ${apiMessage(error)}`);
      }
      const readiness = judgeReadiness(pod);
      if (readiness.summary !== last) print(`      [${elapsed()}] ${readiness.summary}`);
      last = readiness.summary;
      if (readiness.state === 'failed') throw fail(`pod ${name} stopped: ${readiness.summary}`);
      if (readiness.state === 'ready') {
        // The running pod, not only the one admitted, still matches its annotation.
        const running = judgeInjection(pod);
        if ('problem' in running) throw fail(running.problem);
        ok(
          `pod Running and Ready after ${elapsed()}, with outrigger-init done and outrigger-proxy ready`,
        );
        break;
      }
      if (interrupted.signal.aborted) throw fail(`interrupted while waiting; last seen ${last}`);
      if (Date.now() >= deadline) {
        throw fail(
          `pod ${name} was not Running and Ready within ${options.timeoutSeconds}s; last seen ${last}`,
        );
      }
      await sleep(options.pollIntervalMs ?? 1000, undefined, { signal: interrupted.signal }).catch(
        () => {},
      );
    }
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    try {
      await pods.remove(name);
      print(`ok    deleted pod ${options.namespace}/${name}`);
    } catch (error) {
      print(`warn  could not delete pod ${options.namespace}/${name}: ${apiMessage(error)}`);
    }
  }
  print(`PASS  a pod in ${options.namespace} was injected and ran Ready in ${elapsed()}`);
}
