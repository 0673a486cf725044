// The pod annotations that override the injection configuration, each with
// the grammar its value must follow. A bad value stops injection with a message
// naming the annotation and the value, so the user learns at `kubectl apply`
// time. An unknown key under one of our prefixes only warns: it is a typo, or a
// key a newer Outrigger introduced, and refusing it would make rolling the
// injector back refuse every pod that carries one.
import type { V1Pod } from '@kubernetes/client-node';
import { LOG_LEVELS, type LogLevel } from '../config/schema.ts';
import {
  type Parsed,
  parseBoolean,
  parseCidrList,
  parseCidrSelection,
  parseHeaderPairs,
  parseImage,
  parsePortList,
  parsePortSelection,
  parseQuantity,
} from '../config/values.ts';
import {
  ACCESS_LOG_FORMATS,
  type AccessLogFormat,
  ORIGINAL_ANNOTATIONS_ANNOTATION,
  ORIGINAL_PROBES_ANNOTATION,
  POD_INJECT_KEY,
  STATUS_ANNOTATION,
} from '../contract.ts';
import { errors, type OutriggerError } from '../errors.ts';
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

const quantity = (text: string): Parsed<string> => {
  const parsed = parseQuantity(text);
  return parsed.ok ? { ok: true, value: text } : parsed;
};

const accessLogFormat = (text: string): Parsed<AccessLogFormat> =>
  (ACCESS_LOG_FORMATS as readonly string[]).includes(text)
    ? { ok: true, value: text as AccessLogFormat }
    : { ok: false, expected: `expected one of ${ACCESS_LOG_FORMATS.join(', ')}` };

const logLevel = (text: string): Parsed<LogLevel> =>
  (LOG_LEVELS as readonly string[]).includes(text)
    ? { ok: true, value: text as LogLevel }
    : { ok: false, expected: `expected one of ${LOG_LEVELS.join(', ')}` };

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
