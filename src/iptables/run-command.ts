// The one place outrigger-iptables starts other programs. Synchronous on
// purpose: the init container does a handful of steps in order and exits.
import { spawnSync } from 'node:child_process';

export interface CommandResult {
  /** Exit status; null when the program could not start or was killed. */
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export type RunCommand = (file: string, args: readonly string[], input?: string) => CommandResult;

export const runCommand: RunCommand = (file, args, input) => {
  const result = spawnSync(file, args, {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return {
    status: result.status,
    stdout: result.stdout ?? '',
    stderr: result.stderr || (result.error ? result.error.message : ''),
  };
};
