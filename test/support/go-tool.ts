// Small Go programs the tests run (a strict parser, a schema check), built
// once per source with the Go toolchain and modules from the Go module proxy
// into the temporary directory. Callers gate on the `go` prerequisite
// (prerequisites.ts).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const built = new Map<string, string>();

/** The path of the program built from `dir` (main.go, go.mod, go.sum), building it if needed. */
export function goTool(dir: string): string {
  const known = built.get(dir);
  if (known !== undefined) return known;
  const hash = createHash('sha256');
  for (const file of ['main.go', 'go.mod', 'go.sum'])
    hash.update(readFileSync(path.join(dir, file)));
  const out = path.join(
    tmpdir(),
    `outrigger-${path.basename(dir)}-${hash.digest('hex').slice(0, 16)}`,
  );
  if (!existsSync(out)) {
    // Built beside its final name and renamed, so a run cut short leaves no half binary.
    const partial = `${out}.${process.pid}.partial`;
    execFileSync('go', ['build', '-o', partial, '.'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 600_000,
    });
    renameSync(partial, out);
  }
  built.set(dir, out);
  return out;
}
