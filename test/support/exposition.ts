// Strict parsing of Prometheus text exposition for the tests, by the Go
// client's own parser (exposition-check/main.go), built once per source with
// the Go toolchain from the Go module proxy. Callers gate on the `go`
// prerequisite (prerequisites.ts).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const SOURCE = path.join(import.meta.dirname, 'exposition-check');

export interface ExpositionFamily {
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  help: string;
  /** A histogram's or summary's value is its sample count. */
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

let binary: string | undefined;

function checker(): string {
  if (binary !== undefined) return binary;
  const hash = createHash('sha256');
  for (const file of ['main.go', 'go.mod', 'go.sum'])
    hash.update(readFileSync(path.join(SOURCE, file)));
  const out = path.join(tmpdir(), `outrigger-exposition-check-${hash.digest('hex').slice(0, 16)}`);
  if (!existsSync(out)) {
    execFileSync('go', ['build', '-o', out, '.'], {
      cwd: SOURCE,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  }
  binary = out;
  return out;
}

/** The families of `text`, or throws with the parser's message when it is not valid exposition. */
export function parseExposition(text: string): Record<string, ExpositionFamily> {
  let output: string;
  try {
    output = execFileSync(checker(), [], {
      input: text,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer | string }).stderr;
    throw new Error(`not valid Prometheus text exposition: ${String(stderr ?? err).trim()}`);
  }
  const families = JSON.parse(output) as Record<
    string,
    Omit<ExpositionFamily, 'samples'> & {
      samples: Array<{ labels: Record<string, string>; value: string }>;
    }
  >;
  return Object.fromEntries(
    Object.entries(families).map(([name, f]) => [
      name,
      { ...f, samples: f.samples.map((s) => ({ labels: s.labels, value: Number(s.value) })) },
    ]),
  );
}
