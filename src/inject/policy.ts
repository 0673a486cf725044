// Which traffic policy ConfigMap (docs/policy.md) a pod's proxy is given: the
// pod's annotation, its namespace's entry in the configuration, or the
// configured default. Pure, like decide.ts: the webhook, `outrigger inject`
// and `outrigger check` all ask this one function, and the reason codes below
// are what check prints.
import type { InjectionConfig } from '../config/schema.ts';
import type { Overrides } from './overrides.ts';

export const POLICY_REASONS = {
  annotation: 'named by the pod’s sidecar.outrigger.dev/policy annotation',
  namespace_default:
    'the injection configuration’s policy.namespaces entry for the pod’s namespace',
  mesh_default: 'the injection configuration’s policy.defaultConfigMap',
  opted_out_by_annotation:
    'the pod’s sidecar.outrigger.dev/policy annotation is empty, which opts it out of the default',
  namespace_opted_out: 'the configuration’s policy.namespaces entry for the namespace is empty',
  no_policy: 'no annotation, and the configuration names no default',
} as const;

export type PolicyReason = keyof typeof POLICY_REASONS;

export type PolicyChoice =
  | { configMap: string; reason: 'annotation' | 'namespace_default' | 'mesh_default' }
  | {
      configMap?: undefined;
      reason: 'opted_out_by_annotation' | 'namespace_opted_out' | 'no_policy';
    };

export const NO_POLICY: PolicyChoice = Object.freeze({ reason: 'no_policy' });

/**
 * The first row that matches decides. The annotation's value was checked by
 * its grammar (overrides.ts) and the configuration's when it was loaded.
 *
 * | # | condition                                                 | policy                             |
 * |---|-----------------------------------------------------------|------------------------------------|
 * | 1 | annotation sidecar.outrigger.dev/policy: NAME              | NAME, annotation                   |
 * | 2 | annotation sidecar.outrigger.dev/policy: ""                | none, opted_out_by_annotation      |
 * | 3 | policy.namespaces has the pod's namespace: NAME            | NAME, namespace_default            |
 * | 4 | policy.namespaces has the pod's namespace: ""              | none, namespace_opted_out          |
 * | 5 | policy.defaultConfigMap: NAME                              | NAME, mesh_default                 |
 * | 6 | otherwise                                                  | none, no_policy                    |
 */
export function choosePolicy(
  namespace: string,
  overrides: Overrides,
  config: InjectionConfig,
): PolicyChoice {
  if (overrides.policy !== undefined) {
    return overrides.policy === ''
      ? { reason: 'opted_out_by_annotation' }
      : { configMap: overrides.policy, reason: 'annotation' };
  }
  const { namespaces, defaultConfigMap } = config.policy;
  if (Object.hasOwn(namespaces, namespace)) {
    const name = namespaces[namespace] ?? '';
    return name === ''
      ? { reason: 'namespace_opted_out' }
      : { configMap: name, reason: 'namespace_default' };
  }
  if (defaultConfigMap !== '') return { configMap: defaultConfigMap, reason: 'mesh_default' };
  return NO_POLICY;
}

export function describePolicy(choice: PolicyChoice): string {
  const why = POLICY_REASONS[choice.reason];
  return choice.configMap === undefined
    ? `none (${why})`
    : `ConfigMap ${choice.configMap} (${why})`;
}
