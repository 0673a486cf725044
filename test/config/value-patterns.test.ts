// The regular expressions values.schema.json carries for Helm stand for the
// parsers the injector runs: on IPv4 and ports they accept exactly what the
// parser accepts, on IPv6 at least what it accepts (the hook runs the parser).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { VALUE_FORMATS } from '../../src/config/value-patterns.ts';

const number = (max: number) =>
  fc
    .tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max: 2 }))
    .map(([n, zeros]) => `${'0'.repeat(zeros)}${n}`);
const ipv4 = fc
  .tuple(number(300), number(300), number(300), number(300))
  .map((parts) => parts.join('.'));
const ipv6 = fc.ipV6();
const prefix = fc.option(number(140), { nil: undefined });
const cidr = fc
  .tuple(
    fc.oneof(
      ipv4,
      fc.ipV4(),
      ipv6,
      fc.string({ unit: fc.constantFrom(...'0123456789abcdef.:/x ') }),
    ),
    prefix,
  )
  .map(([address, bits]) => (bits === undefined ? address : `${address}/${bits}`));
const listOf = (item: fc.Arbitrary<string>) =>
  fc
    .array(fc.tuple(item, fc.constantFrom(',', ', ', '\n', ' ,\n ', ',,', ' ')), { maxLength: 4 })
    .map((items) => items.map(([value, sep]) => `${value}${sep}`).join(''));
const port = fc.oneof(number(70000), fc.constantFrom('0', '00000', '65535', '65536', '080'));

function agrees(format: keyof typeof VALUE_FORMATS, text: string, exact: boolean): void {
  const { parse, pattern } = VALUE_FORMATS[format];
  const byParser = parse(text).ok;
  const byPattern = new RegExp(pattern, 'u').test(text);
  if (exact) assert.equal(byPattern, byParser, `${format} ${JSON.stringify(text)}`);
  else if (byParser) assert.ok(byPattern, `${format} ${JSON.stringify(text)}: pattern refuses`);
}

test('the cidr pattern accepts exactly the IPv4 CIDRs parseCidr accepts, and every IPv6 one', () => {
  fc.assert(
    fc.property(cidr, (text) => agrees('cidr', text, !text.includes(':'))),
    { numRuns: 5000 },
  );
  for (const text of ['10.0.0.0/33', '10.0.0.256/8', '010.0.0.0/8', '10.0.0/8', '']) {
    assert.equal(new RegExp(VALUE_FORMATS.cidr.pattern).test(text), false, text);
  }
});

test('the cidr-selection pattern follows parseCidrSelection on lists', () => {
  fc.assert(
    fc.property(fc.oneof(listOf(cidr), fc.constantFrom('*', ' * ', '*,10.0.0.0/8')), (text) =>
      agrees('cidr-selection', text, !text.includes(':')),
    ),
    { numRuns: 3000 },
  );
});

test('the port-selection pattern accepts exactly what parsePortSelection accepts', () => {
  fc.assert(
    fc.property(fc.oneof(listOf(port), fc.constantFrom('*', ' *', '*,80', '')), (text) =>
      agrees('port-selection', text, true),
    ),
    { numRuns: 3000 },
  );
});

test('the policy-name pattern (with the schema’s maxLength of 253) accepts exactly what parsePolicyName accepts', () => {
  const { parse, pattern } = VALUE_FORMATS['policy-name'];
  const name = fc.string({ unit: fc.constantFrom(...'ab09-.Z_ '), maxLength: 12 });
  fc.assert(
    fc.property(name, (text) => {
      assert.equal(new RegExp(pattern, 'u').test(text), parse(text).ok, JSON.stringify(text));
    }),
    { numRuns: 5000 },
  );
  // Past 253 characters only maxLength refuses: the pattern alone would take it.
  assert.equal(parse('a'.repeat(254)).ok, false);
});
