// The Node.js runtime the images run: the binary of the `node` devDependency
// that every npm script already runs on, so images and tests use the same
// Node. It ships with debug information (126 MB); a stripped copy is cached
// per version.
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './command.ts';

export interface NodeRuntime {
  version: string;
  /** The stripped binary in the cache. */
  binary: string;
}

export function strippedNode(repoRoot: string, cacheDir: string): NodeRuntime {
  const pkg = join(repoRoot, 'node_modules/node');
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
    version: string;
  };
  const source = join(pkg, 'bin/node');
  if (!existsSync(source)) {
    throw new Error(`${source} is missing: run npm ci (the node package installs it)`);
  }
  const dir = join(cacheDir, `node-${version}`);
  const binary = join(dir, 'node');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    run('strip', ['--strip-all', '-o', `${binary}.partial`, source]);
    renameSync(`${binary}.partial`, binary);
  }
  return { version, binary };
}
