// Extracts the Pod schema (and every definition it references) from the
// Kubernetes OpenAPI v3 document, without descriptions, into
// test/inject/testdata/pod.openapi.json for the property tests' schema check.
//
//   node tools/extract-pod-schema.ts <kubernetes>/api/openapi-spec/v3/api__v1_openapi.json
import { readFileSync, writeFileSync } from 'node:fs';

const [source] = process.argv.slice(2);
if (!source) throw new Error('usage: extract-pod-schema.ts api__v1_openapi.json');
const document = JSON.parse(readFileSync(source, 'utf8'));
const schemas: Record<string, unknown> = document.components.schemas;
const picked: Record<string, unknown> = {};

function strip(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strip);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'description' || key.startsWith('x-kubernetes-')) continue;
    if (key === '$ref' && typeof value === 'string') {
      const name = value.split('/').pop() as string;
      if (!(name in picked)) {
        picked[name] = {};
        picked[name] = strip(schemas[name]);
      }
      out[key] = `#/definitions/${name}`;
      continue;
    }
    out[key] = strip(value);
  }
  return out;
}

const root = strip({ $ref: '#/components/schemas/io.k8s.api.core.v1.Pod' });
writeFileSync(
  new URL('../test/inject/testdata/pod.openapi.json', import.meta.url),
  `${JSON.stringify({ ...(root as object), definitions: picked }, null, 1)}\n`,
);
