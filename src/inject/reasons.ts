// Every reason for not injecting a pod: a machine code (for metrics, logs and
// tests) mapped to the one sentence `outrigger check` and the logs show.

export const SKIP_REASONS = {
  ignored_namespace: 'the namespace is never injected (system namespaces and the injector’s own)',
  namespace_not_enabled: 'the namespace is not labelled outrigger-injection=enabled',
  namespace_disabled: 'the namespace is labelled outrigger-injection=disabled',
  host_network_enabled:
    'the pod uses hostNetwork, so its traffic cannot be captured without capturing the node’s',
  sidecar_already_exists:
    'the pod is already injected (it carries the status annotation or an outrigger-proxy container)',
  injection_disabled_by_label: 'the pod is labelled sidecar.outrigger.dev/inject=false',
  injection_disabled_by_annotation: 'the pod is annotated sidecar.outrigger.dev/inject: "false"',
  never_inject_selector: 'the pod matches a neverInjectSelector in the injector configuration',
  not_default_injected:
    'defaultInject is false and the pod neither opts in nor matches an alwaysInjectSelector',
  not_create_operation: 'only pod CREATE requests are injected',
} as const;

export type SkipReason = keyof typeof SKIP_REASONS;

export function describeSkip(reason: SkipReason): string {
  return SKIP_REASONS[reason];
}
