// What the PodSecurity admission plugin refuses in the containers injection adds,
// and the one sentence that says so. The webhook learns a namespace's enforced
// level from the path the chart sends it to (/inject/pod-security/<level>), and
// `outrigger check` from --namespace-labels; both explain with explainPodSecurity.
// Pure: no I/O.
import type { V1Container } from '@kubernetes/client-node';
import {
  POD_INJECT_KEY,
  POD_SECURITY_ENFORCE_LABEL,
  POD_SECURITY_REFUSING_LEVELS,
} from '../shared/contract.ts';
import type { Injection } from './render.ts';

export type EnforcedLevel = (typeof POD_SECURITY_REFUSING_LEVELS)[number];

/**
 * Capabilities a container may add at each level (Pod Security Standards:
 * baseline "Capabilities", restricted "Capabilities"). Anything else is refused.
 */
const ADDABLE_CAPABILITIES: Record<EnforcedLevel, ReadonlySet<string>> = {
  baseline: new Set([
    'AUDIT_WRITE',
    'CHOWN',
    'DAC_OVERRIDE',
    'FOWNER',
    'FSETID',
    'KILL',
    'MKNOD',
    'NET_BIND_SERVICE',
    'SETFCAP',
    'SETGID',
    'SETPCAP',
    'SETUID',
    'SYS_CHROOT',
  ]),
  restricted: new Set(['NET_BIND_SERVICE']),
};

/** One injected container and what the level refuses in it. */
export interface PodSecurityConflict {
  container: string;
  /** Short phrases: "capabilities NET_ADMIN, NET_RAW", "runs as root", "privileged". */
  refused: string[];
}

/** The enforced level from a namespace's labels, when it is one that refuses injection. */
export function enforcedLevel(
  namespaceLabels: Readonly<Record<string, string>>,
): EnforcedLevel | undefined {
  return asEnforcedLevel(namespaceLabels[POD_SECURITY_ENFORCE_LABEL]);
}

export function asEnforcedLevel(value: string | undefined): EnforcedLevel | undefined {
  return POD_SECURITY_REFUSING_LEVELS.find((level) => level === value);
}

/**
 * The rules of `level` that the injected containers break. Only the fields
 * injection sets are checked (capabilities, privileged, the user it runs as):
 * the rest of the pod is the user's, and the PodSecurity plugin reports it itself.
 */
export function podSecurityConflicts(
  level: EnforcedLevel,
  injected: readonly V1Container[],
): PodSecurityConflict[] {
  const conflicts: PodSecurityConflict[] = [];
  for (const container of injected) {
    const context = container.securityContext ?? {};
    const refused: string[] = [];
    const added = (context.capabilities?.add ?? []).filter(
      (capability) => !ADDABLE_CAPABILITIES[level].has(capability),
    );
    if (added.length > 0) refused.push(`capabilities ${added.join(', ')}`);
    if (context.privileged === true) refused.push('privileged');
    if (level === 'restricted' && (context.runAsUser === 0 || context.runAsNonRoot === false))
      refused.push('runs as root');
    if (refused.length > 0) conflicts.push({ container: container.name, refused });
  }
  return conflicts;
}

/**
 * The admission warnings (and `outrigger check` lines) for a pod whose injected
 * containers the namespace's level refuses: what is refused, then what to do.
 * Two short warnings rather than one long one: the apiserver may cut a warning
 * past 256 characters, and kubectl prints each on its own `Warning:` line.
 */
export function podSecurityWarnings(
  namespace: string,
  level: EnforcedLevel,
  conflicts: readonly PodSecurityConflict[],
): string[] {
  if (conflicts.length === 0) return [];
  const what = conflicts.map((c) => `${c.container} (${c.refused.join('; ')})`).join(', ');
  return [
    `outrigger: namespace ${namespace} enforces Pod Security "${level}", which refuses the injected ${what}`,
    `outrigger: to run injected pods there, label the namespace ${POD_SECURITY_ENFORCE_LABEL}=privileged; or opt this pod out with ${POD_INJECT_KEY}=false`,
  ];
}

/** The warnings for one rendered injection in a namespace enforcing `level`; none when it passes. */
export function explainPodSecurity(
  namespace: string,
  level: EnforcedLevel,
  injection: Pick<Injection, 'initContainers' | 'containers'>,
): string[] {
  const injected = [...injection.initContainers, ...injection.containers];
  return podSecurityWarnings(namespace, level, podSecurityConflicts(level, injected));
}
