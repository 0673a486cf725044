// Whether the suites that need a real control plane can run: Go (which builds the
// tools) and the built tools themselves. Under CI=true a missing piece is a failure.
import { existsSync } from 'node:fs';
import { inCI, missingPrerequisite } from '../../support/prerequisites.ts';
import { missingTools } from './tools.ts';

// Go usually lives outside PATH on a fresh machine; the tool build script looks there too.
if (existsSync('/usr/local/go/bin/go') && !(process.env.PATH ?? '').includes('/usr/local/go/bin')) {
  process.env.PATH = `${process.env.PATH ?? ''}:/usr/local/go/bin`;
}

/** Why the suite cannot run (a skip reason), or undefined. Throws under CI=true instead of skipping. */
export function clusterSuiteBlocker(): string | undefined {
  const why = missingPrerequisite('go') ?? missingTools();
  if (why && inCI) throw new Error(`CI=true but this suite cannot run: ${why}`);
  return why;
}
