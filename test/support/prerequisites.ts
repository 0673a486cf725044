// The one prerequisite gate. Suites that need root, iptables, Go, the built
// control-plane tools or image tools skip with a clear message when the machine
// lacks them; under CI=true such a skip is a failure, so a green CI run always
// means the suite really ran. A whole suite skips through describe()'s `skip`
// option (skipUnless), one test inside a running suite through requirePrerequisites.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { missingTools, toolPaths } from '../e2e/harness/tools.ts';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

// Go usually lives outside PATH on a fresh machine; the tool build script looks there too.
if (existsSync('/usr/local/go/bin/go') && !(process.env.PATH ?? '').includes('/usr/local/go/bin')) {
  process.env.PATH = `${process.env.PATH ?? ''}:/usr/local/go/bin`;
}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const BUILT_CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

const checks = {
  root: () => (process.getuid?.() === 0 ? undefined : 'needs root (run as uid 0)'),
  iptables: () =>
    hasCommand('iptables-restore') && hasCommand('ip6tables-restore')
      ? undefined
      : 'needs iptables-restore and ip6tables-restore (apt-get install iptables)',
  ip: () => (hasCommand('ip') ? undefined : 'needs the ip command (apt-get install iproute2)'),
  go: () => (hasCommand('go') ? undefined : 'needs the Go toolchain'),
  /** etcd, kube-apiserver, kubectl and helm, built by `npm run tools:e2e`. */
  controlPlaneTools: () => missingTools(),
  /** helm alone, for the suites that only render the chart. */
  helm: () =>
    existsSync(toolPaths().helm)
      ? undefined
      : `${toolPaths().helm} is not built (npm run tools:e2e)`,
  /** dist/, which the suites that run the injector as a process start. */
  build: () =>
    existsSync(BUILT_CLI)
      ? undefined
      : `${BUILT_CLI} is missing: run npm run build (npm test and npm run test:e2e do)`,
  imageTools: () => {
    const tools = ['umoci', 'skopeo', 'runc', 'dpkg-deb', 'apt-get', 'gcc', 'strip'];
    const missing = tools.filter((cmd) => !hasCommand(cmd));
    return missing.length === 0
      ? undefined
      : `needs ${missing.join(', ')} (apt-get install umoci skopeo runc binutils gcc libc6-dev)`;
  },
  containerd: () =>
    hasCommand('containerd') && hasCommand('ctr')
      ? undefined
      : 'needs containerd and ctr (apt-get install containerd)',
  podman: () => (hasCommand('podman') ? undefined : 'needs podman (apt-get install podman)'),
  registry: () =>
    hasCommand('docker-registry')
      ? undefined
      : 'needs a registry to push to (apt-get install docker-registry)',
} as const;

export type Prerequisite = keyof typeof checks;

/** Why the suite cannot run here, or undefined when every prerequisite holds. */
export function missingPrerequisite(...needs: Prerequisite[]): string | undefined {
  for (const need of needs) {
    const why = checks[need]();
    if (why) return why;
  }
  return undefined;
}

/**
 * For a `skip` option: false when nothing is missing, else the reason. Under
 * CI=true a reason is thrown instead, failing the file.
 */
export function skipBecause(why: string | undefined): string | false {
  if (why === undefined) return false;
  if (inCI) throw new Error(`CI=true but this suite cannot run: ${why}`);
  return why;
}

/** For describe()'s `skip` option: the whole suite, hooks included, runs only when every need holds. */
export function skipUnless(...needs: Prerequisite[]): string | false {
  return skipBecause(missingPrerequisite(...needs));
}

/**
 * Skips one test (or fails it under CI) when a prerequisite is missing.
 * Returns true when the test may go on.
 */
export function requirePrerequisites(t: TestContext, ...needs: Prerequisite[]): boolean {
  const why = skipBecause(missingPrerequisite(...needs));
  if (why === false) return true;
  t.skip(why);
  return false;
}
