// What a program needs of the repository: the files reachable from its entry
// point through relative imports, and the npm packages those files import
// together with everything those packages depend on. An image carries exactly
// this, so the proxy and init images hold neither Fastify nor the Kubernetes
// client, and a forgotten file fails the build instead of the pod.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Static and dynamic imports, `require()` calls and re-exports, in compiled JS or erasable TS. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"\n]+)['"]/g;
/** Type-only imports vanish when the code runs; they name nothing the image needs. */
const TYPE_ONLY = /^\s*(?:import|export)\s+type\s[^;]*;/gm;
/** Comments may quote import lines; they are not code. */
const COMMENT = /\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm;

const isBuiltin = (specifier: string) =>
  specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!);

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
export function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export interface SourceClosure {
  /** Files relative to the repository root, sorted. */
  files: string[];
  /** Package names the files import directly, sorted. */
  packages: string[];
}

/** Walks the relative imports from `entries` (paths relative to `root`). */
export function sourceClosure(repoRoot: string, entries: readonly string[]): SourceClosure {
  const root = resolve(repoRoot);
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = entries.map((entry) => resolve(root, entry));
  while (pending.length > 0) {
    const file = pending.pop()!;
    const path = relative(root, file);
    if (files.has(path)) continue;
    if (!existsSync(file)) throw new Error(`${path} does not exist (run npm run build)`);
    files.add(path);
    const code = readFileSync(file, 'utf8').replace(COMMENT, '').replace(TYPE_ONLY, '');
    for (const [, specifier] of code.matchAll(SPECIFIER)) {
      if (specifier!.startsWith('.')) pending.push(resolve(dirname(file), specifier!));
      else if (!isBuiltin(specifier!)) packages.add(packageName(specifier!));
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

interface PackageJson {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/**
 * Node's lookup: `name` from a package at `fromDir` is the nearest
 * `node_modules/name` in `fromDir` or above it, up to the repository root.
 */
function locatePackage(root: string, fromDir: string, name: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || !dir.startsWith(root + sep)) return undefined;
  }
}

/**
 * The directories (relative to `root`, e.g. `node_modules/pino`) of the packages
 * named and of their `dependencies` and installed `optionalDependencies`, sorted.
 * A missing optional dependency is another platform's (koffi's prebuilt
 * binaries); a missing required one is an error.
 */
export function packageClosure(repoRoot: string, names: readonly string[]): string[] {
  const root = resolve(repoRoot);
  const dirs = new Set<string>();
  const pending = names.map((name) => ({ name, from: root, optional: false }));
  while (pending.length > 0) {
    const { name, from, optional } = pending.pop()!;
    const dir = locatePackage(root, from, name);
    if (!dir) {
      if (optional) continue;
      throw new Error(
        `package ${name} (needed from ${relative(root, from) || '.'}) is not installed`,
      );
    }
    const path = relative(root, dir);
    if (dirs.has(path)) continue;
    dirs.add(path);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      pending.push({ name: dep, from: dir, optional: false });
    }
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) {
      pending.push({ name: dep, from: dir, optional: true });
    }
  }
  return [...dirs].sort();
}
