// The traffic policy file (OUTRIGGER_POLICY_FILE): read and checked once at
// start, then watched, and every change that parses replaces the PolicyState.
//
// The injector mounts the policy ConfigMap as a volume. The kubelet updates
// such a volume by writing the new keys into a fresh timestamped directory and
// swapping the `..data` symlink onto it with one rename; `policy.yaml` is a
// symlink through `..data`. The file itself is never written in place, so
// watching it would miss the swap: the directory is watched (fs.watch), a
// burst of events is debounced, and a poll every POLICY_POLL_MS catches what a
// watch misses (an inotify limit, a file system without events). Either way
// the content is compared with the last one seen, so an unchanged file costs
// a read and nothing else, and a bad document is judged (and counted) once.
//
// At start a bad or unreadable document stops the proxy with a coded error
// (OUTRIGGER_INVALID_POLICY, OUTRIGGER_POLICY_UNREADABLE), as Envoy rejects a
// bad bootstrap: the pod fails visibly instead of running without the policy
// its owner asked for. Later a bad edit keeps the last good policy, with a
// warning listing every problem and `outrigger_policy_reloads_total{result="rejected"}`.
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errors } from '../../../src/errors.ts';
import { parsePolicy } from '../../../src/shared/policy/parse.ts';
import type { Logger } from '../log.ts';
import type { Registry } from '../stats/prometheus-core.ts';
import { PolicyMetrics } from './policy-metrics.ts';
import { PolicyState } from './policy-state.ts';

/** The latest a change is noticed when the directory watch says nothing. */
export const POLICY_POLL_MS = 2_000;
/** Quiet time after the last event before the file is read: the kubelet's swap is several. */
export const POLICY_DEBOUNCE_MS = 100;

export interface PolicyFileOptions {
  log: Logger;
  registry: Registry;
  pollMs?: number;
  debounceMs?: number;
}

export interface WatchedPolicy {
  readonly state: PolicyState;
  /** Stops watching; the state keeps the policy in force. */
  close(): void;
}

/**
 * Reads and checks the document at start, then watches it. Throws
 * OUTRIGGER_POLICY_UNREADABLE or OUTRIGGER_INVALID_POLICY when the first
 * read does not give a good document.
 */
export function watchPolicyFile(file: string, options: PolicyFileOptions): WatchedPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw errors.POLICY_UNREADABLE(file, (err as Error).message);
  }
  const parsed = parsePolicy(text);
  if (!parsed.ok) throw errors.INVALID_POLICY(file, parsed.problems);
  const state = new PolicyState(parsed.policy);
  const watcher = new PolicyFileWatcher(file, text, state, options);
  options.log.info('traffic policy loaded', {
    file,
    generation: state.generation,
    outbound: parsed.policy.outbound.mode,
    listeners: parsed.policy.listeners.length,
  });
  return { state, close: () => watcher.close() };
}

class PolicyFileWatcher {
  private readonly file: string;
  private readonly state: PolicyState;
  private readonly log: Logger;
  private readonly metrics: PolicyMetrics;
  private readonly debounceMs: number;
  private readonly pollMs: number;
  /** The last content judged, good or bad, or an error's code when unreadable. */
  private lastSeen: string;
  /** The content of the policy in force. */
  private inForce: string;
  private watcher: FSWatcher | undefined;
  private readonly poll: NodeJS.Timeout;
  private debounce: NodeJS.Timeout | undefined;
  private reading = false;
  private readAgain = false;
  private closed = false;

  constructor(file: string, text: string, state: PolicyState, options: PolicyFileOptions) {
    this.file = file;
    this.state = state;
    this.log = options.log;
    this.metrics = new PolicyMetrics(options.registry);
    this.debounceMs = options.debounceMs ?? POLICY_DEBOUNCE_MS;
    this.pollMs = options.pollMs ?? POLICY_POLL_MS;
    this.lastSeen = text;
    this.inForce = text;
    try {
      this.watcher = watch(path.dirname(file), { persistent: false }, () => this.changed());
      this.watcher.on('error', (err) => this.watchFailed(err));
    } catch (err) {
      this.watchFailed(err as Error);
    }
    this.poll = setInterval(() => void this.check(), this.pollMs);
    this.poll.unref();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
  }

  private watchFailed(err: Error): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.log.warn('cannot watch the traffic policy directory: polling it only', {
      file: this.file,
      pollMs: this.pollMs,
      error: err.message,
    });
  }

  private changed(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), this.debounceMs);
    this.debounce.unref();
  }

  /** One read at a time; a change noticed during a read is read again after it. */
  private async check(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.readAgain = false;
        await this.readOnce();
      } while (this.readAgain && !this.closed);
    } finally {
      this.reading = false;
    }
  }

  private async readOnce(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      const code = `\u0000${(err as NodeJS.ErrnoException).code ?? 'error'}`;
      if (this.closed || code === this.lastSeen) return;
      this.lastSeen = code;
      this.metrics.rejected();
      this.log.warn('traffic policy unreadable: keeping the last good one', {
        file: this.file,
        generation: this.state.generation,
        error: (err as Error).message,
      });
      return;
    }
    if (this.closed || text === this.lastSeen) return;
    this.lastSeen = text;
    if (text === this.inForce) {
      // Back to the document in force (a bad edit undone, a read error gone): nothing to apply.
      this.metrics.unchanged();
      this.log.info('traffic policy file is back to the policy in force', {
        file: this.file,
        generation: this.state.generation,
      });
      return;
    }
    const parsed = parsePolicy(text);
    if (!parsed.ok) {
      this.metrics.rejected();
      this.log.warn('traffic policy rejected: keeping the last good one', {
        file: this.file,
        generation: this.state.generation,
        problems: parsed.problems,
      });
      return;
    }
    this.inForce = text;
    this.state.replace(parsed.policy);
    this.metrics.applied(this.state.generation);
    this.log.info('traffic policy applied', {
      file: this.file,
      generation: this.state.generation,
      outbound: parsed.policy.outbound.mode,
      listeners: parsed.policy.listeners.length,
    });
  }
}
