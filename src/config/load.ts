// Turns configuration text into a complete, validated InjectionConfig: defaults
// filled in from the schema, unknown keys and wrong types rejected, and the
// string-typed lists checked with the same grammars the annotations use.
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { errors } from '../errors.ts';
import { quoteValue } from '../shared/echo.ts';
import {
  type Parsed,
  parseCidr,
  parseCidrSelection,
  parseInterfaceName,
  parsePortSelection,
} from '../shared/grammar/index.ts';
import { requestsAboveLimits } from './resources.ts';
import { type ConfigDocument, ConfigSchema, type InjectionConfig } from './schema.ts';
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
  return resolve(config as ConfigDocument, source);
}

/**
 * Checks what the schema cannot (the grammars of list items, requests within
 * limits) and parses the interception selections into ready values, reporting
 * every problem at once with its path.
 */
function resolve(document: ConfigDocument, source: string): InjectionConfig {
  const problems: string[] = [];
  function read<T>(where: string, parsed: Parsed<T>): T | undefined {
    if (parsed.ok) return parsed.value;
    problems.push(`${where}: ${parsed.expected}`);
    return undefined;
  }
  const { interception, proxy, init } = document;
  const includeInboundPorts = read(
    '/interception/includeInboundPorts',
    parsePortSelection(interception.includeInboundPorts),
  );
  const includeOutboundIPRanges = read(
    '/interception/includeOutboundIPRanges',
    parseCidrSelection(interception.includeOutboundIPRanges),
  );
  for (const [i, cidr] of interception.excludeOutboundIPRanges.entries())
    read(`/interception/excludeOutboundIPRanges/${i}`, parseCidr(cidr));
  for (const [i, name] of interception.excludeInterfaces.entries())
    read(`/interception/excludeInterfaces/${i}`, parseInterfaceName(name));
  for (const [where, resources] of [
    ['/proxy/resources', proxy.resources],
    ['/init/resources', init.resources],
  ] as const) {
    for (const { resource, request, limit } of requestsAboveLimits(resources)) {
      problems.push(`${where}/requests/${resource}: request ${request} exceeds limit ${limit}`);
    }
  }
  if (problems.length > 0) throw errors.INVALID_CONFIG(source, problems.join('; '));
  return {
    ...document,
    interception: {
      ...interception,
      includeInboundPorts: includeInboundPorts!,
      includeOutboundIPRanges: includeOutboundIPRanges!,
    },
  };
}
