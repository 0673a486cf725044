// A directory laid out the way the kubelet lays out a ConfigMap volume, and
// updated the way it updates one (its atomic_writer): each version's keys are
// written into a fresh `..<timestamp>` directory, a `..data_tmp` symlink to it
// is renamed over `..data` in one step, and the old version is removed. Each
// key is a symlink `key -> ..data/key`, so a reader never sees a half-written
// file, and the key's own path never changes: only the directory does.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export class ConfigMapVolume {
  readonly dir: string;
  #version = 0;
  #current: string | undefined;

  constructor(files: Record<string, string>) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'outrigger-configmap-'));
    this.update(files);
    for (const key of Object.keys(files)) {
      symlinkSync(path.join('..data', key), path.join(this.dir, key));
    }
  }

  /** The path a container reads a key at. */
  path(key: string): string {
    return path.join(this.dir, key);
  }

  /** Swaps in a new version of every key, as the kubelet does after a ConfigMap edit. */
  update(files: Record<string, string>): void {
    const version = `..2026_12_01_13_00_00.${process.pid}_${++this.#version}`;
    mkdirSync(path.join(this.dir, version));
    for (const [key, text] of Object.entries(files)) {
      writeFileSync(path.join(this.dir, version, key), text);
    }
    const tmp = path.join(this.dir, '..data_tmp');
    symlinkSync(version, tmp);
    renameSync(tmp, path.join(this.dir, '..data'));
    if (this.#current !== undefined)
      rmSync(path.join(this.dir, this.#current), { recursive: true });
    this.#current = version;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
