// Writing a layer's directory: copied trees, the users an image runs as, and
// the few files a program expects of any Linux root.
import { chmodSync, cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface User {
  name: string;
  uid: number;
  home: string;
}

/**
 * Every uid the images run as, one passwd and group for all images. No home
 * directories: layers are owned by root, and none of the programs writes to $HOME.
 */
export const USERS: readonly User[] = [
  { name: 'root', uid: 0, home: '/root' },
  { name: 'outrigger-proxy', uid: 1337, home: '/nonexistent' },
  { name: 'nonroot', uid: 65532, home: '/nonexistent' },
  { name: 'nobody', uid: 65534, home: '/nonexistent' },
];

export function writeFile(root: string, path: string, content: string, mode = 0o644): void {
  const target = join(root, path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, content);
  chmodSync(target, mode);
}

export function makeDir(root: string, path: string, mode = 0o755): void {
  const target = join(root, path);
  mkdirSync(target, { recursive: true });
  chmodSync(target, mode);
}

export function makeSymlink(root: string, path: string, pointsTo: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  symlinkSync(pointsTo, join(root, path));
}

/** /etc/passwd, /etc/group, /tmp (1777), /run (iptables' lock), and name lookup through /etc/hosts, then DNS. */
export function writeSystemFiles(root: string): void {
  const nologin = '/sbin/nologin';
  writeFile(
    root,
    'etc/passwd',
    USERS.map((u) => `${u.name}:x:${u.uid}:${u.uid}:${u.name}:${u.home}:${nologin}\n`).join(''),
  );
  writeFile(root, 'etc/group', USERS.map((u) => `${u.name}:x:${u.uid}:\n`).join(''));
  writeFile(root, 'etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n');
  makeDir(root, 'tmp', 0o1777);
  makeDir(root, 'run');
}

/** Files that never belong in an image: types, source maps, prose, TypeScript sources. */
const NOT_RUNTIME = /(\.d\.[cm]?ts|\.map|\.md|\.markdown|\.[cm]?ts)$/i;

/** Copies an npm package without its own node_modules (nested packages are copied on their own). */
export function copyPackage(from: string, to: string): void {
  cpSync(from, to, {
    recursive: true,
    filter: (source) =>
      source === from || (basename(source) !== 'node_modules' && !NOT_RUNTIME.test(source)),
  });
}
