// The one place the image builder starts other programs (apt-get, dpkg-deb,
// strip, gcc, tar, umoci, skopeo). Synchronous: the build is a straight line,
// and a failed step must stop it with the program's own words.
import { spawnSync } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs `file args`, returns its stdout; throws with its stderr when it fails. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): string {
  const result = spawnSync(file, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new Error(`${file}: ${result.error.message}`);
  if (result.status !== 0) {
    const said = (result.stderr || result.stdout).trim();
    throw new Error(`${file} ${args.join(' ')} exited with ${result.status}: ${said}`);
  }
  return result.stdout;
}

/** Whether a program is on PATH (for a clear message before the build starts). */
export function hasProgram(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}
