/**
 * Where a run's records went, from the sidecars' own `/metrics`: the bench counts records lost
 * as requests × 2 observers − records the collector stored, and this says how much of that the
 * sidecars counted themselves — calls never made into records because their capture was cut
 * or skipped (the hand-off was full), and records dropped with a reason. What neither explains
 * is reported as unaccounted: the one number that would mean a silent loss.
 */
import type { RecordAccount } from './results.ts';

/** The counters read, summed over both sidecars. */
export interface SidecarCounters {
  emitted: number;
  dropped: Record<string, number>;
  cut: Record<string, number>;
  skippedBytes: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of one metric in a Prometheus text exposition: labels → value. */
export function samples(text: string, name: string): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (m === null || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2];
    const value = Number(m[3]);
    if (Number.isFinite(value)) out.push({ labels, value });
  }
  return out;
}

function byLabel(text: string, name: string, label: string, into: Record<string, number>): void {
  for (const s of samples(text, name)) {
    const key = s.labels[label] ?? '';
    into[key] = (into[key] ?? 0) + s.value;
  }
}

const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/** The counters of several expositions (one per sidecar), summed. */
export function sidecarCounters(texts: readonly string[]): SidecarCounters {
  const c: SidecarCounters = { emitted: 0, dropped: {}, cut: {}, skippedBytes: 0 };
  for (const text of texts) {
    for (const s of samples(text, 'meshtap_sidecar_records_emitted_total')) c.emitted += s.value;
    byLabel(text, 'meshtap_sidecar_records_dropped_total', 'reason', c.dropped);
    byLabel(text, 'meshtap_sidecar_capture_overflow_total', 'reason', c.cut);
    const skipped: Record<string, number> = {};
    byLabel(text, 'meshtap_sidecar_capture_skipped_bytes_total', 'reason', skipped);
    c.skippedBytes += total(skipped);
  }
  return c;
}

function minus(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(a)) {
    const d = v - (b[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

/**
 * The account of one run: `before` and `after` are the counters around it, `expected` the
 * records it should have made, `stored` those the collector stored meanwhile.
 */
export function recordAccount(before: SidecarCounters, after: SidecarCounters, expected: number, stored: number): RecordAccount {
  const emitted = after.emitted - before.emitted;
  const dropped = minus(after.dropped, before.dropped);
  const cut = minus(after.cut, before.cut);
  const skippedBytes = Math.max(0, after.skippedBytes - before.skippedBytes);
  const lost = Math.max(0, expected - stored);
  // Calls not made into records are explained only when capture says it cut or skipped something.
  const notMade = Math.max(0, expected - emitted);
  const capturedLess = total(cut) > 0 || skippedBytes > 0;
  const explained = total(dropped) + (capturedLess ? notMade : 0);
  return { expected, stored, lost, emitted, notMade, dropped, cut, skippedBytes, unaccounted: Math.max(0, lost - explained) };
}

/** One line for the tables: `1734: 1700 not made (cut 12, 3.1 MiB skipped), 34 dropped (queue_full 34)`. */
export function describeAccount(a: RecordAccount): string {
  if (a.lost === 0) return '0';
  const parts: string[] = [];
  if (a.notMade > 0) {
    const why = [
      ...(total(a.cut) > 0 ? [`cut ${Object.entries(a.cut).map(([k, v]) => `${k} ${v}`).join(', ')}`] : []),
      ...(a.skippedBytes > 0 ? [`${(a.skippedBytes / 2 ** 20).toFixed(1)} MiB skipped`] : []),
    ];
    parts.push(`${a.notMade} not made${why.length > 0 ? ` (${why.join('; ')})` : ''}`);
  }
  const droppedTotal = total(a.dropped);
  if (droppedTotal > 0) parts.push(`${droppedTotal} dropped (${Object.entries(a.dropped).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  parts.push(`${a.unaccounted} unaccounted`);
  return `${a.lost}: ${parts.join(', ')}`;
}
