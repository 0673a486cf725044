// The traffic policy document (docs/policy.md): one schema from which the
// TypeScript types and the validator both come. The proxy loads it from the
// ConfigMap the injector mounts (sidecar.outrigger.dev/policy); `outrigger
// policy validate` checks it offline with the same code (parse.ts).
//
// Shared by the injector and the proxy: it imports nothing from either.
import { type Static, Type } from '@sinclair/typebox';
import { DURATION_PATTERN, durationMs, UPSTREAM_ADDRESS_PATTERN } from './grammar.ts';
import { POLICY_API_VERSION, POLICY_KIND } from './names.ts';

export { DURATION_PATTERN, durationMs, POLICY_API_VERSION, POLICY_KIND, UPSTREAM_ADDRESS_PATTERN };

const Port = Type.Integer({ minimum: 1, maximum: 65535 });

const Duration = Type.String({ pattern: DURATION_PATTERN.source });

/** An HTTP header name (RFC 9110 token). */
export const HEADER_NAME_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HeaderName = Type.String({ pattern: HEADER_NAME_PATTERN.source });
/** A header value: visible characters, spaces and tabs, no CR or LF. */
const HeaderValue = Type.String({ pattern: '^[\\t\\x20-\\x7e\\x80-\\xff]*$' });

/** A DNS name, or `*.` and a DNS name for every name below it. */
export const HOST_PATTERN =
  /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const strict = { additionalProperties: false } as const;

/**
 * A token bucket: starts full with maxTokens, gains tokensPerFill every
 * fillInterval up to maxTokens; each connection (or request) takes one.
 * Envoy's local_ratelimit token_bucket.
 */
const TokenBucket = Type.Object(
  {
    maxTokens: Type.Integer({ minimum: 1 }),
    tokensPerFill: Type.Integer({ minimum: 1, default: 1 }),
    fillInterval: Duration,
  },
  strict,
);

/** A string match; exactly one of the keys. */
const StringMatch = Type.Union([
  Type.Object({ exact: Type.String() }, strict),
  Type.Object({ prefix: Type.String() }, strict),
]);

/** A header match: the name and exactly one of exact, prefix or present. */
const HeaderMatch = Type.Union([
  Type.Object({ name: HeaderName, exact: HeaderValue }, strict),
  Type.Object({ name: HeaderName, prefix: HeaderValue }, strict),
  Type.Object({ name: HeaderName, present: Type.Boolean() }, strict),
]);

/** Every given condition must hold; an empty match takes every request. */
const RouteMatch = Type.Object(
  {
    /** The request's Host (or :authority), without a default port; case-insensitive. */
    authority: Type.Optional(StringMatch),
    path: Type.Optional(StringMatch),
    method: Type.Optional(Type.String({ pattern: HEADER_NAME_PATTERN.source })),
    headers: Type.Optional(Type.Array(HeaderMatch)),
  },
  strict,
);

/**
 * Where a route sends a request: a named upstream (`host:port`, DNS names
 * resolved and cached), or, without `address`, the connection's original
 * destination. Weights are relative (5 and 5 send half to each).
 */
const Backend = Type.Object(
  {
    address: Type.Optional(Type.String({ pattern: UPSTREAM_ADDRESS_PATTERN.source })),
    weight: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 1 }),
  },
  strict,
);

const HeaderPair = Type.Object({ name: HeaderName, value: HeaderValue }, strict);

/** add appends a header line; set replaces every line of that name; remove drops them. */
const HeaderRewrite = Type.Object(
  {
    add: Type.Optional(Type.Array(HeaderPair)),
    set: Type.Optional(Type.Array(HeaderPair)),
    remove: Type.Optional(Type.Array(HeaderName)),
  },
  strict,
);

const Percentage = Type.Number({ minimum: 0, maximum: 100 });

/** Istio's HTTPFaultInjection: a delay and/or an abort, each for a share of requests. */
const Fault = Type.Object(
  {
    delay: Type.Optional(Type.Object({ fixedDelay: Duration, percentage: Percentage }, strict)),
    abort: Type.Optional(
      Type.Object(
        { httpStatus: Type.Integer({ minimum: 200, maximum: 599 }), percentage: Percentage },
        strict,
      ),
    ),
  },
  strict,
);

const Route = Type.Object(
  {
    /** Shown in the access log and metrics (`route` label); unique within a listener. */
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' }),
    match: Type.Object(RouteMatch.properties, { ...strict, default: {} }),
    /** Omitted: the original destination. */
    to: Type.Optional(Type.Array(Backend, { minItems: 1 })),
    requestHeaders: Type.Optional(HeaderRewrite),
    responseHeaders: Type.Optional(HeaderRewrite),
    /** Over the limit: `429` with `x-local-rate-limit: true` and `retry-after`. */
    rateLimit: Type.Optional(TokenBucket),
    fault: Type.Optional(Fault),
  },
  strict,
);

/**
 * One captured port in one direction. `protocol: http` is a declaration, never
 * guessed: only then are requests routed one by one (the first matching route
 * wins; no match is `404` with flag `NR`). Other ports keep the L4 splice.
 */
const Listener = Type.Object(
  {
    port: Port,
    direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound')]),
    protocol: Type.Union([Type.Literal('tcp'), Type.Literal('http')], { default: 'tcp' }),
    /** Connections over the limit are refused by reset. */
    connectionRateLimit: Type.Optional(TokenBucket),
    routes: Type.Optional(Type.Array(Route)),
  },
  strict,
);

/**
 * A destination the Block All mode lets through: every given condition must
 * hold. `host` is the HTTP Host or the TLS SNI of the connection's first bytes.
 */
const AllowEntry = Type.Object(
  {
    cidr: Type.Optional(Type.String({ minLength: 1 })),
    host: Type.Optional(Type.String({ pattern: HOST_PATTERN.source })),
    ports: Type.Optional(Type.Array(Port, { minItems: 1 })),
  },
  strict,
);

export const PolicySchema = Type.Object(
  {
    apiVersion: Type.Literal(POLICY_API_VERSION),
    kind: Type.Literal(POLICY_KIND),
    /**
     * `allowAny` passes every captured outbound connection to its original
     * destination (Istio's ALLOW_ANY); `blockAll` resets those no `allow`
     * entry matches (REGISTRY_ONLY, Envoy's BlackHoleCluster).
     */
    outbound: Type.Object(
      {
        mode: Type.Union([Type.Literal('allowAny'), Type.Literal('blockAll')], {
          default: 'allowAny',
        }),
        allow: Type.Array(AllowEntry, { default: [] }),
      },
      { ...strict, default: {} },
    ),
    listeners: Type.Array(Listener, { default: [] }),
  },
  strict,
);

export type Policy = Static<typeof PolicySchema>;
export type PolicyListener = Policy['listeners'][number];
export type PolicyRoute = NonNullable<PolicyListener['routes']>[number];
export type PolicyAllowEntry = Policy['outbound']['allow'][number];
export type TokenBucketSpec = Static<typeof TokenBucket>;
