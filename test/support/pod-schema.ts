// A strict check of a Pod against the Kubernetes v1 OpenAPI schema (extracted
// by tools/extract-pod-schema.ts): types, enums and required fields as
// published, plus no unknown fields, so a misspelled key cannot slip through.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

type Schema = Record<string, unknown>;

function closeObjects(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) closeObjects(item);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const schema = node as Schema;
  if (schema.type === 'object' && schema.properties && schema.additionalProperties === undefined) {
    schema.additionalProperties = false;
  }
  for (const value of Object.values(schema)) closeObjects(value);
}

const schema = JSON.parse(
  readFileSync(new URL('../inject/testdata/pod.openapi.json', import.meta.url), 'utf8'),
) as Schema;
closeObjects(schema);
const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(
  schema,
);

/** Schema violations of the pod, empty when it is valid. */
export function podSchemaErrors(pod: unknown): string[] {
  if (validate(pod)) return [];
  return (validate.errors ?? []).map(
    (e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`,
  );
}
