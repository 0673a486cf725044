// The RFC 6902 patch that turns the pod the apiserver sent into the injected
// pod. Add operations, with one exception: missing (or null) arrays and maps are
// created first (Injection.created, which the status annotation records), ours are inserted at the front of initContainers and containers
// (the classic proxy starts before the app) or appended elsewhere, and nothing the
// user wrote is removed or reordered among itself. The exception is the app probe
// rewrite (probes.ts): one `replace` per rewritten probe, on that probe field only,
// emitted first, while the container indices are still those of the pod the
// apiserver sent. And the metrics merge (metrics-merge.ts): a `replace` of the
// user's prometheus.io/port and /path annotations, whose values injection keeps.
import type { Injection } from './render.ts';

export interface AddOperation {
  op: 'add';
  path: string;
  value: unknown;
}

export interface ReplaceOperation {
  op: 'replace';
  path: string;
  value: unknown;
}

export type PatchOperation = AddOperation | ReplaceOperation;

/** Only `outrigger uninject` removes (uninject.ts); the webhook's patch never does. */
export interface RemoveOperation {
  op: 'remove';
  path: string;
}

/** RFC 6901 §3: `~` becomes `~0` and `/` becomes `~1` inside a reference token. */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

// The annotation keys injection adds are a handful of constants: escape each once.
const annotationPaths = new Map<string, string>();

function annotationPath(key: string): string {
  let path = annotationPaths.get(key);
  if (path === undefined) {
    path = `/metadata/annotations/${escapePointerToken(key)}`;
    if (annotationPaths.size < 64) annotationPaths.set(key, path);
  }
  return path;
}

export function buildPatch(injection: Injection): PatchOperation[] {
  const ops: PatchOperation[] = [];
  const created = new Set(injection.created);

  for (const { container, field, probe } of injection.probeRewrites) {
    ops.push({ op: 'replace', path: `/spec/containers/${container}/${field}`, value: probe });
  }

  if (injection.initContainers.length > 0) {
    if (created.has('/spec/initContainers'))
      ops.push({ op: 'add', path: '/spec/initContainers', value: [] });
    // Inserting at index i shifts the user's init containers right, keeping their order.
    injection.initContainers.forEach((container, i) => {
      ops.push({ op: 'add', path: `/spec/initContainers/${i}`, value: container });
    });
  }
  // Classic layout: the kubelet starts containers in order, so the proxy goes first.
  injection.containers.forEach((container, i) => {
    ops.push({ op: 'add', path: `/spec/containers/${i}`, value: container });
  });
  if (injection.volumes.length > 0) {
    if (created.has('/spec/volumes')) ops.push({ op: 'add', path: '/spec/volumes', value: [] });
    for (const volume of injection.volumes)
      ops.push({ op: 'add', path: '/spec/volumes/-', value: volume });
  }
  const keys = Object.keys(injection.annotations);
  if (keys.length > 0) {
    if (created.has('/metadata')) ops.push({ op: 'add', path: '/metadata', value: {} });
    if (created.has('/metadata/annotations'))
      ops.push({ op: 'add', path: '/metadata/annotations', value: {} });
    for (const key of keys) {
      ops.push({
        op: injection.replacedAnnotations.includes(key) ? 'replace' : 'add',
        path: annotationPath(key),
        value: injection.annotations[key],
      });
    }
  }
  return ops;
}

// JSON of the frozen, shared values render.ts hands out (the init container, the
// proxy, the volumes): serialized once, then reused for every pod that gets them.
const frozenJson = new WeakMap<object, string>();

function valueJson(value: unknown): string {
  if (typeof value !== 'object' || value === null || !Object.isFrozen(value))
    return JSON.stringify(value);
  let json = frozenJson.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    frozenJson.set(value, json);
  }
  return json;
}

/** The patch as JSON text, the same as JSON.stringify(ops) gives, with shared values serialized once. */
export function serializePatch(ops: readonly PatchOperation[]): string {
  let json = '[';
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as PatchOperation;
    json += `${i === 0 ? '' : ','}{"op":"${op.op}","path":${JSON.stringify(op.path)},"value":${valueJson(op.value)}}`;
  }
  return `${json}]`;
}
