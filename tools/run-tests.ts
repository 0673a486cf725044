// `npm test`: runs defaultTestFiles() (tools/test-files.ts) in one `node --test`,
// one file at a time. Arguments are passed on, so
//   npm test -- --test-name-pattern 'metrics'
// narrows the run the way node --test would.
import { spawnSync } from 'node:child_process';
import { defaultTestFiles, REPO_ROOT } from './test-files.ts';

const result = spawnSync(
  process.execPath,
  [
    '--test',
    '--test-concurrency=1',
    '--test-timeout=300000',
    ...process.argv.slice(2),
    ...defaultTestFiles(),
  ],
  { cwd: REPO_ROOT, stdio: 'inherit' },
);
if (result.error) throw result.error;
process.exit(result.status ?? 1);
