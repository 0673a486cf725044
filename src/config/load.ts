// Turns configuration text into a complete, validated InjectionConfig: defaults
// filled in from the schema, unknown keys and wrong types rejected, and the
// string-typed lists checked with the same grammars the annotations use.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { errors } from '../errors.ts';
import { quoteValue } from '../shared/echo.ts';
import {
  parseCidr,
  parseCidrSelection,
  parseInterfaceName,
  parsePortSelection,
  parseQuantity,
} from '../shared/grammar/index.ts';
import { ConfigSchema, type InjectionConfig } from './schema.ts';
import { formatExpectation } from './value-patterns.ts';

const checker = TypeCompiler.Compile(ConfigSchema);

/** The configuration an empty file gives: every default. */
export function defaultConfig(): InjectionConfig {
  return parseConfig('', 'defaults');
}

export function parseConfig(text: string, source: string): InjectionConfig {
  let document: unknown;
  try {
    document = parseYaml(text) ?? {};
  } catch (err) {
    throw errors.INVALID_CONFIG(source, `not valid YAML: ${(err as Error).message}`);
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw errors.INVALID_CONFIG(source, 'expected a mapping at the top level');
  }
  // Convert lets `cpu: 1` (a YAML number) stand for the quantity "1", as kubectl does.
  const config = Value.Convert(
    ConfigSchema,
    Value.Default(ConfigSchema, structuredClone(document)),
  );
  const problems = [...checker.Errors(config)].map(
    (e) =>
      `${e.path || '/'}: ${formatExpectation(e.schema.format, e.value) ?? e.message}${e.value === undefined ? '' : ` (got ${quoteValue(e.value)})`}`,
  );
  if (problems.length > 0) throw errors.INVALID_CONFIG(source, problems.join('; '));
  checkValues(config as InjectionConfig, source);
  return config as InjectionConfig;
}

function checkValues(config: InjectionConfig, source: string): void {
  const { interception, proxy, init } = config;
  const checks: Array<[string, { ok: boolean; expected?: string }]> = [
    ['/interception/includeInboundPorts', parsePortSelection(interception.includeInboundPorts)],
    [
      '/interception/includeOutboundIPRanges',
      parseCidrSelection(interception.includeOutboundIPRanges),
    ],
    ...interception.excludeOutboundIPRanges.map(
      (cidr, i) =>
        [`/interception/excludeOutboundIPRanges/${i}`, parseCidr(cidr)] as [
          string,
          { ok: boolean },
        ],
    ),
    ...interception.excludeInterfaces.map(
      (name, i) =>
        [`/interception/excludeInterfaces/${i}`, parseInterfaceName(name)] as [
          string,
          { ok: boolean },
        ],
    ),
  ];
  for (const [where, resources] of [
    ['/proxy/resources', proxy.resources],
    ['/init/resources', init.resources],
  ] as const) {
    for (const resource of ['cpu', 'memory'] as const) {
      const request = resources.requests?.[resource];
      const limit = resources.limits?.[resource];
      if (request === undefined || limit === undefined) continue;
      const r = parseQuantity(request);
      const l = parseQuantity(limit);
      if (r.ok && l.ok && r.value > l.value) {
        checks.push([
          `${where}/requests/${resource}`,
          { ok: false, expected: `request ${request} exceeds limit ${limit}` },
        ]);
      }
    }
  }
  const problems = checks
    .filter(([, result]) => !result.ok)
    .map(([where, result]) => `${where}: ${result.expected}`);
  if (problems.length > 0) throw errors.INVALID_CONFIG(source, problems.join('; '));
}
