// The seams between the three programs: the proxy and the init program import
// only their own folders, the shared modules and packages, never the
// injector's (src/config, src/inject, src/errors.ts…), and the shared modules
// import nothing of any program. Type-only imports count: a type from the
// injector is a seam crossed all the same.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.[^'"\n]*)['"]/g;
const COMMENT = /\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm;

function sources(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(folder, name));
}

/** Every relative import of the folder's files that lands outside `allowed`, as `file -> target`. */
function crossings(folder: string, allowed: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of sources(folder)) {
    const code = readFileSync(join(root, file), 'utf8').replace(COMMENT, '');
    for (const [, specifier] of code.matchAll(SPECIFIER)) {
      const target = relative(root, resolve(root, dirname(file), specifier!));
      if (!allowed.some((prefix) => target.startsWith(prefix))) found.push(`${file} -> ${target}`);
    }
  }
  return found;
}

test('every folder the rule covers has sources (a renamed folder would pass silently)', () => {
  for (const folder of ['proxy/src', 'src/iptables', 'src/shared']) {
    assert.ok(sources(folder).length > 0, folder);
  }
});

test('the proxy imports only proxy/src/ and src/shared/', () => {
  assert.deepEqual(crossings('proxy/src', ['proxy/src/', 'src/shared/']), []);
});

test('the init program imports only src/iptables/ and src/shared/', () => {
  assert.deepEqual(crossings('src/iptables', ['src/iptables/', 'src/shared/']), []);
});

test('the shared modules import only each other', () => {
  assert.deepEqual(crossings('src/shared', ['src/shared/']), []);
});

test('a crossing is found (the rule can fail)', () => {
  assert.notDeepEqual(crossings('src/inject', ['src/inject/', 'src/shared/']), []);
});
