// Metrics the data path updates on every request or connection, kept as plain
// numbers: recording is an addition on a cached child, with no label hashing.
// prom-client's registry renders them at scrape time through its custom-metric
// interface (an object with name, help, type and get()), so the exposition
// format stays prom-client's.
import type { Registry } from './prometheus-core.ts';

type LabelValues = readonly string[];

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

abstract class Family<Child> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly children = new Map<string, { labels: Record<string, string>; child: Child }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** The child for these label values; callers cache it. */
  child(...values: LabelValues): Child {
    const key = values.join('\u0000');
    let entry = this.children.get(key);
    if (entry === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => {
        labels[n] = values[i] ?? '';
      });
      entry = { labels, child: this.create() };
      this.children.set(key, entry);
    }
    return entry.child;
  }

  protected abstract create(): Child;
  protected abstract values(): MetricValue[];
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  register(registry: Registry): void {
    const metric = {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: 'sum',
      get: async () => ({
        name: this.name,
        help: this.help,
        type: this.type,
        aggregator: 'sum',
        values: this.values(),
      }),
    };
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  }
}

export interface CounterChild {
  value: number;
}

export class HotCounter extends Family<CounterChild> {
  readonly type: 'counter' | 'gauge';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    type: 'counter' | 'gauge' = 'counter',
  ) {
    super(name, help, labelNames);
    this.type = type;
  }

  protected create(): CounterChild {
    return { value: 0 };
  }

  protected values(): MetricValue[] {
    return [...this.children.values()].map(({ labels, child }) => ({ labels, value: child.value }));
  }
}

export interface HistogramChild {
  /** Per-bucket (non-cumulative) counts; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export class HotHistogram extends Family<HistogramChild> {
  readonly type = 'histogram' as const;
  readonly buckets: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    super(name, help, labelNames);
    this.buckets = buckets;
  }

  observe(child: HistogramChild, value: number): void {
    const buckets = this.buckets;
    let i = 0;
    while (i < buckets.length && value > buckets[i]!) i++;
    child.counts[i]!++;
    child.sum += value;
    child.count++;
  }

  protected create(): HistogramChild {
    return { counts: new Float64Array(this.buckets.length + 1), sum: 0, count: 0 };
  }

  protected values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (const { labels, child } of this.children.values()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += child.counts[i]!;
        out.push({
          labels: { ...labels, le },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      out.push({
        labels: { ...labels, le: '+Inf' },
        value: child.count,
        metricName: `${this.name}_bucket`,
      });
      out.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
      out.push({ labels, value: child.count, metricName: `${this.name}_count` });
    }
    return out;
  }
}
