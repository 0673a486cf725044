// Which test files `npm test` runs: every *.test.ts under test/, found by walking
// the tree, so a folder added tomorrow is run without anyone editing a glob. The
// folders left out are the suites with a command of their own.
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** test/<folder> → the npm script that runs it instead of `npm test`. */
export const OWN_COMMAND: Readonly<Record<string, string>> = {
  e2e: 'npm run test:e2e',
  node: 'npm run test:node',
};

/** Every *.test.ts under test/, repository-relative, sorted. */
export function allTestFiles(): string[] {
  const testDir = join(REPO_ROOT, 'test');
  return readdirSync(testDir, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.test.ts') && !path.split(sep).includes('node_modules'))
    .map((path) => relative(REPO_ROOT, join(testDir, path)))
    .sort();
}

/** The files `npm test` runs: all of them but the suites in OWN_COMMAND. */
export function defaultTestFiles(): string[] {
  return allTestFiles().filter((path) => !(path.split(sep)[1]! in OWN_COMMAND));
}
