// Every YAML block in docs/policy.md is a document the proxy would take: each
// goes through parsePolicy, the parser the proxy and `outrigger policy
// validate` run. A ConfigMap block is judged by its policy.yaml, as mounted.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { POLICY_CONFIGMAP_KEY, parsePolicy } from '../../src/shared/policy/parse.ts';

const doc = readFileSync(new URL('../../docs/policy.md', import.meta.url), 'utf8');
const blocks = [...doc.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1] ?? '');

test('docs/policy.md shows a document for every walkthrough scenario', () => {
  // The schema overview, Block All, Allow All, header routing, the split, the
  // TCP bucket, the HTTP bucket, the response header, the abort and the delay.
  assert.ok(blocks.length >= 10, `only ${blocks.length} yaml blocks`);
  const all = blocks.join('\n');
  for (const needle of [
    'mode: blockAll',
    'mode: allowAny',
    '{name: version, exact: v2}',
    'weight: 5',
    'maxTokens: 2',
    'rateLimit:',
    '{name: myage, value: "18"}',
    'percentage: 50',
    'fixedDelay:',
  ]) {
    assert.ok(all.includes(needle), needle);
  }
});

blocks.forEach((block, i) => {
  const firstLine = block.split('\n').find((line) => line.trim() !== '' && !line.startsWith('#'));
  test(`docs/policy.md yaml block ${i + 1} parses (${firstLine})`, () => {
    const object = parse(block) as { kind?: string; data?: Record<string, string> };
    const text = object?.kind === 'ConfigMap' ? object.data?.[POLICY_CONFIGMAP_KEY] : block;
    assert.ok(text !== undefined, 'a ConfigMap without policy.yaml');
    const result = parsePolicy(text);
    assert.ok(result.ok, result.ok ? '' : result.problems.join('\n'));
  });
});
