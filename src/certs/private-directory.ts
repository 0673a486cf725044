// Where `outrigger serve` writes the certificates it generates when given no
// files: a directory only this user can write, which it creates itself. The
// default lives in the shared /tmp, so anyone could have made it first, or
// planted a symlink where a file will go; such a directory is refused, and
// files are created afresh, never opened through a link.
import { constants } from 'node:fs';
import { lstat, mkdir, open, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errors } from '../errors.ts';

const CREATE_EXCLUSIVELY =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * Creates `dir` with mode 0700, or accepts it when it already exists as a
 * real directory owned by this user and writable by no one else. Throws
 * UNSAFE_CERTS_DIR otherwise.
 */
export async function preparePrivateDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      // Missing parents of a --certs-dir the user named: theirs to choose.
      await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
      return preparePrivateDirectory(dir);
    }
    if (code !== 'EEXIST') throw errors.UNSAFE_CERTS_DIR(dir, (err as Error).message);
  }
  const stats = await lstat(dir);
  if (stats.isSymbolicLink()) throw errors.UNSAFE_CERTS_DIR(dir, 'it is a symbolic link');
  if (!stats.isDirectory()) throw errors.UNSAFE_CERTS_DIR(dir, 'it is not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && stats.uid !== uid)
    throw errors.UNSAFE_CERTS_DIR(
      dir,
      `it is owned by uid ${stats.uid}, not by this user (${uid})`,
    );
  if ((stats.mode & 0o022) !== 0)
    throw errors.UNSAFE_CERTS_DIR(
      dir,
      `it is writable by ${stats.mode & 0o002 ? 'others' : 'its group'} (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')})`,
    );
}

/**
 * Writes `name` in a directory preparePrivateDirectory accepted. Whatever
 * stands there (a file from an earlier run, a symlink) is unlinked, which
 * never touches a link's target, and the file is created exclusively.
 */
export async function writePrivateFile(
  dir: string,
  name: string,
  contents: string,
  mode: number,
): Promise<string> {
  const path = join(dir, name);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT')
      throw errors.UNSAFE_CERTS_DIR(dir, `cannot replace ${name}: ${err.message}`);
  });
  const file = await open(path, CREATE_EXCLUSIVELY, mode);
  try {
    await file.writeFile(contents);
  } finally {
    await file.close();
  }
  return path;
}
