// The traffic policy in force (src/shared/policy/schema.ts). The file loader
// replaces it when the mounted document changes; the data path reads
// `current` when a connection is accepted or a request's head is parsed, so a
// change applies to new connections and requests and never to open ones.
// Consumers that compile the policy (route tables, token buckets) cache by
// `generation`.
// Only types from schema.ts: its values would load TypeBox into every proxy.
import { POLICY_API_VERSION, POLICY_KIND } from '../../../src/shared/policy/names.ts';
import type { Policy } from '../../../src/shared/policy/schema.ts';

/** No document: every outbound destination allowed, every port on the L4 splice. */
export const EMPTY_POLICY: Policy = Object.freeze({
  apiVersion: POLICY_API_VERSION,
  kind: POLICY_KIND,
  outbound: { mode: 'allowAny', allow: [] },
  listeners: [],
}) as Policy;

export class PolicyState {
  #current: Policy;
  #generation = 0;
  readonly #listeners = new Set<(policy: Policy, generation: number) => void>();

  constructor(initial: Policy = EMPTY_POLICY) {
    this.#current = initial;
  }

  get current(): Policy {
    return this.#current;
  }

  /** Bumped by every replace; 0 for the initial policy. */
  get generation(): number {
    return this.#generation;
  }

  replace(policy: Policy): void {
    this.#current = policy;
    this.#generation += 1;
    for (const listener of this.#listeners) listener(policy, this.#generation);
  }

  onChange(listener: (policy: Policy, generation: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
