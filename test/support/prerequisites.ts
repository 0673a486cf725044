// Suites that need root, iptables, Go or a real API server skip with a clear
// message when the machine lacks them; under CI=true such a skip is a failure,
// so a green CI run always means the suite really ran.
import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const checks = {
  root: () => (process.getuid?.() === 0 ? undefined : 'needs root (run as uid 0)'),
  iptables: () =>
    hasCommand('iptables-restore') && hasCommand('ip6tables-restore')
      ? undefined
      : 'needs iptables-restore and ip6tables-restore (apt-get install iptables)',
  ip: () => (hasCommand('ip') ? undefined : 'needs the ip command (apt-get install iproute2)'),
  go: () => (hasCommand('go') ? undefined : 'needs the Go toolchain'),
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
 * Skips the test (or fails it under CI) when a prerequisite is missing.
 * Returns true when the test may go on.
 */
export function requirePrerequisites(t: TestContext, ...needs: Prerequisite[]): boolean {
  const why = missingPrerequisite(...needs);
  if (!why) return true;
  if (inCI) throw new Error(`CI=true but this suite cannot run: ${why}`);
  t.skip(why);
  return false;
}
