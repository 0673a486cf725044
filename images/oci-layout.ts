// The OCI side of the build, through umoci and skopeo: an image layout in
// which every image is a chain of tagged layers (images that start with the
// same layers share those tags and blobs), each image's config, and the
// archive that names the image by its full reference.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './command.ts';

export interface ImageConfig {
  entrypoint: readonly string[];
  cmd: readonly string[];
  user: string;
  env: Readonly<Record<string, string>>;
  exposedPorts: readonly string[];
  workingDir: string;
  labels: Readonly<Record<string, string>>;
}

export class OciLayout {
  private readonly tags = new Set<string>();
  readonly dir: string;
  /** RFC 3339 time written as the images' and their history's creation time. */
  private readonly created: string;

  /** A fresh layout at `dir` holding one empty image, `scratch`, to build on. */
  constructor(dir: string, created: string) {
    this.dir = dir;
    this.created = created;
    run('umoci', ['init', '--layout', dir]);
    run('umoci', ['new', '--image', `${dir}:scratch`]);
    this.tags.add('scratch');
  }

  has(tag: string): boolean {
    return this.tags.has(tag);
  }

  /** Tags `tag` as image `from` plus the uncompressed layer `tarFile` (umoci gzips it). */
  addLayer(from: string, tag: string, tarFile: string, createdBy: string): void {
    run('umoci', [
      'raw',
      'add-layer',
      '--image',
      `${this.dir}:${from}`,
      '--tag',
      tag,
      '--history.created',
      this.created,
      '--history.created_by',
      createdBy,
      tarFile,
    ]);
    this.tags.add(tag);
  }

  /** Tags `tag` as image `from` with its runtime config replaced by `config`. */
  configure(from: string, tag: string, config: ImageConfig): void {
    const repeat = (flag: string, values: Iterable<string>) =>
      [...values].flatMap((value) => [flag, value]);
    run('umoci', [
      'config',
      '--image',
      `${this.dir}:${from}`,
      '--tag',
      tag,
      '--no-history',
      '--created',
      this.created,
      '--os',
      'linux',
      '--architecture',
      'amd64',
      '--clear=config.entrypoint',
      '--clear=config.cmd',
      ...repeat('--config.entrypoint', config.entrypoint),
      ...repeat('--config.cmd', config.cmd),
      '--config.user',
      config.user,
      ...repeat('--config.env', keyEqualsValue(config.env)),
      ...repeat('--config.exposedports', config.exposedPorts),
      '--config.workingdir',
      config.workingDir,
      ...repeat('--config.label', keyEqualsValue(config.labels)),
    ]);
    this.tags.add(tag);
  }

  /**
   * Writes image `tag` as an OCI archive whose index.json names it `reference`
   * (what `ctr images import` and `podman load` tag it with) and returns the
   * manifest digest. A Docker-style manifest.json is added beside index.json,
   * as `docker save` writes since Docker 25, so that Docker's classic image
   * store loads it too; containerd and podman read index.json and ignore it.
   */
  exportArchive(tag: string, archive: string, reference: string): string {
    run('skopeo', [
      'copy',
      '--quiet',
      `oci:${this.dir}:${tag}`,
      `oci-archive:${archive}:${reference}`,
    ]);
    const read = (path: string) =>
      JSON.parse(run('tar', ['--extract', '--to-stdout', `--file=${archive}`, path]));
    const index = read('index.json') as { manifests: Array<{ digest: string }> };
    const digest = index.manifests[0]?.digest;
    if (!digest) throw new Error(`${archive} has no manifest in its index.json`);
    const manifest = read(blobPath(digest)) as {
      config: { digest: string };
      layers: Array<{ digest: string }>;
    };
    const dockerManifest = [
      {
        Config: blobPath(manifest.config.digest),
        RepoTags: [reference],
        Layers: manifest.layers.map((layer) => blobPath(layer.digest)),
      },
    ];
    const staged = mkdtempSync(join(tmpdir(), 'outrigger-manifest-'));
    try {
      writeFileSync(join(staged, 'manifest.json'), JSON.stringify(dockerManifest));
      run('tar', [
        '--append',
        `--file=${archive}`,
        `--directory=${staged}`,
        `--mtime=@${Date.parse(this.created) / 1000}`,
        '--owner=0',
        '--group=0',
        '--numeric-owner',
        'manifest.json',
      ]);
    } finally {
      rmSync(staged, { recursive: true, force: true });
    }
    return digest;
  }
}

/** `{A: '1'}` → `['A=1']`, as umoci takes environment variables and labels. */
const keyEqualsValue = (record: Readonly<Record<string, string>>) =>
  Object.entries(record).map(([key, value]) => `${key}=${value}`);

/** `sha256:abc…` → `blobs/sha256/abc…`, where an OCI layout keeps the blob. */
const blobPath = (digest: string) => `blobs/${digest.replace(':', '/')}`;
