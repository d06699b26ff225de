/** A small Prometheus client for the sidecar (see README.md): counters, gauges, histograms, a registry, the process's metrics. */
export { Counter } from './counter.ts';
export { Gauge } from './gauge.ts';
export { Histogram } from './histogram.ts';
export { Registry } from './registry.ts';
export { registerProcessMetrics } from './process-metrics.ts';
export { PROMETHEUS_CONTENT_TYPE } from './exposition.ts';
export type { Labels } from './labelled.ts';
