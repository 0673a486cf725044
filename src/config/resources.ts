// The one check that a container's resource requests stay within its limits,
// run on the configuration when it loads and on the proxy's resources once the
// pod's annotations are laid over them. The apiserver would refuse such a pod
// with a message about the container; refusing first names the setting.
import { parseQuantity } from '../shared/grammar/index.ts';
import type { ResourceRequirements } from './schema.ts';

export interface RequestAboveLimit {
  resource: 'cpu' | 'memory';
  request: string;
  limit: string;
}

/** Every resource whose request is above its limit (cpu first), as the user wrote them. */
export function requestsAboveLimits(resources: ResourceRequirements): RequestAboveLimit[] {
  const found: RequestAboveLimit[] = [];
  for (const resource of ['cpu', 'memory'] as const) {
    const request = resources.requests?.[resource];
    const limit = resources.limits?.[resource];
    if (request === undefined || limit === undefined) continue;
    const r = parseQuantity(request);
    const l = parseQuantity(limit);
    if (r.ok && l.ok && r.value > l.value) found.push({ resource, request, limit });
  }
  return found;
}
