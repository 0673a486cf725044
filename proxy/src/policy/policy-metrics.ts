// The policy loader's metrics (docs/metrics.md), registered only when the
// proxy was given a policy file. Kept as the data path's plain counters
// (hot-metrics.ts) so the registry renders them like every other family.
import { type CounterChild, HotCounter } from '../stats/hot-metrics.ts';
import type { Registry } from '../stats/prometheus-core.ts';

export type ReloadResult = 'applied' | 'rejected';

export class PolicyMetrics {
  private readonly reloads = new HotCounter(
    'outrigger_policy_reloads_total',
    'Changes of the traffic policy file: applied, or rejected (bad or unreadable) with the last good policy kept',
    ['result'],
  );
  private readonly generation = new HotCounter(
    'outrigger_policy_generation',
    'Generation of the traffic policy in force: 0 for the document read at start, +1 per applied reload',
    [],
    'gauge',
  );
  private readonly lastSuccessful = new HotCounter(
    'outrigger_policy_last_reload_successful',
    '0 while the proxy keeps an older policy because the file is bad or unreadable',
    [],
    'gauge',
  );
  private readonly children: Record<ReloadResult, CounterChild>;
  private readonly generationChild: CounterChild;
  private readonly lastSuccessfulChild: CounterChild;

  constructor(registry: Registry) {
    this.children = {
      applied: this.reloads.child('applied'),
      rejected: this.reloads.child('rejected'),
    };
    this.generationChild = this.generation.child();
    this.lastSuccessfulChild = this.lastSuccessful.child();
    this.lastSuccessfulChild.value = 1;
    for (const metric of [this.reloads, this.generation, this.lastSuccessful]) {
      metric.register(registry);
    }
  }

  applied(generation: number): void {
    this.children.applied.value++;
    this.generationChild.value = generation;
    this.lastSuccessfulChild.value = 1;
  }

  /** The file is back to the document in force: good again, nothing applied. */
  unchanged(): void {
    this.lastSuccessfulChild.value = 1;
  }

  rejected(): void {
    this.children.rejected.value++;
    this.lastSuccessfulChild.value = 0;
  }
}
