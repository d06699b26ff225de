/**
 * What counters, gauges and histograms share: a name, help, label names, the label sets seen
 * (in the order first seen), and the `collect()` hook a registry runs before each scrape.
 */
import { checkLabelName, checkMetricName } from './exposition.ts';

export type Labels = Readonly<Record<string, string | number>>;

export interface MetricOptions<M> {
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** Called (with the metric as `this`) before every scrape: metrics read at scrape time live here. */
  collect?: (this: M) => void;
  /** Registries to add the metric to. */
  registers?: ReadonlyArray<{ registerMetric(metric: ScrapedMetric): void }>;
}

/** What a registry needs from a metric. */
export interface ScrapedMetric {
  readonly name: string;
  /** Runs `collect()`, then writes the header and the samples. */
  render(): string;
}

/** One label set's state, `values` in label-name order. */
export interface LabelledEntry<S> {
  values: string[];
  state: S;
}

export abstract class LabelledMetric<S, M> implements ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly entries = new Map<string, LabelledEntry<S>>();
  private readonly collectHook: ((this: M) => void) | undefined;

  protected constructor(options: MetricOptions<M>) {
    checkMetricName(options.name);
    for (const label of options.labelNames ?? []) checkLabelName(options.name, label);
    this.name = options.name;
    this.help = options.help;
    this.labelNames = Object.freeze([...(options.labelNames ?? [])]);
    this.collectHook = options.collect;
    for (const registry of options.registers ?? []) registry.registerMetric(this);
  }

  /** A fresh label set's state. */
  protected abstract initial(): S;
  /** The header and sample lines, from the entries. */
  protected abstract write(): string;

  /** Forgets every label set (an unlabelled metric goes back to its initial state). */
  reset(): void {
    this.entries.clear();
  }

  render(): string {
    this.collectHook?.call(this as unknown as M);
    // An unlabelled metric always has its one sample, counted or not.
    if (this.labelNames.length === 0) this.entry(undefined);
    return this.write();
  }

  /** The entry for `labels` (created when new); every label name must be given, and no other. */
  protected entry(labels: Labels | undefined): LabelledEntry<S> {
    const given = labels === undefined ? [] : Object.keys(labels);
    if (this.labelNames.length === 0 && given.length > 0) throw new TypeError(`${this.name}: has no labels, got ${given.join(', ')}`);
    if (this.labelNames.length > 0 && labels === undefined) throw new TypeError(`${this.name}: labels ${this.labelNames.join(', ')} are required`);
    const values: string[] = [];
    for (const name of this.labelNames) {
      const v = labels?.[name];
      if (v === undefined) throw new TypeError(`${this.name}: label ${name} is required`);
      values.push(String(v));
    }
    if (given.length !== this.labelNames.length) {
      throw new TypeError(`${this.name}: unknown label ${given.filter((k) => !this.labelNames.includes(k)).join(', ')}`);
    }
    const key = values.join('\u0000');
    let found = this.entries.get(key);
    if (found === undefined) {
      found = { values, state: this.initial() };
      this.entries.set(key, found);
    }
    return found;
  }
}
