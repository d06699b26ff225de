/** A Prometheus histogram: observations counted into cumulative `le` buckets, with their sum and count. */
import { formatValue, header, sampleLine } from './exposition.ts';
import { LabelledMetric, type Labels, type MetricOptions } from './labelled.ts';

interface HistogramState {
  /** Per bucket (not cumulative); the last one is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends LabelledMetric<HistogramState, Histogram> {
  readonly buckets: readonly number[];

  constructor(options: MetricOptions<Histogram> & { buckets: readonly number[] }) {
    const buckets = [...options.buckets].sort((a, b) => a - b);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b === buckets[i - 1]))) {
      throw new TypeError(`${options.name}: buckets must be distinct finite numbers`);
    }
    if (options.labelNames?.includes('le')) throw new TypeError(`${options.name}: "le" is the bucket label`);
    super(options);
    this.buckets = Object.freeze(buckets);
  }

  protected initial(): HistogramState {
    return { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }

  observe(labelsOrValue: Labels | number, value?: number): void {
    const labels = typeof labelsOrValue === 'number' ? undefined : labelsOrValue;
    const v = typeof labelsOrValue === 'number' ? labelsOrValue : (value as number);
    if (Number.isNaN(v)) throw new RangeError(`${this.name}: cannot observe NaN`);
    const state = this.entry(labels).state;
    let i = 0;
    while (i < this.buckets.length && v > this.buckets[i]) i++;
    state.counts[i]++;
    state.sum += v;
    state.count++;
  }

  protected write(): string {
    let out = header(this.name, this.help, 'histogram');
    for (const { values, state } of this.entries.values()) {
      let cumulative = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        cumulative += state.counts[i];
        const le = i < this.buckets.length ? formatValue(this.buckets[i]) : '+Inf';
        out += sampleLine(`${this.name}_bucket`, this.labelNames, values, cumulative, ['le', le]);
      }
      out += sampleLine(`${this.name}_sum`, this.labelNames, values, state.sum);
      out += sampleLine(`${this.name}_count`, this.labelNames, values, state.count);
    }
    return out;
  }
}
