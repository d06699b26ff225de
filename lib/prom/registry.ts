/** A set of metrics scraped together: each one's `collect()` runs, then all are written in registration order. */
import { PROMETHEUS_CONTENT_TYPE } from './exposition.ts';
import type { ScrapedMetric } from './labelled.ts';

export class Registry {
  readonly contentType = PROMETHEUS_CONTENT_TYPE;
  private readonly metrics_ = new Map<string, ScrapedMetric>();

  registerMetric(metric: ScrapedMetric): void {
    if (this.metrics_.has(metric.name)) throw new TypeError(`a metric named ${metric.name} is already registered`);
    this.metrics_.set(metric.name, metric);
  }

  /** The exposition text. A `collect()` that throws fails the scrape (the caller answers 500), never the process. */
  // async so that a throwing collect() rejects rather than throws, as prom-client's scrape does.
  async metrics(): Promise<string> {
    // A blank line between metrics, as prom-client writes them.
    const parts: string[] = [];
    for (const metric of this.metrics_.values()) parts.push(metric.render());
    return parts.join('\n');
  }
}
