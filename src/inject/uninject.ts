// The inverse of injection, for `outrigger uninject`: RFC 6902 operations that
// take out exactly what the status annotation lists (init containers,
// containers, volumes, annotations, the lists and maps injection created) and
// put back the app probes kept in ORIGINAL_PROBES_ANNOTATION and the annotation
// values kept in ORIGINAL_ANNOTATIONS_ANNOTATION. Nothing else is
// touched, so a pod the user edited after injection keeps those edits.
// Pure: pod in, operations and notes out.
import type { V1Pod, V1Probe } from '@kubernetes/client-node';
import { errors } from '../errors.ts';
import {
  APP_HEALTH_PATH_PREFIX,
  ORIGINAL_ANNOTATIONS_ANNOTATION,
  ORIGINAL_PROBES_ANNOTATION,
  STATUS_ANNOTATION,
} from '../shared/contract.ts';
import { escapePointerToken, type RemoveOperation, type ReplaceOperation } from './patch.ts';
import { PROBE_FIELDS, type ProbeField } from './probes.ts';
import type { CreatedField, InjectionStatus, OriginalProbes } from './render.ts';

export type UninjectOperation = RemoveOperation | ReplaceOperation;

export interface Uninjection {
  operations: UninjectOperation[];
  /** What could not be undone exactly, for stderr. */
  notes: string[];
}

const CREATED_FIELDS: readonly CreatedField[] = [
  '/spec/initContainers',
  '/spec/volumes',
  '/metadata/annotations',
  '/metadata',
];

/**
 * The operations that undo the injection recorded in the pod's status
 * annotation, or undefined when the pod has none. Throws INVALID_ANNOTATION
 * when the status (or the original probes) cannot be read.
 */
export function buildUninjectPatch(pod: V1Pod): Uninjection | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  const raw = annotations[STATUS_ANNOTATION];
  if (raw === undefined) return undefined;
  const status = parseStatus(raw);
  const notes: string[] = [];
  const operations: UninjectOperation[] = [];
  const spec = pod.spec;
  const containers = spec?.containers ?? [];

  // Probes first, while the container indexes are those of the pod as it is.
  if (status.annotations?.includes(ORIGINAL_PROBES_ANNOTATION)) {
    const originals = parseOriginalProbes(annotations[ORIGINAL_PROBES_ANNOTATION]);
    for (const [name, fields] of Object.entries(originals)) {
      const index = containers.findIndex((c) => c.name === name);
      for (const [field, probe] of Object.entries(fields) as [ProbeField, V1Probe][]) {
        const current = containers[index]?.[field];
        if (index < 0 || !isRewrittenProbe(current)) {
          notes.push(
            `the ${field} of container ${name} no longer points at the proxy; left as it is`,
          );
          continue;
        }
        operations.push({
          op: 'replace',
          path: `/spec/containers/${index}/${field}`,
          value: probe,
        });
      }
    }
  }

  if (status.annotations?.includes(ORIGINAL_ANNOTATIONS_ANNOTATION)) {
    const originals = parseOriginalAnnotations(annotations[ORIGINAL_ANNOTATIONS_ANNOTATION]);
    for (const [key, value] of Object.entries(originals)) {
      if (annotations[key] === undefined) {
        notes.push(`annotation ${key} is gone; its value before injection was ${value}`);
        continue;
      }
      operations.push({
        op: 'replace',
        path: `/metadata/annotations/${escapePointerToken(key)}`,
        value,
      });
    }
  }

  const left: Record<CreatedField, number> = {
    '/spec/initContainers': spec?.initContainers?.length ?? 0,
    '/spec/volumes': spec?.volumes?.length ?? 0,
    '/metadata/annotations': Object.keys(annotations).length,
    '/metadata': Object.keys(pod.metadata ?? {}).length,
  };
  const removeByName = (
    field: 'initContainers' | 'containers' | 'volumes',
    items: readonly { name: string }[] | undefined,
    names: readonly string[],
  ) => {
    const indexes: number[] = [];
    for (const name of names) {
      const index = (items ?? []).findIndex((item) => item.name === name);
      if (index < 0) notes.push(`${field} lists ${name}, which the pod lacks`);
      else indexes.push(index);
    }
    // From the last to the first, so each index is still right when its turn comes.
    for (const index of indexes.sort((a, b) => b - a))
      operations.push({ op: 'remove', path: `/spec/${field}/${index}` });
    return indexes.length;
  };
  left['/spec/initContainers'] -= removeByName(
    'initContainers',
    spec?.initContainers,
    status.initContainers,
  );
  removeByName('containers', containers, status.containers);
  left['/spec/volumes'] -= removeByName('volumes', spec?.volumes, status.volumes);

  if (status.annotations === undefined) {
    notes.push(
      `the status was written by Outrigger ${status.version}, which did not record the annotations it added; they are left in place`,
    );
  }
  for (const key of [...(status.annotations ?? []), STATUS_ANNOTATION]) {
    if (annotations[key] === undefined) continue;
    operations.push({ op: 'remove', path: `/metadata/annotations/${escapePointerToken(key)}` });
    left['/metadata/annotations'] -= 1;
  }
  if (left['/metadata/annotations'] === 0 && status.created?.includes('/metadata/annotations'))
    left['/metadata'] -= 1;

  for (const field of CREATED_FIELDS) {
    if (status.created?.includes(field) && left[field] === 0)
      operations.push({ op: 'remove', path: field });
  }
  return { operations, notes };
}

/** The status annotation, checked only as far as uninject relies on it. */
function parseStatus(raw: string): RecordedStatus {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  const status = value as Partial<InjectionStatus> | undefined;
  const names = (list: unknown) => Array.isArray(list) && list.every((n) => typeof n === 'string');
  const optional = (list: unknown) => list === undefined || names(list);
  if (
    typeof status !== 'object' ||
    status === null ||
    !names(status.initContainers) ||
    !names(status.containers) ||
    !names(status.volumes) ||
    !optional(status.annotations) ||
    !optional(status.created) ||
    !(status.created ?? []).every((f) => CREATED_FIELDS.includes(f as CreatedField))
  ) {
    throw errors.INVALID_ANNOTATION(
      STATUS_ANNOTATION,
      raw,
      'expected the JSON injection writes: {"initContainers":[...],"containers":[...],"volumes":[...],"annotations":[...],"created":[...]}',
    );
  }
  return status as RecordedStatus;
}

/** A status as any version wrote it: earlier ones list no annotations and no created fields. */
type RecordedStatus = Omit<InjectionStatus, 'annotations' | 'created'> &
  Partial<Pick<InjectionStatus, 'annotations' | 'created'>>;

function parseOriginalProbes(raw: string | undefined): OriginalProbes {
  let value: unknown;
  try {
    value = raw === undefined ? undefined : JSON.parse(raw);
  } catch {
    value = undefined;
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const valid =
    isObject(value) &&
    Object.values(value).every(
      (fields) =>
        isObject(fields) &&
        Object.entries(fields).every(([field, probe]) => field in PROBE_FIELDS && isObject(probe)),
    );
  if (!valid) {
    throw errors.INVALID_ANNOTATION(
      ORIGINAL_PROBES_ANNOTATION,
      raw ?? '',
      'expected the JSON injection writes: {"<container>":{"readinessProbe":{...}}}',
    );
  }
  return value as OriginalProbes;
}

function parseOriginalAnnotations(raw: string | undefined): Record<string, string> {
  let value: unknown;
  try {
    value = raw === undefined ? undefined : JSON.parse(raw);
  } catch {
    value = undefined;
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    !Object.values(value).every((v) => typeof v === 'string')
  ) {
    throw errors.INVALID_ANNOTATION(
      ORIGINAL_ANNOTATIONS_ANNOTATION,
      raw ?? '',
      'expected the JSON injection writes: {"<annotation>":"<value before injection>"}',
    );
  }
  return value as Record<string, string>;
}

/** Whether a probe is still the one injection wrote: an httpGet of the proxy's /app-health/. */
function isRewrittenProbe(probe: V1Probe | undefined): boolean {
  const path = probe?.httpGet?.path;
  return typeof path === 'string' && path.startsWith(APP_HEALTH_PATH_PREFIX);
}
