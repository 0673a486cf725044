// Strict parsing of Prometheus text exposition for the tests, by the Go
// client's own parser (exposition-check/main.go, built by go-tool.ts).
// Callers gate on the `go` prerequisite (prerequisites.ts).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { goTool } from './go-tool.ts';

const SOURCE = path.join(import.meta.dirname, 'exposition-check');

export interface ExpositionFamily {
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  help: string;
  /** A histogram's or summary's value is its sample count. */
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

/** The families of `text`, or throws with the parser's message when it is not valid exposition. */
export function parseExposition(text: string): Record<string, ExpositionFamily> {
  let output: string;
  try {
    output = execFileSync(goTool(SOURCE), [], {
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
