// npm run bench:pods — on the local cluster (npm run cluster:up): how long a pod
// takes from creation to Ready without injection, with the native sidecar and
// with the classic layout (median of BENCH_PODS pods each, 10 by default, made
// one after another), and how much memory the proxy uses in a real pod: the
// kubelet's working-set figure and the process's RSS read from /proc.
//
// Times come from a watch on the pods (client-node), so they carry no kubectl
// start-up cost; every pod is deleted afterwards.
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { appPod } from '../test/node/pods.ts';

const clusterDir =
  process.env.OUTRIGGER_CLUSTER_DIR ?? join(homedir(), '.cache', 'outrigger-cluster');
const count = Number(process.env.BENCH_PODS ?? 10);
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(join(clusterDir, 'kubeconfig'));
const core = kubeConfig.makeApiClient(CoreV1Api);

const variants = [
  { name: 'uninjected', namespaceLabels: {}, annotations: {} },
  { name: 'native', namespaceLabels: { 'outrigger-injection': 'enabled' }, annotations: {} },
  {
    name: 'classic',
    namespaceLabels: { 'outrigger-injection': 'enabled' },
    annotations: { 'sidecar.outrigger.dev/nativeSidecar': 'false' },
  },
] as const;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function ready(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Creates one pod and resolves with the milliseconds until the watch saw it Ready. */
async function timeToReady(namespace: string, manifest: V1Pod): Promise<number> {
  const name = manifest.metadata!.name!;
  let started = 0;
  let stop: (() => void) | undefined;
  const seen = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not Ready within 120 s`)), 120_000);
    void new Watch(kubeConfig)
      .watch(
        `/api/v1/namespaces/${namespace}/pods`,
        { fieldSelector: `metadata.name=${name}` },
        (_type, pod: V1Pod) => {
          if (started > 0 && ready(pod)) {
            clearTimeout(timer);
            resolve(performance.now() - started);
          }
        },
        (err) => {
          if (err) reject(err);
        },
      )
      .then((request) => {
        stop = () => request.abort();
      });
  });
  // Let the watch open before the clock starts.
  await new Promise((r) => setTimeout(r, 300));
  started = performance.now();
  await core.createNamespacedPod({ namespace, body: manifest });
  try {
    return await seen;
  } finally {
    stop?.();
  }
}

/** RSS in bytes of every outrigger-proxy process on this node (the host's /proc). */
function proxyRss(): number[] {
  const rss: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes('proxy/src/main.js')) continue;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      if (kib > 0) rss.push(kib * 1024);
    } catch {
      // The process went away between the listing and the read.
    }
  }
  return rss;
}

interface Summary {
  pods: Array<{
    podRef: { namespace: string; name: string };
    containers?: Array<{ name: string; memory?: { workingSetBytes?: number; rssBytes?: number } }>;
  }>;
}

async function proxyWorkingSets(namespace: string): Promise<number[]> {
  const summary = (await core.connectGetNodeProxyWithPath({
    name: 'outrigger-node',
    path: 'stats/summary',
  })) as unknown as string | Summary;
  const parsed: Summary = typeof summary === 'string' ? JSON.parse(summary) : summary;
  return parsed.pods
    .filter((p) => p.podRef.namespace === namespace)
    .flatMap((p) => p.containers ?? [])
    .filter((c) => c.name === 'outrigger-proxy')
    .map((c) => c.memory?.workingSetBytes ?? 0)
    .filter((bytes) => bytes > 0);
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

const results: Record<string, number> = {};
for (const variant of variants) {
  const namespace = `bench-pods-${variant.name}-${process.pid}`;
  await core.createNamespace({
    body: { metadata: { name: namespace, labels: { ...variant.namespaceLabels } } },
  });
  // The default ServiceAccount must exist before pods can be created.
  for (let i = 0; i < 100; i++) {
    try {
      await core.readNamespacedServiceAccount({ name: 'default', namespace });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const manifest = parse(
        appPod({ name: `pod-${i}`, annotations: { ...variant.annotations } }),
      ) as V1Pod;
      times.push(await timeToReady(namespace, manifest));
    }
    results[variant.name] = median(times);
    console.log(
      `${variant.name.padEnd(10)} creation to Ready: median ${(median(times) / 1000).toFixed(2)} s ` +
        `(min ${(Math.min(...times) / 1000).toFixed(2)}, max ${(Math.max(...times) / 1000).toFixed(2)}, ${count} pods)`,
    );
    if (variant.name !== 'uninjected') {
      // Let the kubelet's stats catch up with the new containers.
      await new Promise((r) => setTimeout(r, 15_000));
      const workingSets = await proxyWorkingSets(namespace);
      const rss = proxyRss();
      console.log(
        `${''.padEnd(10)} outrigger-proxy memory: working set median ${mib(median(workingSets))} MiB ` +
          `(${workingSets.length} containers); RSS median ${mib(median(rss))} MiB (${rss.length} processes)`,
      );
    }
  } finally {
    await core.deleteNamespace({ name: namespace });
    // Wait for the pods to go, so the next variant starts on a quiet node.
    for (let i = 0; i < 240; i++) {
      try {
        await core.readNamespace({ name: namespace });
        await new Promise((r) => setTimeout(r, 500));
      } catch {
        break;
      }
    }
  }
}
const base = results.uninjected!;
for (const name of ['native', 'classic']) {
  console.log(`${name}: ${(results[name]! / base).toFixed(2)}x the uninjected time to Ready`);
}
