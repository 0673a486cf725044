// One image layer from a staged directory, made reproducible: entries sorted by
// name, every timestamp the build's epoch, every owner root, no access or
// change times. The same content gives the same layer digest, so images that
// share a layer (the C library, Node) share it in a registry and on a node.
import { readdirSync } from 'node:fs';
import { run } from './command.ts';

export function writeLayerTar(stagedDir: string, tarFile: string, epoch: number): void {
  // Top-level names instead of `.`, so entries read `usr/bin/x` like any image's, not `./usr/bin/x`.
  const entries = readdirSync(stagedDir).sort();
  if (entries.length === 0) throw new Error(`layer ${stagedDir} is empty`);
  run('tar', [
    '--create',
    `--file=${tarFile}`,
    `--directory=${stagedDir}`,
    '--sort=name',
    '--format=posix',
    '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
    `--mtime=@${epoch}`,
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--',
    ...entries,
  ]);
}
