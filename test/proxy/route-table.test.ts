// The L7 path's pure parts: route matching (the run-of-exact-headers lookup
// must give exactly the first match of a plain scan), weighted picks, the
// token bucket, and head rebuilding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MessageHead, parseHead } from '../../proxy/src/http/message-head.ts';
import { EMPTY_POLICY, PolicyState } from '../../proxy/src/policy/policy-state.ts';
import { TokenBucket } from '../../proxy/src/policy/token-bucket.ts';
import { BackendPicker } from '../../proxy/src/routing/backends.ts';
import { composeHead, FieldNames, HeadFields } from '../../proxy/src/routing/head-fields.ts';
import { RequestView, RouteTable, RouteTables } from '../../proxy/src/routing/route-table.ts';
import type { PolicyListener, PolicyRoute } from '../../src/shared/policy/schema.ts';

function table(routes: PolicyRoute[]): RouteTable {
  return new RouteTable({
    port: 80,
    direction: 'inbound',
    protocol: 'http',
    routes,
  } as PolicyListener);
}

function matchName(t: RouteTable, text: string): string | undefined {
  const raw = Buffer.from(text, 'latin1');
  const head = new MessageHead();
  assert.ok(parseHead(raw, 0, raw.length, true, head) > 0, 'a valid head');
  t.requestFields.scan(raw);
  const view = new RequestView();
  view.reset(head, t.requestFields);
  return t.match(view)?.name;
}

/** What first-match-wins means, written the slow way. */
function naiveMatch(routes: PolicyRoute[], request: Req): string | undefined {
  for (const route of routes) {
    const m = route.match;
    if (m.method !== undefined && m.method !== request.method) continue;
    if (m.path !== undefined && 'prefix' in m.path && !request.path.startsWith(m.path.prefix))
      continue;
    if (m.path !== undefined && 'exact' in m.path && request.path !== m.path.exact) continue;
    const ok = (m.headers ?? []).every((h) => {
      const value = request.headers[h.name.toLowerCase()];
      if ('exact' in h) return value === h.exact;
      if ('prefix' in h) return value?.startsWith(h.prefix) === true;
      return (value !== undefined) === h.present;
    });
    if (ok) return route.name;
  }
  return undefined;
}

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
}

const headerName = fc.constantFrom('x-tenant', 'x-version', 'version');
const headerValue = fc.constantFrom('a', 'b', 'c', 'ab');
const routeArb = fc.record({
  method: fc.option(fc.constantFrom('GET', 'POST'), { nil: undefined }),
  path: fc.option(fc.constantFrom('/a', '/b', '/'), { nil: undefined }),
  headers: fc.array(
    fc.oneof(
      fc.record({ name: headerName, exact: headerValue }),
      fc.record({ name: headerName, prefix: headerValue }),
      fc.record({ name: headerName, present: fc.boolean() }),
    ),
    { maxLength: 2 },
  ),
});
const requestArb = fc.record({
  method: fc.constantFrom('GET', 'POST'),
  path: fc.constantFrom('/a', '/a/x', '/b', '/c'),
  headers: fc.dictionary(headerName, headerValue, { maxKeys: 3 }),
});

test('the compiled table gives the first matching route, as a plain scan would', () => {
  fc.assert(
    fc.property(
      fc.array(routeArb, { maxLength: 12 }),
      fc.array(requestArb, { minLength: 1, maxLength: 8 }),
      (specs, reqs) => {
        const routes = specs.map((s, i) => ({
          name: `r${i}`,
          match: {
            ...(s.method ? { method: s.method } : {}),
            ...(s.path ? { path: { prefix: s.path } } : {}),
            headers: s.headers,
          },
        })) as PolicyRoute[];
        const compiled = table(routes);
        for (const r of reqs) {
          const text = `${r.method} ${r.path} HTTP/1.1\r\nHost: app\r\n${Object.entries(r.headers)
            .map(([k, v]) => `${k}: ${v}\r\n`)
            .join('')}\r\n`;
          assert.equal(matchName(compiled, text), naiveMatch(routes, r), text);
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('a 50-route header table is one lookup and still takes the last route', () => {
  const routes = Array.from({ length: 50 }, (_, i) => ({
    name: `tenant-${i + 1}`,
    match: { headers: [{ name: 'x-tenant', exact: `t${i + 1}` }] },
  })) as PolicyRoute[];
  const t = table(routes);
  assert.equal(matchName(t, 'GET / HTTP/1.1\r\nHost: a\r\nX-Tenant: t50\r\n\r\n'), 'tenant-50');
  assert.equal(matchName(t, 'GET / HTTP/1.1\r\nHost: a\r\nx-tenant: t1\r\n\r\n'), 'tenant-1');
  assert.equal(matchName(t, 'GET / HTTP/1.1\r\nHost: a\r\nx-tenant: t51\r\n\r\n'), undefined);
});

test('authority matches ignore case and the default port; exact paths ignore the query', () => {
  const t = table([
    { name: 'host', match: { authority: { exact: 'Shop.Example' } } },
    { name: 'path', match: { path: { exact: '/cart' } } },
  ] as PolicyRoute[]);
  assert.equal(matchName(t, 'GET / HTTP/1.1\r\nHost: shop.example:80\r\n\r\n'), 'host');
  assert.equal(matchName(t, 'GET /cart?id=1 HTTP/1.1\r\nHost: other\r\n\r\n'), 'path');
  assert.equal(matchName(t, 'GET /cart/x HTTP/1.1\r\nHost: other\r\n\r\n'), undefined);
});

test('weights are split by smooth round-robin: exact shares, interleaved', () => {
  const picker = new BackendPicker([
    { address: 'a:1', weight: 3 },
    { address: 'b:1', weight: 1 },
    { address: 'c:1', weight: 0 },
  ]);
  const picks = Array.from({ length: 400 }, () => picker.pick()?.address);
  assert.equal(picks.filter((p) => p === 'a:1').length, 300);
  assert.equal(picks.filter((p) => p === 'b:1').length, 100);
  assert.deepEqual(picks.slice(0, 4).sort(), ['a:1', 'a:1', 'a:1', 'b:1']);
  const even = new BackendPicker([{ address: 'v1:80', weight: 5 }, { weight: 5 }]);
  assert.deepEqual(
    Array.from({ length: 4 }, () => even.pick()?.address),
    ['v1:80', undefined, 'v1:80', undefined],
  );
});

test('the token bucket tells a 429 how long until its next token', () => {
  let now = 0;
  const bucket = new TokenBucket({ maxTokens: 2, tokensPerFill: 1, fillInterval: '1s' }, () => now);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [true, true, false]);
  now = 400;
  assert.equal(bucket.msUntilNextToken(), 600);
  now = 1000;
  assert.equal(bucket.msUntilNextToken(), 0);
  assert.deepEqual([bucket.take(), bucket.take()], [true, false]);
});

test('composeHead drops lines, appends to a value and adds lines before the empty line', () => {
  const names = new FieldNames(['connection', 'x-forwarded-for', 'x-drop']);
  const fields = new HeadFields(names);
  const raw = Buffer.from(
    'GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nX-Forwarded-For: 1.2.3.4  \r\nX-Drop: 1\r\nAccept: */*\r\nx-drop: 2\r\n\r\n',
    'latin1',
  );
  fields.scan(raw);
  const drop = new Uint8Array(3);
  drop[names.indexOfName('connection')] = 1;
  drop[names.indexOfName('x-drop')] = 1;
  const out = composeHead(raw, fields, {
    drop,
    appendAt: fields.lastValueEnd(names.indexOfName('x-forwarded-for')),
    appendBytes: Buffer.from(', 192.0.2.1'),
    added: [Buffer.from('x-new: yes\r\n')],
    addedCount: 1,
  });
  assert.equal(
    out.toString('latin1'),
    'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.2.3.4, 192.0.2.1  \r\nAccept: */*\r\nx-new: yes\r\n\r\n',
  );
});

test('a reload keeps a route bucket whose name and limits are unchanged, and starts others full', () => {
  const listener = (limit: string, name = 'limited') =>
    ({
      port: 80,
      direction: 'inbound',
      protocol: 'http',
      routes: [
        { name, match: {}, rateLimit: { maxTokens: 1, tokensPerFill: 1, fillInterval: limit } },
      ],
    }) as PolicyListener;
  const state = new PolicyState();
  const tables = new RouteTables(state);
  const policy = (l: PolicyListener) => ({ ...EMPTY_POLICY, listeners: [l] });
  state.replace(policy(listener('1m')));
  const first = tables.lookup('inbound', 80)!.routes[0]!.bucket!;
  assert.equal(first.take(), true);
  state.replace(policy(listener('60s')));
  assert.equal(
    tables.lookup('inbound', 80)!.routes[0]!.bucket,
    first,
    'same limits: kept, still empty',
  );
  assert.equal(first.take(), false);
  state.replace(policy(listener('2m')));
  assert.equal(tables.lookup('inbound', 80)!.routes[0]!.bucket!.take(), true, 'changed: full');
  state.replace(policy(listener('2m', 'renamed')));
  assert.equal(tables.lookup('inbound', 80)!.routes[0]!.bucket!.take(), true, 'renamed: full');
  assert.equal(tables.lookup('inbound', 81), undefined, 'an undeclared port stays L4');
});

test('fields recorded by parseHead as it goes are those scan() finds in the head afterwards', () => {
  const names = new FieldNames(['connection', 'x-tenant', 'x-forwarded-for', 'te']);
  const name = fc.constantFrom(
    'Connection',
    'x-TENANT',
    'X-Forwarded-For',
    'TE',
    'Host',
    'tE',
    'x-other',
  );
  const ows = fc.constantFrom('', ' ', '\t', '  ');
  const value = fc.stringMatching(/^[a-z0-9,. ]{0,12}$/);
  const line = fc.tuple(name, ows, value, ows, fc.constantFrom('\r\n', '\n'));
  // Reused from head to head, as the route table's are (values are kept between them).
  const recorded = new HeadFields(names);
  const scanned = new HeadFields(names);
  fc.assert(
    fc.property(fc.array(line, { maxLength: 12 }), fc.nat(40), (lines, offset) => {
      const text = `GET / HTTP/1.1\r\n${lines.map(([n, a, v, b, eol]) => `${n}:${a}${v}${b}${eol}`).join('')}\r\n`;
      // The head sits inside a larger read, as it does on the wire.
      const chunk = Buffer.concat([Buffer.alloc(offset, 0x41), Buffer.from(text, 'latin1')]);
      const head = new MessageHead();
      head.fields = recorded;
      const end = parseHead(chunk, offset, chunk.length, true, head);
      assert.equal(end, chunk.length);
      assert.equal(recorded.recordedFor, head);
      scanned.scan(chunk.subarray(offset, end));
      assert.deepEqual(
        [...recorded.lines.subarray(0, recorded.length)],
        [...scanned.lines.subarray(0, scanned.length)],
      );
      assert.equal(recorded.emptyLineAt, scanned.emptyLineAt);
      for (let i = 0; i < names.names.length; i++) {
        const first = lines.find(([n]) => n.toLowerCase() === names.names[i]);
        const expected =
          first && `${first[1]}${first[2]}${first[3]}`.replace(/^[ \t]+|[ \t]+$/g, '');
        assert.equal(recorded.value(i), expected);
        assert.equal(recorded.value(i), scanned.value(i));
        assert.equal(recorded.value(i), scanned.value(i), 'the second read, from the kept string');
        assert.equal(recorded.lastValueEnd(i), scanned.lastValueEnd(i));
      }
    }),
    { numRuns: 300 },
  );
});

test('parseHead reads Connection options: close, upgrade, and any other option named', () => {
  const options = (...values: string[]) => {
    const raw = Buffer.from(
      `GET / HTTP/1.1\r\nHost: a\r\n${values.map((v) => `Connection: ${v}\r\n`).join('')}\r\n`,
      'latin1',
    );
    const head = new MessageHead();
    assert.ok(parseHead(raw, 0, raw.length, true, head) > 0);
    return [head.connectionClose, head.connectionUpgrade, head.connectionOptions];
  };
  assert.deepEqual(options('keep-alive'), [false, false, false]);
  assert.deepEqual(options('Close'), [true, false, false]);
  assert.deepEqual(options(' , Upgrade ,'), [false, true, false]);
  assert.deepEqual(options('close, X-Private'), [true, false, true]);
  assert.deepEqual(options('keep-alive', 'x-a'), [false, false, true]);
  assert.deepEqual(options('closed'), [false, false, true], 'a token, not a prefix');
});
