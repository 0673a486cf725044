// charts/outrigger/values.schema.json is generated from test/charts/values-schema.ts
// (whose injection block is src/config/schema.ts); regenerate with UPDATE_GOLDEN=1.

import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { expectGolden } from '../support/golden.ts';
import { valuesSchemaJson } from './values-schema.ts';

const schemaPath = fileURLToPath(
  new URL('../../charts/outrigger/values.schema.json', import.meta.url),
);

it('values.schema.json matches the chart schema and the injector config schema', () => {
  expectGolden(schemaPath, valuesSchemaJson());
});
