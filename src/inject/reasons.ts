// Every reason behind a decision: a machine code (for metrics, logs and tests)
// mapped to the one sentence `outrigger check` and the logs show.

export const SKIP_REASONS = {
  ignored_namespace: 'the namespace is never injected (system namespaces and the injector’s own)',
  namespace_not_enabled:
    'the namespace is not labelled outrigger-injection=enabled, and the pod does not opt in with the label sidecar.outrigger.dev/inject=true',
  namespace_disabled: 'the namespace is labelled outrigger-injection=disabled',
  host_network_enabled:
    'the pod uses hostNetwork, so capturing its traffic would capture the node’s',
  sidecar_already_exists:
    'the pod is already injected (it carries the status annotation or an Outrigger container)',
  other_mesh_sidecar:
    'the pod already carries another mesh’s sidecar (Istio’s or Linkerd’s), whose proxy would collide with ours on ports 15000–15090',
  injection_disabled_by_label: 'the pod is labelled sidecar.outrigger.dev/inject=false',
  injection_disabled_by_annotation: 'the pod is annotated sidecar.outrigger.dev/inject: "false"',
  never_inject_selector: 'the pod matches a neverInjectSelector in the injector configuration',
  not_default_injected:
    'defaultInject is false and the pod neither opts in nor matches an alwaysInjectSelector',
  not_create_operation: 'only pod CREATE requests are injected',
} as const;

export const INJECT_REASONS = {
  enabled_by_label: 'the pod is labelled sidecar.outrigger.dev/inject=true',
  enabled_by_annotation: 'the pod is annotated sidecar.outrigger.dev/inject: "true"',
  always_inject_selector: 'the pod matches an alwaysInjectSelector in the injector configuration',
  default_inject: 'the namespace is enabled and the pod does not opt out',
} as const;

export type SkipReason = keyof typeof SKIP_REASONS;
export type InjectReason = keyof typeof INJECT_REASONS;

export function describeSkip(reason: SkipReason): string {
  return SKIP_REASONS[reason];
}

export function describeInject(reason: InjectReason): string {
  return INJECT_REASONS[reason];
}
