// decide → render → patch, the one path every caller takes: the webhook, the
// `outrigger inject` and `outrigger check` commands, and the tests.
import type { V1Pod } from '@kubernetes/client-node';
import type { InjectionConfig } from '../config/schema.ts';
import { type Decision, decideInjection, type InjectionContext } from './decide.ts';
import { readOverrides } from './overrides.ts';
import { buildPatch, type PatchOperation } from './patch.ts';
import { type Injection, renderInjection } from './render.ts';

export type InjectionOutcome =
  | { injected: false; decision: Extract<Decision, { inject: false }> }
  | {
      injected: true;
      decision: Extract<Decision, { inject: true }>;
      injection: Injection;
      patch: PatchOperation[];
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
  const injection = renderInjection(pod, config, readOverrides(pod));
  return { injected: true, decision, injection, patch: buildPatch(pod, injection) };
}
