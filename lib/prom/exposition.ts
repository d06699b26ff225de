/**
 * The Prometheus text exposition format (version 0.0.4), pure: how a metric's header and
 * samples are written. https://prometheus.io/docs/instrumenting/exposition_formats/
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Throws a TypeError for a name Prometheus would refuse: a programming error, found at registration. */
export function checkMetricName(name: string): void {
  if (!METRIC_NAME.test(name)) throw new TypeError(`invalid metric name ${JSON.stringify(name)}`);
}

export function checkLabelName(metric: string, label: string): void {
  if (!LABEL_NAME.test(label) || label.startsWith('__')) throw new TypeError(`${metric}: invalid label name ${JSON.stringify(label)}`);
}

/** HELP text escapes backslash and newline. */
export function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values escape backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  return String(value);
}

export function header(name: string, help: string, type: 'counter' | 'gauge' | 'histogram'): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}

/** `name{a="x",b="y"} value` with the labels in the order given (`first` before them: a histogram's `le`, where prom-client puts it). */
export function sampleLine(name: string, labelNames: readonly string[], values: readonly string[], value: number, first?: [string, string]): string {
  const parts: string[] = [];
  if (first) parts.push(`${first[0]}="${escapeLabelValue(first[1])}"`);
  for (let i = 0; i < labelNames.length; i++) parts.push(`${labelNames[i]}="${escapeLabelValue(values[i])}"`);
  return `${name}${parts.length > 0 ? `{${parts.join(',')}}` : ''} ${formatValue(value)}\n`;
}
