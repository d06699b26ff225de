/** A Prometheus counter: only goes up (until `reset()`, which `collect()` hooks use to re-read totals). */
import { header, sampleLine } from './exposition.ts';
import { LabelledMetric, type Labels, type MetricOptions } from './labelled.ts';

export class Counter extends LabelledMetric<{ value: number }, Counter> {
  constructor(options: MetricOptions<Counter>) {
    super(options);
  }

  protected initial(): { value: number } {
    return { value: 0 };
  }

  inc(labelsOrAmount?: Labels | number, amount?: number): void {
    const labels = typeof labelsOrAmount === 'object' ? labelsOrAmount : undefined;
    const by = typeof labelsOrAmount === 'number' ? labelsOrAmount : (amount ?? 1);
    if (!(by >= 0) || !Number.isFinite(by)) throw new RangeError(`${this.name}: a counter goes up by a finite amount, not ${by}`);
    this.entry(labels).state.value += by;
  }

  protected write(): string {
    let out = header(this.name, this.help, 'counter');
    for (const { values, state } of this.entries.values()) out += sampleLine(this.name, this.labelNames, values, state.value);
    return out;
  }
}
