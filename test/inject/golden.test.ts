// Golden injection cases: each pod in testdata/pods goes through injectPod (the
// webhook's own path); its outcome, patch and injected pod are compared with
// the files in testdata/golden. Regenerate with `npm run golden:update`. Every
// case that injects also goes back through uninject, which must give the input.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import jsonPatch from 'fast-json-patch';
import { parse } from 'yaml';
import { injectText } from '../../src/cli/inject.ts';
import { uninjectText } from '../../src/cli/uninject.ts';
import { defaultConfig, parseConfig } from '../../src/config/load.ts';
import { isOutriggerError } from '../../src/errors.ts';
import { injectPod } from '../../src/inject/inject.ts';
import { describeInject, describeSkip } from '../../src/inject/reasons.ts';
import { renderPod } from '../../src/inject/render.ts';
import { buildUninjectPatch } from '../../src/inject/uninject.ts';
import { expectGolden, expectNoGolden } from '../support/golden.ts';
import { podSchemaErrors } from '../support/pod-schema.ts';

const pods = new URL('./testdata/pods/', import.meta.url);
const golden = new URL('./testdata/golden/', import.meta.url);
const cases = readdirSync(pods)
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('.config.yaml'))
  .map((f) => f.replace(/\.yaml$/, ''));

/**
 * The cases whose round trip gives the input's objects but not its bytes,
 * with what the YAML printer writes differently; every other case comes back
 * byte for byte.
 */
const REPRINTED: Record<string, string> = {
  '31-app-probes':
    'httpHeaders, which the rewrite drops from httpGet, come back in block style, not the flow style they were written in',
};

test('there are at least 15 golden cases', () => {
  assert.ok(cases.length >= 15, `only ${cases.length} cases`);
});

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const source = readFileSync(new URL(`${name}.yaml`, pods), 'utf8');
    const pod = parse(source) as V1Pod;
    const configFile = new URL(`${name}.config.yaml`, pods);
    const config = existsSync(configFile)
      ? parseConfig(readFileSync(configFile, 'utf8'), `${name}.config.yaml`)
      : defaultConfig();
    const namespace = pod.metadata?.namespace ?? 'default';
    const file = (suffix: string) => new URL(`${name}.${suffix}`, golden).pathname;

    let outcome: ReturnType<typeof injectPod>;
    try {
      outcome = injectPod(pod, { namespace }, config);
    } catch (err) {
      assert.ok(isOutriggerError(err), `unexpected error ${err}`);
      expectGolden(file('outcome.txt'), `denied ${err.code}\n${err.message}\n`);
      expectNoGolden(file('patch.json'));
      expectNoGolden(file('injected.yaml'));
      return;
    }
    if (!outcome.injected) {
      const { reason } = outcome.decision;
      expectGolden(file('outcome.txt'), `skipped ${reason}\n${describeSkip(reason)}\n`);
      expectNoGolden(file('patch.json'));
      expectNoGolden(file('injected.yaml'));
      return;
    }
    const { reason } = outcome.decision;
    // Warnings (unknown keys, excluded proxy ports in use) follow, one a line.
    const warnings = outcome.warnings.map((w) => `warning: ${w}\n`).join('');
    expectGolden(file('outcome.txt'), `injected ${reason}\n${describeInject(reason)}\n${warnings}`);
    expectGolden(file('patch.json'), `${JSON.stringify(outcome.patch, null, 2)}\n`);

    // The patch, applied as the apiserver applies it, gives exactly the rendered pod.
    const patched = jsonPatch.applyPatch(
      structuredClone(pod),
      structuredClone(outcome.patch),
      true,
      false,
    ).newDocument as V1Pod;
    assert.deepEqual(patched, renderPod(pod, outcome.injection));
    assert.deepEqual(podSchemaErrors(patched), []);
    // The injected file is what `outrigger inject` writes for the case: the
    // source edited in place, so it parses to the patched pod and has no anchors.
    const edited = injectText(source, `${name}.yaml`, config, 'default');
    assert.deepEqual(edited.problems, []);
    assert.deepEqual(parse(edited.output), patched);
    assert.doesNotMatch(edited.output, /(^|\s)[&*]a\d+\b/m, 'an anchor or alias');
    expectGolden(file('injected.yaml'), edited.output);

    // Uninject undoes it: as operations on the injected pod, and on the file.
    const uninjection = buildUninjectPatch(patched);
    assert.ok(uninjection, 'the injected pod has no status annotation');
    assert.deepEqual(uninjection.notes, []);
    const restored = jsonPatch.applyPatch(
      structuredClone(patched),
      structuredClone(uninjection.operations),
      true,
      false,
    ).newDocument;
    assert.deepEqual(restored, pod);
    const back = uninjectText(edited.output, `${name}.injected.yaml`);
    assert.deepEqual([back.problems, back.notes, back.uninjected.length], [[], [], 1]);
    assert.deepEqual(parse(back.output), parse(source));
    if (REPRINTED[name] === undefined) assert.equal(back.output, source, 'not byte for byte');
    else assert.notEqual(back.output, source, `${name} comes back byte for byte now`);
  });
}
