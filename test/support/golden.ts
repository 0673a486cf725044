// Golden files: compared byte for byte, rewritten when UPDATE_GOLDEN=1
// (`npm run golden:update`), and reviewed in the diff.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const updatingGolden = process.env.UPDATE_GOLDEN === '1';

export function expectGolden(path: string, actual: string): void {
  if (updatingGolden) {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  assert.ok(
    existsSync(path),
    `golden file ${path} is missing: run npm run golden:update and review the diff`,
  );
  assert.equal(
    actual,
    readFileSync(path, 'utf8'),
    `${path} differs: if the change is intended, run npm run golden:update`,
  );
}

/** For outputs a case does not produce: the golden file must not exist either. */
export function expectNoGolden(path: string): void {
  if (updatingGolden) {
    rmSync(path, { force: true });
    return;
  }
  assert.ok(!existsSync(path), `${path} should not exist for this case: run npm run golden:update`);
}
