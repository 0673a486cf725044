// Whether a pod gets the sidecar. Pure: the webhook, `outrigger inject` and
// `outrigger check` all ask this one function.
import type { V1Pod } from '@kubernetes/client-node';
import type { InjectionConfig } from '../config/schema.ts';
import { errors } from '../errors.ts';
import {
  INIT_CONTAINER_NAME,
  NAMESPACE_INJECTION_LABEL,
  POD_INJECT_KEY,
  PROXY_CONTAINER_NAME,
  STATUS_ANNOTATION,
  SYSTEM_NAMESPACES,
} from '../shared/contract.ts';
import { parseBoolean } from '../shared/grammar/index.ts';
import { matchesLabelSelector } from './label-selector.ts';
import type { InjectReason, SkipReason } from './reasons.ts';

export interface InjectionContext {
  /** The namespace the pod is created in (the AdmissionReview's, or the manifest's). */
  namespace: string;
  /**
   * Labels of that namespace, when known (`outrigger check --namespace-labels`).
   * The webhook leaves this unset: the apiserver's namespaceSelector has already
   * filtered on them, and reading namespaces would need wider RBAC.
   */
  namespaceLabels?: Readonly<Record<string, string>>;
  /** The injector's own namespace, never injected. */
  injectorNamespace?: string;
  /**
   * The workload holding the pod template, when a manifest is injected offline:
   * a template has no ownerReferences to name it (workload-identity.ts).
   */
  workload?: string;
}

export type Decision =
  | { inject: true; reason: InjectReason }
  | { inject: false; reason: SkipReason };

/**
 * The first row that matches decides. Throws a coded error when the pod's
 * inject label or annotation is neither "true" nor "false".
 *
 * | # | condition                                              | result                               |
 * |---|--------------------------------------------------------|--------------------------------------|
 * | 1 | namespace is a system one, the injector's, or ignored  | skip ignored_namespace               |
 * | 2 | namespace labels known: outrigger-injection=disabled   | skip namespace_disabled              |
 * | 3 | namespace labels known: not outrigger-injection=enabled| skip namespace_not_enabled           |
 * |   |   unless the label is absent, podOptIn is on and the   |                                      |
 * |   |   pod is labelled sidecar.outrigger.dev/inject=true    |   (go on: row 8 injects it)          |
 * | 4 | status annotation or outrigger-proxy already present   | skip sidecar_already_exists          |
 * | 5 | another mesh's sidecar (Istio, Linkerd) is present     | skip other_mesh_sidecar              |
 * | 6 | spec.hostNetwork                                       | skip host_network_enabled            |
 * | 7 | label sidecar.outrigger.dev/inject=false               | skip injection_disabled_by_label     |
 * | 8 | label sidecar.outrigger.dev/inject=true                | inject enabled_by_label              |
 * | 9 | annotation sidecar.outrigger.dev/inject: "false"       | skip injection_disabled_by_annotation|
 * |10 | annotation sidecar.outrigger.dev/inject: "true"        | inject enabled_by_annotation         |
 * |11 | pod labels match a neverInjectSelector                 | skip never_inject_selector           |
 * |12 | pod labels match an alwaysInjectSelector               | inject always_inject_selector        |
 * |13 | defaultInject is false                                 | skip not_default_injected            |
 * |14 | otherwise                                              | inject default_inject                |
 *
 * The label wins over the annotation because the apiserver's objectSelector can
 * only see labels: deciding on the label first keeps the two filters in step.
 * For the same reason only the label (exactly "true") opts a pod in from an
 * unlabelled namespace: the chart's pod opt-in webhook entries select on it.
 */
export function decideInjection(
  pod: V1Pod,
  context: InjectionContext,
  config: InjectionConfig,
): Decision {
  const { namespace, namespaceLabels, injectorNamespace } = context;
  if (
    (SYSTEM_NAMESPACES as readonly string[]).includes(namespace) ||
    namespace === injectorNamespace ||
    config.ignoredNamespaces.includes(namespace)
  ) {
    return { inject: false, reason: 'ignored_namespace' };
  }
  if (namespaceLabels !== undefined) {
    const value = namespaceLabels[NAMESPACE_INJECTION_LABEL];
    if (value === 'disabled') return { inject: false, reason: 'namespace_disabled' };
    if (value !== 'enabled' && !(value === undefined && podOptsIn(pod, config))) {
      return { inject: false, reason: 'namespace_not_enabled' };
    }
  }
  if (isInjected(pod)) return { inject: false, reason: 'sidecar_already_exists' };
  if (otherMeshSidecar(pod) !== undefined) return { inject: false, reason: 'other_mesh_sidecar' };
  if (pod.spec?.hostNetwork === true) return { inject: false, reason: 'host_network_enabled' };

  const labels = pod.metadata?.labels ?? {};
  const label = explicitChoice(labels, 'label');
  if (label !== undefined) {
    return label
      ? { inject: true, reason: 'enabled_by_label' }
      : { inject: false, reason: 'injection_disabled_by_label' };
  }
  const annotation = explicitChoice(pod.metadata?.annotations ?? {}, 'annotation');
  if (annotation !== undefined) {
    return annotation
      ? { inject: true, reason: 'enabled_by_annotation' }
      : { inject: false, reason: 'injection_disabled_by_annotation' };
  }
  if (config.neverInjectSelector.some((selector) => matchesLabelSelector(selector, labels))) {
    return { inject: false, reason: 'never_inject_selector' };
  }
  if (config.alwaysInjectSelector.some((selector) => matchesLabelSelector(selector, labels))) {
    return { inject: true, reason: 'always_inject_selector' };
  }
  if (!config.defaultInject) return { inject: false, reason: 'not_default_injected' };
  return { inject: true, reason: 'default_inject' };
}

/** Injected before: our status annotation, or our containers, are already there. */
export function isInjected(pod: V1Pod): boolean {
  if (pod.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined) return true;
  const names = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map(
    (c) => c.name,
  );
  return names.includes(PROXY_CONTAINER_NAME) || names.includes(INIT_CONTAINER_NAME);
}

/** The per-pod opt-in from an unlabelled namespace, as the chart's objectSelector sees it. */
export function podOptsIn(pod: V1Pod, config: InjectionConfig): boolean {
  return config.podOptIn && pod.metadata?.labels?.[POD_INJECT_KEY] === 'true';
}

/** Marks another mesh's injector leaves on a pod: its containers or its status annotation. */
const OTHER_MESHES = [
  {
    mesh: 'Istio',
    containers: ['istio-proxy', 'istio-init', 'istio-validation'],
    annotations: ['sidecar.istio.io/status'],
  },
  {
    mesh: 'Linkerd',
    containers: ['linkerd-proxy', 'linkerd-init', 'linkerd-network-validator'],
    annotations: ['linkerd.io/proxy-version'],
  },
] as const;

/** The name of the other mesh whose sidecar the pod already carries, if any. */
export function otherMeshSidecar(pod: V1Pod): string | undefined {
  const names = new Set(
    [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].map((c) => c.name),
  );
  const annotations = pod.metadata?.annotations ?? {};
  return OTHER_MESHES.find(
    ({ containers, annotations: keys }) =>
      containers.some((name) => names.has(name)) ||
      keys.some((key) => annotations[key] !== undefined),
  )?.mesh;
}

function explicitChoice(
  map: Record<string, string>,
  kind: 'label' | 'annotation',
): boolean | undefined {
  const value = map[POD_INJECT_KEY];
  if (value === undefined) return undefined;
  const parsed = parseBoolean(value);
  if (parsed.ok) return parsed.value;
  const make = kind === 'label' ? errors.INVALID_LABEL : errors.INVALID_ANNOTATION;
  throw make(POD_INJECT_KEY, value, parsed.expected);
}
