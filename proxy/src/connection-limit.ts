// How many proxied connections may be open at once. Above the limit a new
// connection is reset at once (counted, logged), so the proxy never reaches
// the point where the V8 heap, the file descriptors or the container's memory
// run out, and its health port keeps answering. The default is derived once
// at start from what this process has; docs/security.md ("Proxy") shows the
// sizing with the container image's figures.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';

/** V8 heap one idle proxied connection keeps: 3 KiB measured, doubled for the objects a busy one adds. */
export const HEAP_PER_CONNECTION = 8 * 1024;
/** Share of the V8 heap limit the connections may take; the rest is the proxy's own and GC headroom. */
export const HEAP_SHARE = 0.5;
/** Two descriptors per connection (client and upstream)… */
export const FDS_PER_CONNECTION = 2;
/** …and this many kept for the admin, health and Prometheus servers, stdio, libraries and refusals. */
export const FD_RESERVE = 256;
/** Resident memory of the proxy itself at peak (binary pages, heap base, malloc), not per connection. */
export const BASE_RESIDENT = 96 * 1024 * 1024;

export interface ResourceLimits {
  /** V8's heap_size_limit. */
  heapLimitBytes: number;
  /** RLIMIT_NOFILE (soft), if known. */
  fdLimit: number | undefined;
  /** The cgroup's memory limit, if any. */
  memoryLimitBytes: number | undefined;
}

export interface ConnectionLimit {
  limit: number;
  /** Which budget decided it. */
  boundBy: 'configured' | 'heap' | 'fds' | 'memory';
}

/**
 * The smallest of: the connections the heap share holds, those the descriptors
 * allow, and those whose read buffers and held heads fit in the container's
 * memory next to the heap and the proxy's base. A configured limit is used as
 * given, except that it is lowered to what the descriptors allow: above that,
 * accepts fail and the health port would go with them.
 */
export function connectionLimit(
  configured: number | undefined,
  limits: ResourceLimits,
  perConnectionExternalBytes: number,
  heldHeadBudgetBytes: number,
): ConnectionLimit {
  const byFds =
    limits.fdLimit === undefined
      ? Infinity
      : Math.max(1, Math.floor((limits.fdLimit - FD_RESERVE) / FDS_PER_CONNECTION));
  if (configured !== undefined) {
    return configured <= byFds
      ? { limit: configured, boundBy: 'configured' }
      : { limit: byFds, boundBy: 'fds' };
  }
  const byHeap = Math.floor((limits.heapLimitBytes * HEAP_SHARE) / HEAP_PER_CONNECTION);
  const byMemory =
    limits.memoryLimitBytes === undefined
      ? Infinity
      : Math.max(
          64,
          Math.floor(
            (limits.memoryLimitBytes -
              BASE_RESIDENT -
              limits.heapLimitBytes -
              heldHeadBudgetBytes) /
              perConnectionExternalBytes,
          ),
        );
  const limit = Math.max(1, Math.min(byHeap, byFds, byMemory));
  return {
    limit,
    boundBy: limit === byHeap ? 'heap' : limit === byFds ? 'fds' : 'memory',
  };
}

/** What this process may use, read once at start (Linux; unknowns stay undefined). */
export function readResourceLimits(): ResourceLimits {
  return {
    heapLimitBytes: v8.getHeapStatistics().heap_size_limit,
    fdLimit: readFdLimit(),
    memoryLimitBytes: readMemoryLimit(),
  };
}

function readFdLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

function readMemoryLimit(): number | undefined {
  // cgroup v2, then v1; "max" or an absurd v1 value means no limit.
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const text = readFileSync(file, 'utf8').trim();
      if (text === 'max') return undefined;
      const value = Number(text);
      if (Number.isFinite(value) && value > 0 && value < 2 ** 50) return value;
      return undefined;
    } catch {
      // not this cgroup version
    }
  }
  return undefined;
}
