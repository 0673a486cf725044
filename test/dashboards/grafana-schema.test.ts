// The dashboards in examples/grafana/ against Grafana's dashboard schema: the
// Grafana Foundation SDK's strict decoder (grafana-check/main.go, built with Go
// from the Go module proxy), with every panel and data-query plugin it knows,
// so panel options and Prometheus targets are checked too. What this proves and
// what it does not is in docs/metrics.md, "Dashboards".
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT } from '../proxy/support/harness.ts';
import { goTool } from '../support/go-tool.ts';
import { requirePrerequisites } from '../support/prerequisites.ts';

const DIR = path.join(ROOT, 'examples/grafana');
const CHECK = path.join(import.meta.dirname, 'grafana-check');
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => path.join(DIR, f));

interface Report {
  sdkSchemaVersion: number;
  files: Record<string, { schemaVersion: number; errors: string[] }>;
}

function check(paths: string[]): Report {
  return JSON.parse(execFileSync(goTool(CHECK), paths, { encoding: 'utf8' })) as Report;
}

describe("Grafana's dashboard schema", () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'outrigger-grafana-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  test('every dashboard decodes strictly, with no error, at a schema version the SDK covers', (t) => {
    if (!requirePrerequisites(t, 'go')) return;
    const report = check(files);
    assert.equal(Object.keys(report.files).length, files.length);
    for (const file of files) {
      const result = report.files[file];
      assert.deepEqual(result?.errors, [], path.basename(file));
      const declared = JSON.parse(readFileSync(file, 'utf8')).schemaVersion;
      assert.equal(result?.schemaVersion, declared);
      // Grafana migrates an older dashboard forward on import, never a newer one back.
      assert.ok(declared <= report.sdkSchemaVersion, `${declared} > ${report.sdkSchemaVersion}`);
    }
  });

  test('the check fails on a wrong field type, a missing required field and a field the schema lacks', (t) => {
    if (!requirePrerequisites(t, 'go')) return;
    const [first] = files;
    assert.ok(first);
    type Json = Record<string, unknown> & { panels: Array<Record<string, unknown>> };
    const base = JSON.parse(readFileSync(first, 'utf8')) as Json;
    const panel = (d: Json) => d.panels[0] as Record<string, Record<string, unknown>>;
    const legend = (d: Json) => panel(d).options!.legend as Record<string, unknown>;
    const target = (d: Json) => (panel(d).targets as unknown as Array<Record<string, unknown>>)[0]!;
    const mutations: Array<[string, (d: Json) => void, RegExp]> = [
      [
        'a string where a number goes',
        (d) => {
          panel(d).gridPos!.h = '8';
        },
        /^panels\[0\]/,
      ],
      [
        'schemaVersion missing',
        (d) => {
          delete d.schemaVersion;
        },
        /^schemaVersion: required/,
      ],
      [
        'a panel without its type',
        (d) => {
          delete panel(d).type;
        },
        /^panels\[0\]/,
      ],
      [
        'a misspelt dashboard field',
        (d) => {
          d.titel = 'Outrigger';
        },
        /titel/,
      ],
      [
        'a legend option of the wrong type',
        (d) => {
          legend(d).showLegend = 'yes';
        },
        /^panels\[0\]\.options/,
      ],
      [
        'a Prometheus query that is not a string',
        (d) => {
          target(d).expr = 5;
        },
        /^panels\[0\]\.targets\[0\]/,
      ],
    ];
    const written = mutations.map(([what, mutate], i) => {
      const copy = structuredClone(base);
      mutate(copy);
      const file = path.join(scratch, `${i}.json`);
      writeFileSync(file, JSON.stringify(copy));
      return { what, file };
    });
    const report = check(written.map((w) => w.file));
    mutations.forEach(([what, , expected], i) => {
      const errors = report.files[written[i]!.file]?.errors ?? [];
      assert.ok(
        errors.some((e) => expected.test(e)),
        `${what}: expected an error matching ${expected}, got ${JSON.stringify(errors)}`,
      );
    });
  });
});
