#!/usr/bin/env node
// `npm run images`: builds Outrigger's OCI images from the repository alone,
// with no Docker engine and no registry, as archives in dist/images/ that
// `docker load`, `podman load` and `ctr images import` read and
// `skopeo copy oci-archive:... docker://...` pushes. What goes into each image
// is in images/catalog.ts; dist/images/images.json lists what was built.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { type BuildContext, IMAGES, type ImageDefinition } from './catalog.ts';
import { hasProgram, run } from './command.ts';
import { type BuiltImage, writeImagesJson } from './images-json.ts';
import { writeLayerTar } from './layer-archive.ts';
import { OciLayout } from './oci-layout.ts';
import { DEFAULT_REGISTRY, imageReference } from './reference.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const SOURCE = 'https://github.com/outrigger/outrigger';

interface Options {
  registry: string;
  tag: string;
  only?: string[];
  out: string;
}

/** Seconds since the epoch stamped on every file and config: SOURCE_DATE_EPOCH, else HEAD's commit time. */
function buildEpoch(): number {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(run('git', ['-C', repoRoot, 'log', '-1', '--format=%ct']).trim());
  } catch {
    return 0;
  }
}

function revision(): string | undefined {
  try {
    return run('git', ['-C', repoRoot, 'rev-parse', 'HEAD']).trim();
  } catch {
    return undefined;
  }
}

/** The images asked for; coredns is skipped, not failed, when not asked for by name and not built. */
function selectImages(only: string[] | undefined, context: BuildContext): ImageDefinition[] {
  const unknown = (only ?? []).filter((name) => !IMAGES.some((image) => image.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `unknown image ${unknown.join(', ')} (images: ${IMAGES.map((i) => i.name).join(', ')})`,
    );
  }
  const chosen = IMAGES.filter((image) => !only || only.includes(image.name));
  return chosen.filter((image) => {
    const why = image.unavailable?.(context);
    if (!why) return true;
    if (only) throw new Error(`cannot build ${image.name}: ${why}`);
    process.stderr.write(`images: skipping ${image.name}: ${why}\n`);
    return false;
  });
}

function buildImages(options: Options): BuiltImage[] {
  const missing = ['umoci', 'skopeo', 'tar', 'dpkg-deb', 'apt-get', 'strip', 'gcc'].filter(
    (program) => !hasProgram(program),
  );
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(', ')} (apt-get install umoci skopeo binutils gcc libc6-dev)`,
    );
  }
  const context: BuildContext = {
    repoRoot,
    version: pkg.version,
    cacheDir: process.env.OUTRIGGER_IMAGES_CACHE ?? join(homedir(), '.cache', 'outrigger-images'),
  };
  const images = selectImages(options.only, context);
  const epoch = buildEpoch();
  const created = new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
  const commit = revision();
  const work = mkdtempSync(join(tmpdir(), 'outrigger-images-'));
  mkdirSync(options.out, { recursive: true });
  try {
    const layout = new OciLayout(join(work, 'layout'), created);
    const width = Math.max(
      ...images.map((image) => imageReference(options.registry, image.name, options.tag).length),
    );
    return images.map((image) => {
      // Each prefix of an image's layers is a tag of its own, built once per run.
      let tag = 'scratch';
      for (const layer of image.layers) {
        const next = tag === 'scratch' ? layer.name : `${tag}+${layer.name}`;
        if (!layout.has(next)) {
          const staged = join(work, 'layers', next);
          mkdirSync(staged, { recursive: true });
          layer.stage(staged, context);
          writeLayerTar(staged, `${staged}.tar`, epoch);
          layout.addLayer(tag, next, `${staged}.tar`, `outrigger images: ${layer.name}`);
          rmSync(staged, { recursive: true });
        }
        tag = next;
      }
      const version = image.version?.(context) ?? context.version;
      layout.configure(tag, image.name, {
        ...image.config,
        labels: {
          'org.opencontainers.image.title': `outrigger-${image.name}`,
          'org.opencontainers.image.description': image.description,
          'org.opencontainers.image.version': version,
          'org.opencontainers.image.source': SOURCE,
          'org.opencontainers.image.licenses': 'Apache-2.0',
          ...(commit ? { 'org.opencontainers.image.revision': commit } : {}),
        },
      });
      const reference = imageReference(options.registry, image.name, options.tag);
      const archive = join(options.out, `${image.name}.tar`);
      rmSync(archive, { force: true });
      const digest = layout.exportArchive(image.name, archive, reference);
      const built = {
        name: image.name,
        reference,
        digest,
        archive: archivePath(archive),
        sizeBytes: statSync(archive).size,
      };
      const mb = `${(built.sizeBytes / 1e6).toFixed(1)} MB`.padStart(9);
      process.stdout.write(`${image.name.padEnd(9)} ${reference.padEnd(width)} ${mb}  ${digest}\n`);
      return built;
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Relative to the repository root when inside it (the usual dist/images/...), else absolute. */
function archivePath(archive: string): string {
  const path = relative(repoRoot, archive);
  return path.startsWith('..') ? archive : path;
}

const program = new Command('images')
  .description('build the OCI image archives into dist/images/ (no Docker engine, no registry)')
  .option('--registry <registry>', 'registry (and path) in every image reference', DEFAULT_REGISTRY)
  .option('--tag <tag>', 'tag of every image', pkg.version)
  .addOption(
    new Option(
      '--only <names>',
      `comma-separated subset of: ${IMAGES.map((i) => i.name).join(', ')}`,
    ).argParser((value) =>
      value
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    ),
  )
  .option('--out <dir>', 'where the archives and images.json go', join(repoRoot, 'dist/images'))
  .action((options: Options) => {
    const started = Date.now();
    const out = resolve(options.out);
    const built = buildImages({ ...options, out });
    const file = writeImagesJson(
      out,
      repoRoot,
      built,
      IMAGES.map((image) => image.name),
    );
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stdout.write(
      `images: ${built.length} built in ${seconds} s; list in ${relative(process.cwd(), file)}\n`,
    );
  });

try {
  program.parse();
} catch (err) {
  process.stderr.write(`images: ${(err as Error).message}\n`);
  process.exit(1);
}
