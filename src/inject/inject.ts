// decide → render → patch, the one path every caller takes: the webhook, the
// `outrigger inject` and `outrigger check` commands, and the tests.
import type { V1Pod } from '@kubernetes/client-node';
import type { InjectionConfig } from '../config/schema.ts';
import { type Decision, decideInjection, type InjectionContext } from './decide.ts';
import { scrapeAnnotations } from './metrics-merge.ts';
import {
  readOverrides,
  refuseRequestsAboveLimits,
  unknownAnnotationWarnings,
} from './overrides.ts';
import { buildPatch, type PatchOperation } from './patch.ts';
import { choosePolicy, type PolicyChoice } from './policy.ts';
import { checkProxyPortCollisions } from './port-collisions.ts';
import { type Injection, renderInjection } from './render.ts';

export type InjectionOutcome =
  | { injected: false; decision: Extract<Decision, { inject: false }> }
  | {
      injected: true;
      decision: Extract<Decision, { inject: true }>;
      injection: Injection;
      patch: PatchOperation[];
      /** The traffic policy ConfigMap mounted, and why (or why none). */
      policy: PolicyChoice;
      /** For the user, not a refusal: unknown keys under our prefixes, excluded proxy ports in use. */
      warnings: string[];
    };

/**
 * Decides, renders and builds the patch for one pod. Throws a coded
 * OutriggerError when the pod asks for something invalid (a bad annotation
 * value, a name that collides with ours).
 */
export function injectPod(
  pod: V1Pod,
  context: InjectionContext,
  config: InjectionConfig,
): InjectionOutcome {
  const decision = decideInjection(pod, context, config);
  if (!decision.inject) return { injected: false, decision };
  const overrides = readOverrides(pod);
  const warnings = [
    ...unknownAnnotationWarnings(pod),
    ...checkProxyPortCollisions(pod, config, overrides),
  ];
  refuseRequestsAboveLimits(config, overrides);
  const policy = choosePolicy(context.namespace, overrides, config);
  const injection = renderInjection(pod, config, overrides, context.workload, policy);
  const merge = scrapeAnnotations(pod.metadata?.annotations ?? {}, config, overrides);
  if (merge.warning !== undefined) warnings.push(merge.warning);
  return {
    injected: true,
    decision,
    injection,
    patch: buildPatch(injection),
    policy,
    warnings,
  };
}
