// The value grammars shared by annotations and the config file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  oneOf,
  parseCidr,
  parseCidrRange,
  parseCidrRangeSelection,
  parseCidrSelection,
  parseHeaderPairs,
  parseHostPort,
  parseInterfaceName,
  parseListeningPort,
  parseNumericId,
  parsePortList,
  parsePortSelection,
  parseQuantity,
  splitList,
  wholeNumber,
} from '../../../src/shared/grammar/index.ts';
import { VERSION } from '../../../src/version.ts';

test('ports: 1-65535 only, as a comma list with blanks allowed', () => {
  assert.deepEqual(parsePortList(' 80, 443 ,8080'), { ok: true, value: [80, 443, 8080] });
  assert.deepEqual(parsePortList(''), { ok: true, value: [] });
  for (const bad of ['0', '65536', '70000', '-1', '80a', '1.5', 'http']) {
    assert.equal(parsePortList(bad).ok, false, bad);
  }
  assert.deepEqual(parsePortSelection('*'), { ok: true, value: '*' });
});

test('CIDRs: IPv4 and IPv6, bare addresses become host routes, bad prefixes refused', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { ok: true, value: '10.0.0.0/8' });
  assert.deepEqual(parseCidr('192.0.2.7'), { ok: true, value: '192.0.2.7/32' });
  assert.deepEqual(parseCidr('2001:DB8:0:0::1'), { ok: true, value: '2001:db8::1/128' });
  assert.deepEqual(parseCidr('fd00::/8'), { ok: true, value: 'fd00::/8' });
  for (const bad of [
    '10.0.0.0/33',
    '10.0.0/8',
    '1',
    '300.1.1.1/8',
    'fd00::/129',
    '10.0.0.0/8/8',
    '10.0.0.0/x',
    '',
  ]) {
    assert.equal(parseCidr(bad).ok, false, bad);
  }
  assert.deepEqual(parseCidrSelection('*'), { ok: true, value: '*' });
});

test('CIDRs: a zone id is refused, since ip6tables cannot match one (issue #11 row 7)', () => {
  for (const zoned of ['fe80::1%eth0/64', 'fe80::1%eth0', 'fe80::%1/10']) {
    const parsed = parseCidr(zoned);
    assert.equal(parsed.ok, false, zoned);
    assert.match(parsed.ok ? '' : parsed.expected, /zone id/);
  }
});

test('CIDRs carry their family for the init program, in canonical text', () => {
  assert.deepEqual(parseCidrRange('2001:DB8::0:1/64'), {
    ok: true,
    value: { family: 'ipv6', text: '2001:db8::1/64' },
  });
  assert.deepEqual(parseCidrRange('192.0.2.0/24'), {
    ok: true,
    value: { family: 'ipv4', text: '192.0.2.0/24' },
  });
});

test('interface names follow Linux: 1-15 characters, no leading -, + only as the last', () => {
  for (const good of ['eth0', 'veth+', 'br-lan', 'a', 'wlp0s20f3.100', 'x'.repeat(15)])
    assert.deepEqual(parseInterfaceName(good), { ok: true, value: good }, good);
  for (const bad of [
    '',
    '--dry-run',
    '-eth0',
    '.',
    '..',
    'eth 0',
    'eth0:1',
    'a/b',
    'e+th',
    'x'.repeat(16),
  ])
    assert.equal(parseInterfaceName(bad).ok, false, bad);
});

test('quantities compare by value: 1Gi > 256Mi, 250m < 1', () => {
  const value = (q: string) => {
    const parsed = parseQuantity(q);
    assert.ok(parsed.ok, q);
    return parsed.value;
  };
  assert.ok(value('1Gi') > value('256Mi'));
  assert.ok(value('250m') < value('1'));
  assert.equal(value('1e3'), 1000);
  assert.equal(value('1.5k'), 1500);
  for (const bad of ['lots', '1GB', '-1', '1 Gi', ''])
    assert.equal(parseQuantity(bad).ok, false, bad);
});

test('header pairs: one per line or comma-separated; framing headers refused', () => {
  assert.deepEqual(parseHeaderPairs('X-A: 1\nX-B: two words'), {
    ok: true,
    value: [
      ['X-A', '1'],
      ['X-B', 'two words'],
    ],
  });
  assert.deepEqual(parseHeaderPairs('Server: outrigger, X-C: 3'), {
    ok: true,
    value: [
      ['Server', 'outrigger'],
      ['X-C', '3'],
    ],
  });
  // A comma starts a new pair only before `name:`, so values may hold commas.
  assert.deepEqual(parseHeaderPairs('Accept: a, b, X-D: 4'), {
    ok: true,
    value: [
      ['Accept', 'a, b'],
      ['X-D', '4'],
    ],
  });
  for (const bad of ['no-colon', 'Bad Name: 1', 'Transfer-Encoding: chunked', 'Host: x']) {
    assert.equal(parseHeaderPairs(bad).ok, false, bad);
  }
});

test('the version in status annotations is package.json’s', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  assert.equal(VERSION, pkg.version);
});

test('lists: commas or newlines, blanks dropped, the bad item named', () => {
  assert.deepEqual(splitList(' a, b,,\nc ,'), ['a', 'b', 'c']);
  assert.deepEqual(parsePortList('80,,90'), { ok: true, value: [80, 90] });
  assert.deepEqual(parsePortList('80,http'), {
    ok: false,
    expected: '"http" is not a port: a comma-separated list of ports 1-65535',
  });
  assert.deepEqual(parsePortSelection('80,http'), {
    ok: false,
    expected: 'expected "*" or a comma-separated list of ports 1-65535',
  });
});

test('listening ports may be 0 (any free port); destinations may not', () => {
  assert.deepEqual(parseListeningPort('0'), { ok: true, value: 0 });
  assert.deepEqual(parseListeningPort('15001'), { ok: true, value: 15001 });
  for (const bad of ['65536', '-1', '', ' 80', '123456']) {
    assert.equal(parseListeningPort(bad).ok, false, bad);
  }
  assert.deepEqual(parseHostPort('[2001:db8::1]:80'), {
    ok: true,
    value: { host: '2001:db8::1', port: 80 },
  });
  assert.deepEqual(parseHostPort('192.0.2.1:8080'), {
    ok: true,
    value: { host: '192.0.2.1', port: 8080 },
  });
  for (const bad of ['192.0.2.1', '192.0.2.1:0', ':80', 'host:99999']) {
    assert.equal(parseHostPort(bad).ok, false, bad);
  }
});

test('whole numbers, numeric ids and choices', () => {
  const kib = wholeNumber(1, 1024, 'KiB');
  assert.deepEqual(kib('64'), { ok: true, value: 64 });
  assert.deepEqual(kib('0'), {
    ok: false,
    expected: 'expected a whole number of KiB from 1 to 1024',
  });
  for (const bad of ['1025', '1e3', '+5', ' 5', '5.0', '']) assert.equal(kib(bad).ok, false, bad);
  assert.deepEqual(parseNumericId('0'), { ok: true, value: 0 });
  assert.deepEqual(parseNumericId('4294967294'), { ok: true, value: 4294967294 });
  assert.equal(parseNumericId('4294967295').ok, false);
  const level = oneOf(['debug', 'info'] as const);
  assert.deepEqual(level('info'), { ok: true, value: 'info' });
  assert.deepEqual(level('INFO'), { ok: false, expected: 'expected one of debug, info' });
});

test('CIDR selections sort into families, and a zone id is refused in every form', () => {
  assert.deepEqual(parseCidrRangeSelection(' * '), { ok: true, value: '*' });
  assert.deepEqual(parseCidrRangeSelection('10.0.0.0/8, 2001:db8::/32'), {
    ok: true,
    value: [
      { family: 'ipv4', text: '10.0.0.0/8' },
      { family: 'ipv6', text: '2001:db8::/32' },
    ],
  });
  for (const parse of [parseCidr, parseCidrSelection, parseCidrRangeSelection]) {
    const parsed = parse('fe80::1%eth0/64');
    assert.equal(parsed.ok, false);
    assert.match(parsed.ok ? '' : parsed.expected, /zone id/);
  }
});
