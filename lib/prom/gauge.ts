/** A Prometheus gauge: a value that is set. */
import { header, sampleLine } from './exposition.ts';
import { LabelledMetric, type Labels, type MetricOptions } from './labelled.ts';

export class Gauge extends LabelledMetric<{ value: number }, Gauge> {
  constructor(options: MetricOptions<Gauge>) {
    super(options);
  }

  protected initial(): { value: number } {
    return { value: 0 };
  }

  set(labelsOrValue: Labels | number, value?: number): void {
    if (typeof labelsOrValue === 'number') this.entry(undefined).state.value = labelsOrValue;
    else this.entry(labelsOrValue).state.value = value as number;
  }

  protected write(): string {
    let out = header(this.name, this.help, 'gauge');
    for (const { values, state } of this.entries.values()) out += sampleLine(this.name, this.labelNames, values, state.value);
    return out;
  }
}
