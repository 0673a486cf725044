// Where a route sends a request: its backends, picked by weight, and the DNS
// names among them resolved through a small cache.
//
// Weights are split by smooth weighted round-robin (nginx's upstream
// algorithm): each pick adds every backend's weight to its running score,
// takes the highest, and lowers it by the total. Weights 5 and 5 alternate;
// 3 and 1 give a a b a a a b a… Over any run of picks each backend's share is
// within one request of its weight's share, so a 5/5 split of 2,000 requests
// is 1,000 each, where Envoy's random pick would be off by about 22.
import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { UPSTREAM_ADDRESS_PATTERN } from '../../../src/shared/policy/grammar.ts';
import type { PolicyRoute } from '../../../src/shared/policy/schema.ts';

/** A named upstream; `undefined` in its place means the connection's original destination. */
export interface NamedBackend {
  /** DNS name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
  /** `host:port` as written: the pool's key and the record's upstream name. */
  address: string;
}

export class BackendPicker {
  private readonly backends: (NamedBackend | undefined)[];
  private readonly weights: number[];
  private readonly scores: number[];
  private readonly total: number;

  constructor(to: NonNullable<PolicyRoute['to']>) {
    const live = to.filter((b) => b.weight > 0);
    this.backends = live.map((b) =>
      b.address === undefined ? undefined : namedBackend(b.address),
    );
    this.weights = live.map((b) => b.weight);
    this.scores = live.map(() => 0);
    this.total = this.weights.reduce((a, b) => a + b, 0);
  }

  /** The next backend; undefined for the original destination. */
  pick(): NamedBackend | undefined {
    const n = this.backends.length;
    if (n === 1) return this.backends[0];
    let best = 0;
    for (let i = 0; i < n; i++) {
      this.scores[i]! += this.weights[i]!;
      if (this.scores[i]! > this.scores[best]!) best = i;
    }
    this.scores[best]! -= this.total;
    return this.backends[best];
  }
}

export function namedBackend(address: string): NamedBackend {
  const m = UPSTREAM_ADDRESS_PATTERN.exec(address);
  if (!m) throw new RangeError(`not host:port: ${address}`);
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!.replace(/\.$/, '');
  return { host, port: Number(m[5]), address };
}

/** How long a resolved name is used before it is looked up again. */
export const DNS_TTL_MS = 5_000;
/** Most names kept; the oldest entry goes first. */
export const DNS_MAX_NAMES = 1_000;

interface CachedName {
  addresses: dns.LookupAddress[];
  expiresAt: number;
}

/**
 * A `lookup` for net.connect that answers from a cache of getaddrinfo results
 * (dns.lookup, so /etc/hosts and the pod's resolv.conf search list apply as
 * they do for the app). getaddrinfo gives no TTL, so each name is kept for
 * DNS_TTL_MS; failures are not cached. The pool connects per new upstream
 * connection, not per request, so a lookup is rare already; the cache keeps a
 * burst of new connections from becoming a burst of queries.
 */
export class DnsCache {
  private readonly names = new Map<string, CachedName>();
  private readonly ttlMs: number;
  private readonly maxNames: number;

  constructor(ttlMs = DNS_TTL_MS, maxNames = DNS_MAX_NAMES) {
    this.ttlMs = ttlMs;
    this.maxNames = maxNames;
  }

  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const all = (options as dns.LookupOptions).all === true;
    const reply = (addresses: dns.LookupAddress[]) => {
      if (all) (callback as (e: null, a: dns.LookupAddress[]) => void)(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    const cached = this.names.get(hostname);
    if (cached !== undefined && cached.expiresAt > performance.now()) {
      process.nextTick(reply, cached.addresses);
      return;
    }
    dns.lookup(hostname, { all: true }, (err, addresses) => {
      if (err || addresses.length === 0) {
        callback(
          err ?? Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }),
          '',
          4,
        );
        return;
      }
      this.names.delete(hostname);
      if (this.names.size >= this.maxNames) this.names.delete(this.names.keys().next().value!);
      this.names.set(hostname, { addresses, expiresAt: performance.now() + this.ttlMs });
      reply(addresses);
    });
  };

  get size(): number {
    return this.names.size;
  }
}
