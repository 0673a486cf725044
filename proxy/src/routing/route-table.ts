// A listener's routes compiled into a table the data path can match a request
// head against without allocating, and the tables of the policy in force,
// compiled once per PolicyState generation.
//
// Matching is first-match-wins over the routes in order (Envoy's and Istio's
// rule). A run of consecutive routes that all require an exact value of the
// same header (the usual header-routing table: `x-tenant: a`, `x-tenant: b`…)
// is compiled into one map from that value to the run's routes with it, in
// order: a request can only match a route of the run whose value it carries,
// so looking the value up and testing those routes alone gives the same
// answer as testing the whole run, and a 50-route table costs one map lookup.
import type { Policy, PolicyListener, PolicyRoute } from '../../../src/shared/policy/schema.ts';
import type { MessageHead } from '../http/message-head.ts';
import type { PolicyState } from '../policy/policy-state.ts';
import { TokenBucket } from '../policy/token-bucket.ts';
import type { Direction } from '../stats/request-record.ts';
import { BackendPicker } from './backends.ts';
import { type CompiledFault, compileFault } from './faults.ts';
import { FieldNames, HeadFields } from './head-fields.ts';

/** The route name of a request no route applies to (Envoy's %ROUTE_NAME% for none). */
export const NO_ROUTE_NAME = '-';

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1) the L7 path removes from every
 * request and response it forwards, because each hop's connection is its
 * own: keep-alive is between the client and the proxy, and between the proxy
 * and each upstream. Upgrade and Connection stay on an upgrade request (and
 * its 101), which hands the connection over whole. Transfer-Encoding stays:
 * bodies are forwarded with the framing they came with.
 */
export const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'upgrade'];

/** Request fields the L7 path reads for itself, beyond what the routes name. */
const REQUEST_FIELDS = [...HOP_BY_HOP, 'expect', 'x-forwarded-for', 'x-client-hostname'];

/** A header rewrite compiled against a table's field names. */
export interface CompiledRewrite {
  /** Indices of the names whose lines are removed (`remove` and `set`). */
  readonly drop: readonly number[];
  /** `set` then `add` lines, each `name: value\r\n`. */
  readonly added: readonly Buffer[];
}

const NO_REWRITE: CompiledRewrite = Object.freeze({ drop: [], added: [] });

export interface CompiledRoute {
  readonly name: string;
  /** Undefined: the connection's original destination. */
  readonly backends: BackendPicker | undefined;
  readonly request: CompiledRewrite;
  readonly response: CompiledRewrite;
  readonly bucket: TokenBucket | undefined;
  readonly fault: CompiledFault | undefined;
}

/** The routes' view of one request head: its parsed head and its recorded fields. */
export class RequestView {
  head!: MessageHead;
  fields!: HeadFields;
  private authority: string | undefined;
  private path: string | undefined;

  reset(head: MessageHead, fields: HeadFields): void {
    this.head = head;
    this.fields = fields;
    this.authority = undefined;
    this.path = undefined;
  }

  /** Host lower-cased, without a trailing dot or the default port 80. */
  normalizedAuthority(): string {
    if (this.authority === undefined) {
      let a = this.head.authority.toLowerCase();
      if (a.endsWith(':80')) a = a.slice(0, -3);
      if (a.endsWith('.')) a = a.slice(0, -1);
      this.authority = a;
    }
    return this.authority;
  }

  /** The target without its query (an exact path match ignores the query, as Envoy's). */
  pathOnly(): string {
    if (this.path === undefined) {
      const target = this.head.target;
      const q = target.indexOf('?');
      this.path = q < 0 ? target : target.slice(0, q);
    }
    return this.path;
  }
}

type Test = (request: RequestView) => boolean;

interface Entry {
  readonly route: CompiledRoute;
  readonly test: Test;
}

type Block =
  | { readonly kind: 'one'; readonly entry: Entry }
  | {
      readonly kind: 'byHeader';
      readonly nameIndex: number;
      readonly byValue: ReadonlyMap<string, readonly Entry[]>;
    };

/** Where the hop-by-hop names are in a table's field names. */
export interface HopByHopIndices {
  readonly connection: number;
  readonly upgrade: number;
  readonly keepAlive: number;
  readonly proxyConnection: number;
  readonly te: number;
}

function hopByHopIndices(names: FieldNames): HopByHopIndices {
  return {
    connection: names.indexOfName('connection'),
    upgrade: names.indexOfName('upgrade'),
    keepAlive: names.indexOfName('keep-alive'),
    proxyConnection: names.indexOfName('proxy-connection'),
    te: names.indexOfName('te'),
  };
}

export class RouteTable {
  readonly hasRoutes: boolean;
  readonly requestHop: HopByHopIndices;
  readonly responseHop: HopByHopIndices;
  readonly expectIndex: number;
  readonly forwardedForIndex: number;
  readonly clientHostnameIndex: number;
  /** Names recorded in request heads, and the reused recorder (matching is synchronous). */
  readonly requestFields: HeadFields;
  readonly responseFields: HeadFields;
  readonly requestNames: FieldNames;
  readonly responseNames: FieldNames;
  /** Routes by name, for tests and the admin. */
  readonly routes: readonly CompiledRoute[];
  private readonly blocks: readonly Block[];

  /**
   * `previous`: the table this one replaces, whose routes' token buckets are
   * kept (with the tokens they have left) where the route's name and limits
   * are unchanged, as the connection buckets are across a reload.
   */
  constructor(listener: PolicyListener, previous?: RouteTable) {
    const specs = listener.routes ?? [];
    this.hasRoutes = specs.length > 0;
    const requestNames = new Set(REQUEST_FIELDS);
    const responseNames = new Set(HOP_BY_HOP);
    for (const spec of specs) {
      for (const h of spec.match.headers ?? []) requestNames.add(h.name.toLowerCase());
      for (const n of rewriteNames(spec.requestHeaders)) requestNames.add(n);
      for (const n of rewriteNames(spec.responseHeaders)) responseNames.add(n);
    }
    this.requestNames = new FieldNames(requestNames);
    this.responseNames = new FieldNames(responseNames);
    this.requestFields = new HeadFields(this.requestNames);
    this.responseFields = new HeadFields(this.responseNames);
    this.requestHop = hopByHopIndices(this.requestNames);
    this.responseHop = hopByHopIndices(this.responseNames);
    this.expectIndex = this.requestNames.indexOfName('expect');
    this.forwardedForIndex = this.requestNames.indexOfName('x-forwarded-for');
    this.clientHostnameIndex = this.requestNames.indexOfName('x-client-hostname');
    const kept = new Map(previous?.routes.map((r) => [r.name, r.bucket]));
    const entries = specs.map((spec) => ({
      route: this.compileRoute(spec, kept.get(spec.name)),
      test: this.compileTest(spec),
      exactHeaders: exactHeaders(spec, this.requestNames),
    }));
    this.routes = entries.map((e) => e.route);
    this.blocks = groupRuns(entries);
  }

  /** The first route the request matches, or undefined. */
  match(request: RequestView): CompiledRoute | undefined {
    const fields = request.fields;
    for (const block of this.blocks) {
      if (block.kind === 'one') {
        if (block.entry.test(request)) return block.entry.route;
        continue;
      }
      const value = fields.value(block.nameIndex);
      if (value === undefined) continue;
      const candidates = block.byValue.get(value);
      if (candidates === undefined) continue;
      for (const entry of candidates) if (entry.test(request)) return entry.route;
    }
    return undefined;
  }

  private compileRoute(spec: PolicyRoute, previousBucket: TokenBucket | undefined): CompiledRoute {
    const limit = spec.rateLimit;
    return {
      name: spec.name,
      backends: spec.to === undefined ? undefined : new BackendPicker(spec.to),
      request: compileRewrite(spec.requestHeaders, this.requestNames),
      response: compileRewrite(spec.responseHeaders, this.responseNames),
      bucket:
        limit === undefined
          ? undefined
          : previousBucket?.sameSpec(limit)
            ? previousBucket
            : new TokenBucket(limit),
      fault: compileFault(spec.fault),
    };
  }

  private compileTest(spec: PolicyRoute): Test {
    const tests: Test[] = [];
    const { method, authority, path, headers } = spec.match;
    if (method !== undefined) tests.push((r) => r.head.method === method);
    if (authority !== undefined) {
      if ('exact' in authority) {
        const want = authority.exact.toLowerCase();
        tests.push((r) => r.normalizedAuthority() === want);
      } else {
        const want = authority.prefix.toLowerCase();
        tests.push((r) => r.normalizedAuthority().startsWith(want));
      }
    }
    if (path !== undefined) {
      if ('exact' in path) {
        const want = path.exact;
        tests.push((r) => r.pathOnly() === want);
      } else {
        const want = path.prefix;
        tests.push((r) => r.head.target.startsWith(want));
      }
    }
    for (const h of headers ?? []) {
      const i = this.requestNames.indexOfName(h.name);
      if ('exact' in h) {
        const want = h.exact;
        tests.push((r) => r.fields.value(i) === want);
      } else if ('prefix' in h) {
        const want = h.prefix;
        tests.push((r) => r.fields.value(i)?.startsWith(want) === true);
      } else {
        const want = h.present;
        tests.push((r) => r.fields.has(i) === want);
      }
    }
    if (tests.length === 0) return () => true;
    if (tests.length === 1) return tests[0]!;
    return (r) => {
      for (const test of tests) if (!test(r)) return false;
      return true;
    };
  }
}

function rewriteNames(rewrite: PolicyRoute['requestHeaders']): string[] {
  if (rewrite === undefined) return [];
  return [...(rewrite.set ?? []).map((p) => p.name), ...(rewrite.remove ?? [])].map((n) =>
    n.toLowerCase(),
  );
}

function compileRewrite(
  rewrite: PolicyRoute['requestHeaders'],
  names: FieldNames,
): CompiledRewrite {
  if (rewrite === undefined) return NO_REWRITE;
  const line = (p: { name: string; value: string }) =>
    Buffer.from(`${p.name}: ${p.value}\r\n`, 'latin1');
  return {
    drop: rewriteNames(rewrite).map((n) => names.indexOfName(n)),
    added: [...(rewrite.set ?? []).map(line), ...(rewrite.add ?? []).map(line)],
  };
}

/** The route's exact header conditions: name index → value. */
function exactHeaders(spec: PolicyRoute, names: FieldNames): Map<number, string> {
  const out = new Map<number, string>();
  for (const h of spec.match.headers ?? []) {
    if ('exact' in h && !out.has(names.indexOfName(h.name)))
      out.set(names.indexOfName(h.name), h.exact);
  }
  return out;
}

/** Consecutive routes sharing an exact condition on one header become one lookup (see top). */
function groupRuns(entries: readonly (Entry & { exactHeaders: Map<number, string> })[]): Block[] {
  const blocks: Block[] = [];
  let i = 0;
  while (i < entries.length) {
    const first = entries[i]!;
    let best: { nameIndex: number; end: number } | undefined;
    for (const nameIndex of first.exactHeaders.keys()) {
      let end = i + 1;
      while (end < entries.length && entries[end]!.exactHeaders.has(nameIndex)) end++;
      if (best === undefined || end > best.end) best = { nameIndex, end };
    }
    if (best === undefined || best.end - i < 2) {
      blocks.push({ kind: 'one', entry: first });
      i++;
      continue;
    }
    const byValue = new Map<string, Entry[]>();
    for (let k = i; k < best.end; k++) {
      const entry = entries[k]!;
      const value = entry.exactHeaders.get(best.nameIndex)!;
      const list = byValue.get(value) ?? [];
      list.push(entry);
      byValue.set(value, list);
    }
    blocks.push({ kind: 'byHeader', nameIndex: best.nameIndex, byValue });
    i = best.end;
  }
  return blocks;
}

/**
 * For a connection whose port stopped being declared HTTP while it was open:
 * no routes, so every request goes to the original destination.
 */
export const ROUTELESS_TABLE = new RouteTable({
  port: 1,
  direction: 'inbound',
  protocol: 'http',
} as PolicyListener);

/**
 * The route tables of the policy in force, by direction and port, for the
 * listeners declared `protocol: http`. Recompiled when the PolicyState's
 * generation changes; a request holds the table it was matched against, so a
 * change never reaches a request in flight. A route's token bucket carries
 * over to the new table when the listener, the route's name and its limits
 * are unchanged; otherwise it starts full.
 */
export class RouteTables {
  private readonly state: PolicyState;
  private generation = -1;
  private tables: Record<Direction, Map<number, RouteTable>> = {
    inbound: new Map(),
    outbound: new Map(),
  };

  constructor(state: PolicyState) {
    this.state = state;
  }

  /** The table for an HTTP listener, or undefined when the port stays on the L4 splice. */
  lookup(direction: Direction, port: number): RouteTable | undefined {
    if (this.state.generation !== this.generation) this.compile(this.state.current);
    return this.tables[direction].get(port);
  }

  private compile(policy: Policy): void {
    const tables: Record<Direction, Map<number, RouteTable>> = {
      inbound: new Map(),
      outbound: new Map(),
    };
    for (const listener of policy.listeners) {
      if (listener.protocol !== 'http') continue;
      const previous = this.tables[listener.direction].get(listener.port);
      tables[listener.direction].set(listener.port, new RouteTable(listener, previous));
    }
    this.tables = tables;
    this.generation = this.state.generation;
  }
}
