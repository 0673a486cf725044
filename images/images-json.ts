// dist/images/images.json: what `npm run images` built, for the programs that
// use the archives (the local cluster imports them with `ctr -n k8s.io images
// import` and sets the chart's image values from the references and digests).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface BuiltImage {
  /** The catalog name: injector, init, proxy, pause, coredns, testapp. */
  name: string;
  /** `<registry>/<name>:<tag>`, the name the archive's index.json gives the image. */
  reference: string;
  /** Manifest digest, `sha256:…`: what a registry keeps after `skopeo copy`. */
  digest: string;
  /** The archive, relative to the repository root (absolute when built outside it). */
  archive: string;
  sizeBytes: number;
}

export const IMAGES_JSON = 'images.json';

/** The images listed in `dir`/images.json (empty when nothing was built there). */
export function readImagesJson(dir: string): BuiltImage[] {
  const file = join(dir, IMAGES_JSON);
  if (!existsSync(file)) return [];
  return JSON.parse(readFileSync(file, 'utf8')) as BuiltImage[];
}

/**
 * Writes `dir`/images.json: the images just built, and those of an earlier run
 * that were not rebuilt and whose archives are still there, in `order`.
 */
export function writeImagesJson(
  dir: string,
  repoRoot: string,
  built: readonly BuiltImage[],
  order: readonly string[],
): string {
  let previous: BuiltImage[] = [];
  try {
    previous = readImagesJson(dir);
  } catch {
    // An unreadable list is replaced by what this run built.
  }
  const kept = previous.filter(
    (old) => !built.some((b) => b.name === old.name) && existsSync(resolve(repoRoot, old.archive)),
  );
  const rank = (image: BuiltImage) => order.indexOf(image.name);
  const all = [...kept, ...built].sort((a, b) => rank(a) - rank(b));
  const file = join(dir, IMAGES_JSON);
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  return file;
}
