// Debian packages as image content, the way distroless images are made: the
// .deb files are fetched with `apt-get download` (no dpkg database, no
// maintainer scripts) and unpacked with `dpkg-deb -x`. The cache is keyed by
// the package's file name, which carries its version, so a security update
// from `apt-get update` is picked up and an unchanged one is never fetched twice.
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './command.ts';

export interface DebianPackage {
  name: string;
  version: string;
  /** Path of the cached .deb. */
  file: string;
}

/** What `apt-cache show` says this machine would install: version and .deb file name. */
function candidate(name: string): { version: string; fileName: string } {
  let shown: string;
  try {
    shown = run('apt-cache', ['show', '--no-all-versions', name]);
  } catch (err) {
    throw new Error(
      `Debian package ${name} is unknown to apt (run apt-get update first): ${(err as Error).message}`,
    );
  }
  const field = (key: string) => shown.match(new RegExp(`^${key}: (.+)$`, 'm'))?.[1];
  const version = field('Version');
  const filename = field('Filename');
  if (!version || !filename) throw new Error(`apt-cache show ${name} names no Version or Filename`);
  return { version, fileName: filename.slice(filename.lastIndexOf('/') + 1) };
}

/** Fetches (or finds in the cache) each package's current candidate version. */
export function fetchPackages(names: readonly string[], cacheDir: string): DebianPackage[] {
  mkdirSync(cacheDir, { recursive: true });
  const packages = names.map((name) => {
    const { version, fileName } = candidate(name);
    return { name, version, file: join(cacheDir, fileName) };
  });
  const missing = packages.filter((pkg) => !existsSync(pkg.file));
  if (missing.length > 0) {
    // Root downloads into a root-owned cache; apt's _apt sandbox user could not write there.
    run(
      'apt-get',
      [
        'download',
        '-q',
        '-o',
        'APT::Sandbox::User=root',
        ...missing.map((pkg) => `${pkg.name}=${pkg.version}`),
      ],
      { cwd: cacheDir },
    );
    for (const pkg of missing) {
      if (!existsSync(pkg.file)) throw new Error(`apt-get download did not write ${pkg.file}`);
    }
  }
  return packages;
}

/** Directories no program reads: documentation, manuals, translations (copyright files stay). */
const UNREAD = ['usr/share/man', 'usr/share/info', 'usr/share/lintian', 'usr/share/locale'];

/** Unpacks the packages' files into `root`, then drops what only people read. */
export function unpackPackages(packages: readonly DebianPackage[], root: string): void {
  for (const pkg of packages) run('dpkg-deb', ['-x', pkg.file, root]);
  for (const dir of UNREAD) rmSync(join(root, dir), { recursive: true, force: true });
  const docs = join(root, 'usr/share/doc');
  if (!existsSync(docs)) return;
  for (const name of readdirSync(docs)) {
    if (!lstatSync(join(docs, name)).isDirectory()) continue;
    for (const entry of readdirSync(join(docs, name))) {
      if (entry !== 'copyright') rmSync(join(docs, name, entry), { recursive: true, force: true });
    }
  }
}
