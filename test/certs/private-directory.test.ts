// `outrigger serve` without certificate files writes a CA, a leaf and its key
// into a directory. Here that directory is hostile in every way the shared
// /tmp allows: made first by another user, open to everyone, a symlink where
// ca.crt goes. Nothing may be written through it, and no file outside it changes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { preparePrivateDirectory, writePrivateFile } from '../../src/certs/private-directory.ts';
import { errors, isOutriggerError } from '../../src/errors.ts';
import { requirePrerequisites } from '../support/prerequisites.ts';

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const PRECIOUS = 'a file the webhook must never write\n';

const refused = (pattern: RegExp) => (err: unknown) =>
  isOutriggerError(err, errors.UNSAFE_CERTS_DIR) && pattern.test(err.message);

describe('the directory for generated certificates', () => {
  let root: string;
  let victim: string;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'outrigger-certs-dir-'));
    victim = join(root, 'victim');
    writeFileSync(victim, PRECIOUS);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('serve refuses a directory another user made, mode 0777, with a symlink for ca.crt', (t) => {
    if (!requirePrerequisites(t, 'root')) return;
    const hostile = join(root, 'hostile');
    mkdirSync(hostile);
    symlinkSync(victim, join(hostile, 'ca.crt'));
    chownSync(hostile, 65534, 65534);
    chmodSync(hostile, 0o777);

    const result = spawnSync(
      process.execPath,
      [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--certs-dir', hostile],
      { encoding: 'utf8', timeout: 20_000, killSignal: 'SIGKILL' },
    );
    assert.equal(result.status, 1, `serve did not refuse: ${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /owned by uid 65534, not by this user/);
    assert.match(result.stderr, /OUTRIGGER_UNSAFE_CERTS_DIR/);
    assert.equal(readFileSync(victim, 'utf8'), PRECIOUS);
    assert.ok(lstatSync(join(hostile, 'ca.crt')).isSymbolicLink(), 'the link is left alone');
  });

  test('a directory of this user that group or others may write is refused', async () => {
    for (const [mode, who] of [
      [0o777, 'others'],
      [0o770, 'its group'],
    ] as const) {
      const open = join(root, `open-${mode.toString(8)}`);
      mkdirSync(open);
      chmodSync(open, mode);
      await assert.rejects(
        preparePrivateDirectory(open),
        refused(new RegExp(`writable by ${who}`)),
      );
    }
  });

  test('a symlink in place of the directory is refused', async () => {
    const real = join(root, 'real');
    mkdirSync(real, { mode: 0o700 });
    const link = join(root, 'link');
    symlinkSync(real, link);
    await assert.rejects(preparePrivateDirectory(link), refused(/symbolic link/));
  });

  test('a missing directory is created 0700, and the key is written 0600', async () => {
    const fresh = join(root, 'parent', 'fresh');
    await preparePrivateDirectory(fresh);
    assert.equal(lstatSync(fresh).mode & 0o777, 0o700);
    const key = await writePrivateFile(fresh, 'tls.key', 'KEY', 0o600);
    assert.equal(lstatSync(key).mode & 0o777, 0o600);
    assert.equal(readFileSync(key, 'utf8'), 'KEY');
  });

  test('in a private directory, a planted symlink is replaced, never written through', async () => {
    const mine = join(root, 'mine');
    mkdirSync(mine, { mode: 0o700 });
    symlinkSync(victim, join(mine, 'ca.crt'));
    await preparePrivateDirectory(mine);
    await writePrivateFile(mine, 'ca.crt', 'CA', 0o644);
    assert.equal(readFileSync(victim, 'utf8'), PRECIOUS);
    assert.ok(lstatSync(join(mine, 'ca.crt')).isFile());
    assert.equal(readFileSync(join(mine, 'ca.crt'), 'utf8'), 'CA');
    // A second run replaces its own files.
    await writePrivateFile(mine, 'ca.crt', 'CA2', 0o644);
    assert.equal(readFileSync(join(mine, 'ca.crt'), 'utf8'), 'CA2');
  });
});
