// Runs every test file on its own (`node --test FILE`), the check that no file
// leans on another's side effects, and prints one line per file:
//
//   node tools/test-each-file.ts            the files `npm test` runs
//   node tools/test-each-file.ts --all      and the e2e and node suites too
//   node tools/test-each-file.ts FILE...    just these
//   node tools/test-each-file.ts --each-test FILE
//                                           every test of FILE alone (--test-name-pattern)
//
// A file that creates network namespaces (its gate asks for root) runs under
// `flock /tmp/outrigger-netns.lock`, as the project's rules want of such suites.
// Exits 1 when any file fails. Each file's output goes to a log under
// $TMPDIR/outrigger-test-each-file/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as runTests } from 'node:test';
import { allTestFiles, defaultTestFiles, REPO_ROOT } from './test-files.ts';

const NETNS_LOCK = '/tmp/outrigger-netns.lock';
/** A file whose prerequisite gate names root creates namespaces (or may): it takes the lock. */
const NEEDS_ROOT = /(?:requirePrerequisites|skipUnless|missingPrerequisite)\([^)]*'root'/;

const args = process.argv.slice(2);
const logs = join(tmpdir(), 'outrigger-test-each-file');
mkdirSync(logs, { recursive: true });

function count(output: string, label: string): number {
  const match = output.match(new RegExp(`^ℹ ${label} (\\d+)$`, 'm'));
  return match ? Number(match[1]) : 0;
}

/** The names of the tests (not suites) in a file, from a run of the whole file. */
async function testNames(file: string): Promise<string[]> {
  const names: string[] = [];
  const stream = runTests({ files: [join(REPO_ROOT, file)], concurrency: 1 });
  stream.on('test:pass', (event) => {
    if (event.details.type === 'test') names.push(event.name);
  });
  stream.on('test:fail', (event) => {
    if (event.details.type === 'test') names.push(event.name);
  });
  for await (const _ of stream);
  return names;
}

/** Runs `node --test` once, under the netns lock when the file needs it; prints one line. */
function runAlone(file: string, namePattern?: string): boolean {
  const source = readFileSync(join(REPO_ROOT, file), 'utf8');
  // A suite that takes the lock itself (test/support/netns-lock.ts) would wait on ours.
  const locked = NEEDS_ROOT.test(source) && !source.includes('holdNetnsLock');
  const node = [
    process.execPath,
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=1',
    '--test-timeout=600000',
    ...(namePattern === undefined ? [] : ['--test-name-pattern', namePattern]),
    file,
  ];
  const [command, ...commandArgs] = locked ? ['flock', NETNS_LOCK, ...node] : node;
  const started = Date.now();
  const run = spawnSync(command!, commandArgs, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  const what = namePattern === undefined ? file : `${file} ${namePattern}`;
  const log = join(logs, `${what.replaceAll(/[^A-Za-z0-9.-]+/g, '_').slice(0, 200)}.log`);
  writeFileSync(log, output);
  // A suite skipped whole (describe's skip: a prerequisite missing) runs no test at
  // all; it passes as a skip, and says so. A file that runs nothing otherwise fails.
  const skippedWhole =
    run.status === 0 && count(output, 'tests') === 0 && count(output, 'suites') > 0;
  const ok = run.status === 0 && (count(output, 'tests') > 0 || skippedWhole);
  const tally = ['tests', 'suites', 'pass', 'fail', 'skipped']
    .map((label) => `${label} ${count(output, label)}`)
    .join(', ');
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const why = skippedWhole ? ` (${output.match(/ # (.+)$/m)?.[1] ?? 'skipped'})` : '';
  console.log(
    `${skippedWhole ? 'SKIP' : ok ? 'ok  ' : 'FAIL'} ${what}${locked ? ' (netns lock)' : ''}: ${tally}; ${seconds} s${why}${ok ? '' : `; log ${log}`}`,
  );
  return ok;
}

const literalPattern = (name: string) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let failed = 0;
let total = 0;
if (args[0] === '--each-test') {
  for (const file of args.slice(1)) {
    for (const name of await testNames(file)) {
      total++;
      if (!runAlone(file, `^${literalPattern(name)}$`)) failed++;
    }
  }
  console.log(`${total - failed} of ${total} tests pass when selected alone`);
} else {
  const files = args.includes('--all')
    ? allTestFiles()
    : args.length > 0
      ? args
      : defaultTestFiles();
  for (const file of files) {
    total++;
    if (!runAlone(file)) failed++;
  }
  console.log(`${total - failed} of ${total} files pass on their own`);
}
process.exit(failed === 0 ? 0 : 1);
