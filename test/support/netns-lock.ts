// The lock every suite that creates network namespaces holds while it runs
// (/tmp/outrigger-netns.lock, the same file `flock` takes in a shell), so that
// suites of parallel checkouts never build or tear down namespaces at once.
// It is held by a `flock` child that keeps it until its stdin closes: when
// the suite releases it, or when the test process dies.
import { spawn } from 'node:child_process';

export const NETNS_LOCK = '/tmp/outrigger-netns.lock';

/** Waits for the lock (up to `timeoutMs`) and returns its release. */
export function holdNetnsLock(timeoutMs = 600_000): Promise<() => void> {
  const child = spawn(
    'flock',
    [
      '--timeout',
      String(Math.ceil(timeoutMs / 1000)),
      NETNS_LOCK,
      'sh',
      '-c',
      'echo locked; exec cat >/dev/null',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(() => child.stdin.end()));
    child.once('exit', (code) => reject(new Error(`flock ${NETNS_LOCK} gave up (exit ${code})`)));
  });
}
