// Builds charts/outrigger/values.schema.json. The `injection` block is the
// injector's own config schema (src/config/schema.ts), so a typo in the injection
// settings fails at `helm install`, not when the injector loads the ConfigMap.
// Every object closes with additionalProperties: false so misspelt keys are refused,
// except `global`, which a parent chart shares with all its subcharts.

import { ConfigSchema } from '../src/config/schema.ts';
import { VALUE_FORMATS } from '../src/config/value-patterns.ts';
import { QUANTITY } from '../src/shared/grammar/index.ts';

type JsonSchema = Record<string, unknown>;

/**
 * Helm knows no custom format: each of the injector's (value-patterns.ts)
 * becomes the regular expression that stands for its parser. A quantity may be
 * a number too, as the injector converts it.
 */
function formatsAsPatterns(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(formatsAsPatterns);
  if (node === null || typeof node !== 'object') return node;
  const { format, ...rest } = node as Record<string, unknown>;
  const object = Object.fromEntries(
    Object.entries(rest).map(([key, value]) => [key, formatsAsPatterns(value)]),
  );
  // --set cpu=1 gives Helm a number; the injector reads it as the quantity "1".
  if (object.pattern === QUANTITY.source) return quantity;
  if (typeof format !== 'string') return object;
  const known = VALUE_FORMATS[format as keyof typeof VALUE_FORMATS];
  if (!known) throw new Error(`no pattern for the format ${format}`);
  return { ...object, pattern: known.pattern };
}

/** The config schema as helm sees it: keys that have a default are optional in values. */
function optionalDefaults(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(optionalDefaults);
  if (node === null || typeof node !== 'object') return node;
  const object = Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key, optionalDefaults(value)]),
  );
  const properties = object.properties as Record<string, { default?: unknown }> | undefined;
  if (Array.isArray(object.required) && properties) {
    const required = (object.required as string[]).filter(
      (key) => properties[key]?.default === undefined,
    );
    if (required.length > 0) object.required = required;
    else delete object.required;
  }
  return object;
}

const closed = (properties: Record<string, JsonSchema>, extra: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...extra,
});
const string: JsonSchema = { type: 'string' };
const stringList: JsonSchema = { type: 'array', items: { type: 'string' } };
const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };
const freeObject: JsonSchema = { type: 'object' };
const freeList: JsonSchema = { type: 'array', items: { type: 'object' } };
const quantity: JsonSchema = {
  anyOf: [
    { type: 'string', pattern: QUANTITY.source },
    { type: 'number', minimum: 0 },
  ],
};
const resourceList = closed({ cpu: quantity, memory: quantity, 'ephemeral-storage': quantity });
const goDuration: JsonSchema = {
  type: 'string',
  pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$',
};
/** A Prometheus duration (`30s`, `1m30s`), as prometheus-operator's CRDs check it. */
const promDuration: JsonSchema = {
  type: 'string',
  pattern:
    '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$',
};
/** An image's values; the chart composes `registry/repository:tag[@digest]` from them. */
const imageValues = closed({
  registry: string,
  repository: { type: 'string', minLength: 1 },
  tag: string,
  digest: { type: 'string', pattern: '^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})?$' },
  pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] },
});

/**
 * The injection block of the values: the injector's config schema without the
 * images and pull policies of proxy and init, which the chart writes from
 * proxyImage and initImage so that one value (global.imageRegistry) moves them all.
 */
function injectionValues(): JsonSchema {
  const schema = formatsAsPatterns(optionalDefaults(JSON.parse(JSON.stringify(ConfigSchema)))) as {
    properties: Record<string, { properties: Record<string, unknown> }>;
  };
  for (const part of ['proxy', 'init']) {
    delete schema.properties[part]!.properties.image;
    delete schema.properties[part]!.properties.imagePullPolicy;
  }
  return schema as JsonSchema;
}

const dnsLabel: JsonSchema = {
  type: 'string',
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
  maxLength: 63,
};

export function valuesSchema(): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft-07/schema#',
    title: 'Outrigger chart values',
    ...closed({
      // Open: as a subchart, the parent's globals arrive here too.
      global: { type: 'object', properties: { imageRegistry: string } },
      // A parent chart's dependency condition (`condition: outrigger.enabled`) reads it.
      enabled: { type: 'boolean' },
      replicaCount: { type: 'integer', minimum: 0 },
      image: imageValues,
      proxyImage: imageValues,
      initImage: imageValues,
      imagePullSecrets: {
        type: 'array',
        items: closed({ name: { type: 'string', minLength: 1 } }, { required: ['name'] }),
      },
      nameOverride: string,
      fullnameOverride: string,
      serviceAccount: closed({ create: { type: 'boolean' }, name: string, annotations: stringMap }),
      podAnnotations: stringMap,
      podLabels: stringMap,
      podSecurityContext: freeObject,
      securityContext: freeObject,
      extraArgs: stringList,
      extraEnv: freeList,
      resources: closed({ requests: resourceList, limits: resourceList }),
      nodeSelector: stringMap,
      tolerations: freeList,
      affinity: freeObject,
      topologySpreadConstraints: freeList,
      priorityClassName: string,
      shutdownDelaySeconds: { type: 'integer', minimum: 0, maximum: 60 },
      podDisruptionBudget: closed({
        enabled: { type: 'boolean' },
        minAvailable: {
          anyOf: [
            { type: 'integer', minimum: 0 },
            { type: 'string', pattern: '^[0-9]+%$' },
          ],
        },
      }),
      networkPolicy: closed({
        enabled: { type: 'boolean' },
        from: freeList,
        monitoringFrom: freeList,
      }),
      metrics: closed({
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        serviceMonitor: closed({
          enabled: { type: 'boolean' },
          interval: promDuration,
          scrapeTimeout: promDuration,
          labels: stringMap,
        }),
        podMonitor: closed({
          enabled: { type: 'boolean' },
          namespaceSelector: freeObject,
          interval: promDuration,
          scrapeTimeout: promDuration,
          labels: stringMap,
        }),
      }),
      logLevel: { enum: ['trace', 'debug', 'info', 'warn', 'error'] },
      service: closed({ port: { type: 'integer', minimum: 1, maximum: 65535 } }),
      webhook: closed({
        failurePolicy: { enum: ['Fail', 'Ignore'] },
        timeoutSeconds: { type: 'integer', minimum: 1, maximum: 30 },
        reinvocationPolicy: { enum: ['Never', 'IfNeeded'] },
        url: { type: 'string', anyOf: [{ const: '' }, { pattern: '^https://' }] },
        excludeNamespaces: { type: 'array', items: dnsLabel },
      }),
      certs: closed({
        mode: { enum: ['auto', 'provided', 'cert-manager'] },
        secretName: string,
        extraDnsNames: stringList,
        ipAddresses: stringList,
        leafValidityDays: { type: 'number', exclusiveMinimum: 0 },
        caValidityDays: { type: 'number', exclusiveMinimum: 0 },
        recheckIntervalSeconds: { type: 'number', exclusiveMinimum: 0 },
        certManager: closed({
          issuerRef: closed({ kind: string, name: string, group: string }),
          duration: goDuration,
          renewBefore: goDuration,
        }),
      }),
      configValidation: closed({
        enabled: { type: 'boolean' },
        timeoutSeconds: { type: 'integer', minimum: 1 },
      }),
      test: closed({
        enabled: { type: 'boolean' },
        timeoutSeconds: { type: 'integer', minimum: 1 },
      }),
      injection: injectionValues(),
    }),
  };
}

export function valuesSchemaJson(): string {
  return `${JSON.stringify(valuesSchema(), null, 2)}\n`;
}
