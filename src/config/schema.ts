// The injection configuration: one schema from which both the TypeScript type
// and the validator come, so the two cannot drift. Every key has a default, so
// an empty file (or no file) is a complete configuration.
import { type Static, Type } from '@sinclair/typebox';
import {
  ACCESS_LOG_FORMATS,
  PORTS,
  PROXY_GID,
  PROXY_LOG_LEVELS,
  PROXY_UID,
} from '../shared/contract.ts';
import { VERSION } from '../version.ts';
import type { ValueFormat } from './value-patterns.ts';
import './value-patterns.ts';
import { QUANTITY } from '../shared/grammar/index.ts';

/** The image this release ships, as `npm run images` and the chart's appVersion name it. */
const defaultImage = (name: 'proxy' | 'init') => `ghcr.io/outrigger/${name}:${VERSION}`;

const Port = Type.Integer({ minimum: 1, maximum: 65535 });

/** A string in one of the grammars of values.ts, checked by its parser (value-patterns.ts). */
const Formatted = (format: ValueFormat, options: { default?: string; maxLength?: number } = {}) =>
  Type.String({ format, ...options });

/** A traffic policy ConfigMap's name, or "" for none (values.ts, parsePolicyName). */
const PolicyName = (options: { default?: string } = {}) =>
  Formatted('policy-name', { maxLength: 253, ...options });

/** A Kubernetes resource quantity such as `100m`, `64Mi`, `1.5`, `2G`. */
const Quantity = Type.String({ pattern: QUANTITY.source });

const ResourceList = Type.Object(
  { cpu: Type.Optional(Quantity), memory: Type.Optional(Quantity) },
  { additionalProperties: false },
);

const resources = (defaults: { requests?: object; limits?: object }) =>
  Type.Object(
    { requests: Type.Optional(ResourceList), limits: Type.Optional(ResourceList) },
    { additionalProperties: false, default: defaults },
  );

const LabelSelectorRequirement = Type.Object(
  {
    key: Type.String({ minLength: 1 }),
    operator: Type.Union([
      Type.Literal('In'),
      Type.Literal('NotIn'),
      Type.Literal('Exists'),
      Type.Literal('DoesNotExist'),
    ]),
    values: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

/** A metav1.LabelSelector: all of matchLabels and matchExpressions must hold. */
export const LabelSelectorSchema = Type.Object(
  {
    matchLabels: Type.Optional(Type.Record(Type.String(), Type.String())),
    matchExpressions: Type.Optional(Type.Array(LabelSelectorRequirement)),
  },
  { additionalProperties: false },
);

/** The proxy's log levels: the logLevel key and annotation are passed to it as they are. */
export const LOG_LEVELS = PROXY_LOG_LEVELS;
const AccessLogFormat = Type.Union(
  ACCESS_LOG_FORMATS.map((format) => Type.Literal(format)),
  { default: 'json' },
);

const LogLevel = Type.Union(
  LOG_LEVELS.map((level) => Type.Literal(level)),
  { default: 'info' },
);

const ImagePullPolicy = Type.Union(
  [Type.Literal('Always'), Type.Literal('IfNotPresent'), Type.Literal('Never')],
  { default: 'IfNotPresent' },
);

export const ConfigSchema = Type.Object(
  {
    /** Native sidecars (proxy as an init container with restartPolicy Always). */
    nativeSidecars: Type.Boolean({ default: true }),
    /** Pods matching any of these are never injected (unless the pod opts in explicitly). */
    neverInjectSelector: Type.Array(LabelSelectorSchema, { default: [] }),
    /** Pods matching any of these are injected even if `defaultInject` is false. */
    alwaysInjectSelector: Type.Array(LabelSelectorSchema, { default: [] }),
    /**
     * Whether a pod labelled sidecar.outrigger.dev/inject=true is injected in a
     * namespace without the outrigger-injection label. The chart adds the
     * webhook entries that send such pods when this is on.
     */
    podOptIn: Type.Boolean({ default: true }),
    /** Whether a pod in an enabled namespace that says nothing is injected. */
    defaultInject: Type.Boolean({ default: true }),
    /** Extra namespaces never injected, beside kube-system, kube-public, kube-node-lease. */
    ignoredNamespaces: Type.Array(Type.String(), { default: [] }),
    /** Add prometheus.io/* scrape annotations pointing at the proxy's metrics port. */
    prometheusScrape: Type.Boolean({ default: true }),
    /**
     * When the app declares prometheus.io/scrape "true" with its own port and
     * path, point them at the proxy, which serves the app's metrics with its own.
     */
    mergeMetrics: Type.Boolean({ default: true }),
    /** Point the app's httpGet/tcpSocket probes of captured ports at the proxy's health port. */
    rewriteAppProbes: Type.Boolean({ default: true }),

    proxy: Type.Object(
      {
        image: Type.String({ minLength: 1, default: defaultImage('proxy') }),
        imagePullPolicy: ImagePullPolicy,
        logLevel: LogLevel,
        accessLog: Type.Boolean({ default: false }),
        /** `json` (the record's fields) or `text` (Envoy's default format); docs/proxy.md. */
        accessLogFormat: AccessLogFormat,
        uid: Type.Integer({ minimum: 1, default: PROXY_UID }),
        gid: Type.Integer({ minimum: 1, default: PROXY_GID }),
        outboundPort: Type.Integer({ minimum: 1, maximum: 65535, default: PORTS.outboundCapture }),
        inboundPort: Type.Integer({ minimum: 1, maximum: 65535, default: PORTS.inboundCapture }),
        /**
         * At most this long a drain on SIGTERM; unset, it is sized from the
         * pod's grace period and layout (render.ts, proxyDrainMs).
         */
        drainTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
        resources: resources({
          requests: { cpu: '100m', memory: '64Mi' },
          limits: { memory: '256Mi' },
        }),
      },
      { additionalProperties: false, default: {} },
    ),

    init: Type.Object(
      {
        image: Type.String({ minLength: 1, default: defaultImage('init') }),
        imagePullPolicy: ImagePullPolicy,
        resources: resources({
          requests: { cpu: '10m', memory: '32Mi' },
          limits: { cpu: '500m', memory: '128Mi' },
        }),
      },
      { additionalProperties: false, default: {} },
    ),

    /**
     * The traffic policy (docs/policy.md) a pod gets when its
     * sidecar.outrigger.dev/policy annotation names none: a ConfigMap, always
     * in the pod's own namespace (a volume cannot reach another). Like Istio's
     * mesh-wide default (a Sidecar in the root namespace) and a namespace's own
     * Sidecar: the namespace's entry wins over defaultConfigMap, the pod's
     * annotation over both, and "" at either level means no policy.
     */
    policy: Type.Object(
      {
        /** The ConfigMap every injected pod gets; "" (the default): none. */
        defaultConfigMap: PolicyName({ default: '' }),
        /** Per namespace, the ConfigMap its pods get instead; "" opts the namespace out. */
        namespaces: Type.Record(Type.String({ minLength: 1 }), PolicyName(), { default: {} }),
      },
      { additionalProperties: false, default: {} },
    ),

    /** Which traffic the init container sends through the proxy (istio-iptables' lists). */
    interception: Type.Object(
      {
        /** `*` for every port, or a comma list; empty captures no inbound traffic. */
        includeInboundPorts: Formatted('port-selection', { default: '*' }),
        excludeInboundPorts: Type.Array(Port, { default: [] }),
        /** `*` for every destination, or a comma list of CIDRs; empty captures none. */
        includeOutboundIPRanges: Formatted('cidr-selection', { default: '*' }),
        excludeOutboundIPRanges: Type.Array(Formatted('cidr'), { default: [] }),
        includeOutboundPorts: Type.Array(Port, { default: [] }),
        excludeOutboundPorts: Type.Array(Port, { default: [] }),
        excludeInterfaces: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

/** The configuration as written: what the schema checks, strings where the file has strings. */
export type ConfigDocument = Static<typeof ConfigSchema>;

/**
 * The configuration resolved once, when it is loaded (load.ts): the
 * interception selections parsed into the values rendering uses, so nothing
 * downstream parses a configured string again (pino's way).
 */
export type InjectionConfig = Omit<ConfigDocument, 'interception'> & {
  interception: Interception;
};

export type Interception = Omit<
  ConfigDocument['interception'],
  'includeInboundPorts' | 'includeOutboundIPRanges'
> & {
  /** `*` for every port, or the ports; empty captures no inbound traffic. */
  includeInboundPorts: '*' | number[];
  /** `*` for every destination, or CIDRs in canonical form; empty captures none. */
  includeOutboundIPRanges: '*' | string[];
};

export type LabelSelector = Static<typeof LabelSelectorSchema>;
export type ResourceRequirements = ConfigDocument['proxy']['resources'];
export type LogLevel = (typeof LOG_LEVELS)[number];
