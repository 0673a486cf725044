// The pod annotations that override the injection configuration, each with
// the grammar its value must follow. A bad value stops injection with a message
// naming the annotation and the value, so the user learns at `kubectl apply`
// time. An unknown key under one of our prefixes only warns: it is a typo, or a
// key a newer Outrigger introduced, and refusing it would make rolling the
// injector back refuse every pod that carries one.
import type { V1Pod } from '@kubernetes/client-node';
import { requestsAboveLimits } from '../config/resources.ts';
import {
  type InjectionConfig,
  LOG_LEVELS,
  type LogLevel,
  type ResourceRequirements,
} from '../config/schema.ts';
import { errors, type OutriggerError } from '../errors.ts';
import {
  ACCESS_LOG_FORMATS,
  type AccessLogFormat,
  ORIGINAL_ANNOTATIONS_ANNOTATION,
  ORIGINAL_PROBES_ANNOTATION,
  POD_INJECT_KEY,
  STATUS_ANNOTATION,
} from '../shared/contract.ts';
import {
  oneOf,
  type Parsed,
  parseBoolean,
  parseCidrList,
  parseCidrSelection,
  parseHeaderPairs,
  parseImage,
  parsePortList,
  parsePortSelection,
  parseQuantityText,
} from '../shared/grammar/index.ts';
import { VERSION } from '../version.ts';

export const SIDECAR_PREFIX = 'sidecar.outrigger.dev/';
export const TRAFFIC_PREFIX = 'traffic.sidecar.outrigger.dev/';

export interface Overrides {
  includeInboundPorts?: '*' | number[];
  excludeInboundPorts?: number[];
  includeOutboundPorts?: number[];
  excludeOutboundPorts?: number[];
  includeOutboundIPRanges?: '*' | string[];
  excludeOutboundIPRanges?: string[];
  proxyImage?: string;
  proxyCPU?: string;
  proxyMemory?: string;
  proxyCPULimit?: string;
  proxyMemoryLimit?: string;
  logLevel?: LogLevel;
  nativeSidecar?: boolean;
  accessLog?: boolean;
  accessLogFormat?: AccessLogFormat;
  forwardPodIdentity?: boolean;
  addRequestHeaders?: Array<[string, string]>;
  addResponseHeaders?: Array<[string, string]>;
  rewriteAppProbes?: boolean;
  mergeMetrics?: boolean;
}

const quantity = parseQuantityText;
const accessLogFormat = oneOf(ACCESS_LOG_FORMATS);
const logLevel = oneOf(LOG_LEVELS);

type Grammars = {
  [K in keyof Overrides]-?: readonly [
    key: string,
    parse: (text: string) => Parsed<NonNullable<Overrides[K]>>,
  ];
};

/** Every override annotation: the field it sets, its key, and its grammar. */
export const OVERRIDE_ANNOTATIONS: Grammars = {
  includeInboundPorts: [`${TRAFFIC_PREFIX}includeInboundPorts`, parsePortSelection],
  excludeInboundPorts: [`${TRAFFIC_PREFIX}excludeInboundPorts`, parsePortList],
  includeOutboundPorts: [`${TRAFFIC_PREFIX}includeOutboundPorts`, parsePortList],
  excludeOutboundPorts: [`${TRAFFIC_PREFIX}excludeOutboundPorts`, parsePortList],
  includeOutboundIPRanges: [`${TRAFFIC_PREFIX}includeOutboundIPRanges`, parseCidrSelection],
  excludeOutboundIPRanges: [`${TRAFFIC_PREFIX}excludeOutboundIPRanges`, parseCidrList],
  proxyImage: [`${SIDECAR_PREFIX}proxyImage`, parseImage],
  proxyCPU: [`${SIDECAR_PREFIX}proxyCPU`, quantity],
  proxyMemory: [`${SIDECAR_PREFIX}proxyMemory`, quantity],
  proxyCPULimit: [`${SIDECAR_PREFIX}proxyCPULimit`, quantity],
  proxyMemoryLimit: [`${SIDECAR_PREFIX}proxyMemoryLimit`, quantity],
  logLevel: [`${SIDECAR_PREFIX}logLevel`, logLevel],
  nativeSidecar: [`${SIDECAR_PREFIX}nativeSidecar`, parseBoolean],
  accessLog: [`${SIDECAR_PREFIX}accessLog`, parseBoolean],
  accessLogFormat: [`${SIDECAR_PREFIX}accessLogFormat`, accessLogFormat],
  forwardPodIdentity: [`${SIDECAR_PREFIX}forwardPodIdentity`, parseBoolean],
  addRequestHeaders: [`${SIDECAR_PREFIX}addRequestHeaders`, parseHeaderPairs],
  addResponseHeaders: [`${SIDECAR_PREFIX}addResponseHeaders`, parseHeaderPairs],
  rewriteAppProbes: [`${SIDECAR_PREFIX}rewriteAppProbes`, parseBoolean],
  mergeMetrics: [`${SIDECAR_PREFIX}mergeMetrics`, parseBoolean],
};

/** The same table as a list, walked once per pod. */
const GRAMMAR_LIST = Object.entries(OVERRIDE_ANNOTATIONS).map(([field, [key, parse]]) => ({
  field,
  key,
  parse: parse as (text: string) => Parsed<unknown>,
}));

const KNOWN_KEYS = new Set<string>([
  POD_INJECT_KEY,
  STATUS_ANNOTATION,
  ORIGINAL_PROBES_ANNOTATION,
  ORIGINAL_ANNOTATIONS_ANNOTATION,
  ...Object.values(OVERRIDE_ANNOTATIONS).map(([key]) => key),
]);

/**
 * Warnings for the keys under our prefixes that this version does not know,
 * with a suggestion when one differs from a known key only in case.
 */
export function unknownAnnotationWarnings(pod: V1Pod): string[] {
  const warnings: string[] = [];
  for (const key of Object.keys(pod.metadata?.annotations ?? {})) {
    if (!(key.startsWith(SIDECAR_PREFIX) || key.startsWith(TRAFFIC_PREFIX))) continue;
    if (KNOWN_KEYS.has(key)) continue;
    const near = [...KNOWN_KEYS].find((known) => known.toLowerCase() === key.toLowerCase());
    warnings.push(
      `annotation ${key} is not one this Outrigger (${VERSION}) knows and is ignored` +
        (near ? `; did you mean ${near}?` : ''),
    );
  }
  return warnings;
}

/** Every bad override annotation of the pod, one coded error each. */
export function overrideErrors(pod: V1Pod): OutriggerError[] {
  return readAll(pod).problems;
}

/** Reads and validates the pod's override annotations; throws on the first bad one. */
export function readOverrides(pod: V1Pod): Overrides {
  const { overrides, problems } = readAll(pod);
  if (problems[0]) throw problems[0];
  return overrides;
}

function readAll(pod: V1Pod): { overrides: Overrides; problems: OutriggerError[] } {
  const annotations = pod.metadata?.annotations ?? {};
  const overrides: Record<string, unknown> = {};
  const problems: OutriggerError[] = [];
  for (const { field, key, parse } of GRAMMAR_LIST) {
    const text = annotations[key];
    if (text === undefined) continue;
    const parsed = parse(text);
    if (parsed.ok) overrides[field] = parsed.value;
    else problems.push(errors.INVALID_ANNOTATION(key, text, parsed.expected));
  }
  return { overrides: overrides as Overrides, problems };
}

/** The configured proxy resources with the four resource annotations laid over them. */
export function proxyResources(
  base: ResourceRequirements,
  overrides: Overrides,
): ResourceRequirements {
  const requests = { ...base.requests };
  const limits = { ...base.limits };
  if (overrides.proxyCPU !== undefined) requests.cpu = overrides.proxyCPU;
  if (overrides.proxyMemory !== undefined) requests.memory = overrides.proxyMemory;
  if (overrides.proxyCPULimit !== undefined) limits.cpu = overrides.proxyCPULimit;
  if (overrides.proxyMemoryLimit !== undefined) limits.memory = overrides.proxyMemoryLimit;
  const resources: ResourceRequirements = {};
  if (Object.keys(requests).length > 0) resources.requests = requests;
  if (Object.keys(limits).length > 0) resources.limits = limits;
  return resources;
}

const RESOURCE_ANNOTATIONS = {
  cpu: ['proxyCPU', 'proxyCPULimit'],
  memory: ['proxyMemory', 'proxyMemoryLimit'],
} as const;

/**
 * Refuses a pod whose resource annotations put the proxy's request above its
 * limit, naming the annotation that did it (the request's when it is set).
 */
export function refuseRequestsAboveLimits(config: InjectionConfig, overrides: Overrides): void {
  const [above] = requestsAboveLimits(proxyResources(config.proxy.resources, overrides));
  if (above === undefined) return;
  const { resource, request, limit } = above;
  const [requestField, limitField] = RESOURCE_ANNOTATIONS[resource];
  const field = overrides[requestField] !== undefined ? requestField : limitField;
  throw errors.INVALID_ANNOTATION(
    OVERRIDE_ANNOTATIONS[field][0],
    overrides[field] ?? '',
    `the proxy's ${resource} request (${request}) would exceed its limit (${limit})`,
  );
}
