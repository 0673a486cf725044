// Where the e2e suite finds etcd, kube-apiserver, kubectl and helm: the cache that
// test/e2e/tools/build.sh fills, keyed by the versions that script pins.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const buildScript = new URL('../tools/build.sh', import.meta.url);

function pinnedVersion(name: string): string {
  const match = readFileSync(buildScript, 'utf8').match(new RegExp(`^${name}=(\\S+)$`, 'm'));
  if (!match?.[1]) throw new Error(`test/e2e/tools/build.sh does not pin ${name}`);
  return match[1];
}

export interface ToolPaths {
  etcd: string;
  kubeApiserver: string;
  kubectl: string;
  helm: string;
}

export function toolPaths(): ToolPaths {
  const cache = process.env.OUTRIGGER_TOOLS_CACHE ?? join(homedir(), '.cache', 'outrigger-tools');
  const bin = (tool: string, version: string, binary: string) =>
    join(cache, `${tool}-${pinnedVersion(version)}`, 'bin', binary);
  return {
    etcd: bin('etcd', 'ETCD_VERSION', 'etcd'),
    kubeApiserver: bin('kubernetes', 'KUBERNETES_VERSION', 'kube-apiserver'),
    kubectl: bin('kubernetes', 'KUBERNETES_VERSION', 'kubectl'),
    helm: bin('helm', 'HELM_VERSION', 'helm'),
  };
}

/** Why the cluster suites cannot run, or undefined when every tool is built. */
export function missingTools(): string | undefined {
  const missing = Object.values(toolPaths()).filter((path) => !existsSync(path));
  if (missing.length === 0) return undefined;
  return `e2e tools not built (missing ${missing.join(', ')}); run test/e2e/tools/build.sh`;
}
