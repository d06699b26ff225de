/**
 * The bench's report, pure: from the setups' results (and the collector phase's outcome) it
 * computes the budget figures of the performance issue — each a ratio or difference between the
 * meshtap mTLS pair and the haproxy mTLS pair or the direct run of the same bench — with target
 * and verdict, and renders the tables and the last line. Nothing here measures or prints.
 */
import { SETUP, type Pair, type RecordAccount, type SetupResult, type ThreadCpu } from './results.ts';
import { describeAccount } from './sidecar-counters.ts';

/**
 * The budget: the capture-cost issue's figures, the targets of the table in README.md's
 * "Performance" (RSS: ≤ 80 MiB must, 64 aimed at).
 */
export const BUDGET = {
  cpuVsHaproxy: { must: 1.5, aim: 1.0 },
  saturationVsHaproxy: { must: 0.5 },
  captureOffVsHaproxy: { must: 1.0 },
  addedP50Ms: { must: 0.5 },
  addedP99Ms: { must: 3, aim: 2 },
  rssMiB: { must: 80, aim: 64 },
  recordsLostFixed: { must: 0 },
  collectorRecordsPerSecPerCore: { must: 20_000 },
} as const;

export interface CollectorIngestResult {
  storeOnly: { recordsPerSecPerCore: number };
  withExports: { recordsPerSecPerCore: number };
}

/** The collector phase either ran or says why not (missing module, skipped, failed). */
export type CollectorIngestOutcome = ({ available: true } & CollectorIngestResult) | { available: false; reason: string };

export type Verdict = 'pass' | 'FAIL' | 'n/a' | 'info';

export interface StoryRow {
  figure: string;
  /** The number the verdict is about (a ratio, ms, MiB, a count); undefined when not measured. */
  value?: number;
  /** The value as shown, with its inputs. */
  shown: string;
  target: string;
  verdict: Verdict;
}

const fmt = (x: number | undefined, digits = 2) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));
const sum = (p: Pair) => p[0] + p[1];
const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);

function judge(value: number | undefined, ok: (v: number) => boolean): Verdict {
  return finite(value) ? (ok(value) ? 'pass' : 'FAIL') : 'n/a';
}

/** The rows of the performance issue's table for the meshtap mTLS pair, plus startup and idle RSS. */
export function buildStory(results: SetupResult[], collector: CollectorIngestOutcome): StoryRow[] {
  const by = (name: string) => results.find((r) => r.name === name);
  const direct = by(SETUP.direct);
  const haproxy = by(SETUP.haproxyMtls);
  const full = by(SETUP.meshtapFull);
  const off = by(SETUP.meshtapOff);
  const rows: StoryRow[] = [];

  const cpuRatio = full?.cpu && haproxy?.cpu ? sum(full.cpu) / sum(haproxy.cpu) : undefined;
  rows.push({
    figure: 'CPU per sidecar at the fixed rate × one haproxy mTLS proxy',
    value: cpuRatio,
    shown:
      full?.cpu && haproxy?.cpu
        ? `${fmt(cpuRatio)}× (${fmt(sum(full.cpu) / 2, 3)} vs ${fmt(sum(haproxy.cpu) / 2, 3)} core; client ${fmt(full.cpu[0], 3)}/${fmt(haproxy.cpu[0], 3)}, server ${fmt(full.cpu[1], 3)}/${fmt(haproxy.cpu[1], 3)})` +
          // Cores over a run that overran its schedule spread the same requests over more time.
          (full.saturate.throughput < full.fixed.throughput ? `; the pair did not hold the fixed rate (saturation ${full.saturate.throughput} req/s), so this understates its CPU per request` : '')
        : '–',
    target: `≤ ${BUDGET.cpuVsHaproxy.must}× (aim ${BUDGET.cpuVsHaproxy.aim}×)`,
    verdict: judge(cpuRatio, (v) => v <= BUDGET.cpuVsHaproxy.must),
  });

  // Where a sidecar's time goes (no targets): by thread group, for the side that used more CPU,
  // with capture off beside it.
  const heavier = (r: SetupResult | undefined, key: 'cpuThreads' | 'pageFaults' | 'cpuWaitMs'): ThreadCpu | undefined => {
    const byThread = r?.[key];
    if (!byThread || !r.cpu) return undefined;
    return byThread[r.cpu[0] >= r.cpu[1] ? 0 : 1];
  };
  const split = (t: ThreadCpu, digits: number, v8 = 'V8 helpers') =>
    `forwarding ${fmt(t.forwarding, digits)}, capture worker ${fmt(t.capture, digits)}, ${v8} ${fmt(t.v8, digits)}, other ${fmt(t.other, digits)}`;
  const threadRow = (figure: string, key: 'cpuThreads' | 'pageFaults' | 'cpuWaitMs', value: (t: ThreadCpu) => number, shown: (t: ThreadCpu) => string, extra = ''): StoryRow => {
    const t = heavier(full, key);
    const offT = heavier(off, key);
    return {
      figure,
      value: t ? value(t) : undefined,
      shown: t ? `${shown(t)}${offT ? `; capture off: ${shown(offT)}` : ''}${extra}` : '–',
      target: 'reported',
      verdict: t ? 'info' : 'n/a',
    };
  };
  rows.push(threadRow('CPU per sidecar at the fixed rate, by thread (cores)', 'cpuThreads', (t) => t.forwarding, (t) => split(t, 3, 'V8 helpers (GC, compilers)')));
  rows.push(
    threadRow(
      'minor page faults per second per sidecar at the fixed rate, by thread',
      'pageFaults',
      (t) => t.forwarding + t.capture + t.v8 + t.other,
      (t) => split(t, 0),
    ),
  );
  // Time a forwarding thread spends runnable but without a CPU is time its requests wait: with
  // the pair's other threads, the app, the load and the collector on two cores, this is where a
  // p99 beyond the proxy's own work comes from.
  const waitHaproxy = heavier(haproxy, 'cpuWaitMs');
  rows.push(
    threadRow(
      "ms per second a sidecar's threads waited for a CPU at the fixed rate, by thread",
      'cpuWaitMs',
      (t) => t.forwarding,
      (t) => split(t, 1),
      waitHaproxy ? `; haproxy mTLS proxy: main ${fmt(waitHaproxy.forwarding, 1)}, other threads ${fmt(waitHaproxy.other + waitHaproxy.capture + waitHaproxy.v8, 1)}` : '',
    ),
  );

  const satRatio = full && haproxy ? full.saturate.throughput / haproxy.saturate.throughput : undefined;
  rows.push({
    figure: 'saturation throughput × haproxy mTLS pair (collector on the same cores)',
    value: satRatio,
    shown: full && haproxy ? `${fmt(satRatio)} (${full.saturate.throughput} vs ${haproxy.saturate.throughput} req/s)` : '–',
    target: `≥ ${BUDGET.saturationVsHaproxy.must}`,
    verdict: judge(satRatio, (v) => v >= BUDGET.saturationVsHaproxy.must),
  });

  const offRatio = off && haproxy ? off.saturate.throughput / haproxy.saturate.throughput : undefined;
  rows.push({
    figure: 'capture off: saturation × haproxy mTLS pair',
    value: offRatio,
    shown: off && haproxy ? `${fmt(offRatio)} (${off.saturate.throughput} vs ${haproxy.saturate.throughput} req/s)` : '–',
    target: `≥ ${BUDGET.captureOffVsHaproxy.must.toFixed(2)}`,
    verdict: judge(offRatio, (v) => v >= BUDGET.captureOffVsHaproxy.must),
  });

  for (const q of ['p50', 'p99'] as const) {
    const added = full && direct ? full.fixed.latency_ms[q] - direct.fixed.latency_ms[q] : undefined;
    const budget = q === 'p50' ? BUDGET.addedP50Ms : BUDGET.addedP99Ms;
    rows.push({
      figure: `added ${q} at the fixed rate over direct`,
      value: added,
      shown: full && direct ? `${fmt(added, 3)} ms (${fmt(full.fixed.latency_ms[q], 3)} vs ${fmt(direct.fixed.latency_ms[q], 3)} ms)` : '–',
      target: `≤ ${budget.must} ms${'aim' in budget ? ` (aim ${budget.aim})` : ''}`,
      verdict: judge(added, (v) => v <= budget.must),
    });
  }

  // mTLS without capture: splits the full-capture pair's cost into what mTLS takes and what
  // capture adds (the optional `mtls` phase).
  const mtlsOff = by(SETUP.meshtapMtlsOff);
  const mtlsCpu = mtlsOff?.cpu && haproxy?.cpu ? sum(mtlsOff.cpu) / sum(haproxy.cpu) : undefined;
  rows.push({
    figure: 'meshtap mTLS pair, capture off (mTLS alone): CPU × haproxy, added p50 / p99, saturation × haproxy',
    value: mtlsCpu,
    shown:
      mtlsOff && haproxy && direct
        ? `${fmt(mtlsCpu)}× (${fmt(mtlsOff.cpu ? sum(mtlsOff.cpu) / 2 : undefined, 3)} core), ` +
          `${fmt(mtlsOff.fixed.latency_ms.p50 - direct.fixed.latency_ms.p50, 3)} / ${fmt(mtlsOff.fixed.latency_ms.p99 - direct.fixed.latency_ms.p99, 3)} ms, ` +
          `${fmt(mtlsOff.saturate.throughput / haproxy.saturate.throughput)} (${mtlsOff.saturate.throughput} req/s)`
        : '–',
    target: 'reported',
    verdict: mtlsOff && haproxy && direct ? 'info' : 'n/a',
  });

  const rss = full?.rssMiB ? Math.max(...full.rssMiB) : undefined;
  rows.push({
    figure: 'RSS per sidecar container under load (all its processes)',
    value: rss,
    shown: full?.rssMiB
      ? `${fmt(rss, 1)} MiB (client ${fmt(full.rssMiB[0], 1)}, server ${fmt(full.rssMiB[1], 1)}` +
        // Mapped files: mostly the node binary's code, shared through the page cache.
        (full.rssFileMiB ? `; of which mapped files ${fmt(Math.max(...full.rssFileMiB), 1)}, mostly the node binary` : '') +
        `${off?.rssMiB ? `; capture off ${fmt(Math.max(...off.rssMiB), 1)}` : ''})`
      : '–',
    target: `≤ ${BUDGET.rssMiB.must} MiB (aim ${BUDGET.rssMiB.aim})`,
    verdict: judge(rss, (v) => v <= BUDGET.rssMiB.must),
  });

  const lost = full?.recordsLostFixed;
  rows.push({
    figure: 'records lost below saturation',
    value: lost,
    shown: finite(lost) ? `${lost} of ${2 * full!.fixed.total}` : '–',
    target: '0',
    verdict: judge(lost, (v) => v <= BUDGET.recordsLostFixed.must),
  });

  for (const [key, label] of [
    ['storeOnly', 'store alone'],
    ['withExports', 'store + OTel + Loki exports'],
  ] as const) {
    const value = collector.available ? collector[key].recordsPerSecPerCore : undefined;
    rows.push({
      figure: `collector ingest, full-text search on, ${label} (records/s per core)`,
      value,
      shown: collector.available ? fmt(value, 0) : `collector phase: ${collector.reason}`,
      target: `≥ ${BUDGET.collectorRecordsPerSecPerCore.must}`,
      verdict: judge(value, (v) => v >= BUDGET.collectorRecordsPerSecPerCore.must),
    });
  }

  const startup = full?.startupMs ? Math.max(...full.startupMs) : undefined;
  rows.push({
    figure: 'sidecar startup: spawn to /ready',
    value: startup,
    shown: full?.startupMs ? `${fmt(startup, 0)} ms (client ${fmt(full.startupMs[0], 0)}, server ${fmt(full.startupMs[1], 0)})` : '–',
    target: 'reported',
    verdict: finite(startup) ? 'info' : 'n/a',
  });
  const idle = full?.rssIdleMiB ? Math.max(...full.rssIdleMiB) : undefined;
  rows.push({
    figure: 'sidecar RSS at idle (ready, before load)',
    value: idle,
    shown: full?.rssIdleMiB ? `${fmt(idle, 1)} MiB (client ${fmt(full.rssIdleMiB[0], 1)}, server ${fmt(full.rssIdleMiB[1], 1)})` : '–',
    target: 'reported',
    verdict: finite(idle) ? 'info' : 'n/a',
  });
  return rows;
}

const markdown = (header: string[], rows: string[][]) => {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
};

export function storyTable(rows: StoryRow[]): string {
  return markdown(
    ['figure (meshtap mTLS pair, full capture)', 'measured', 'target', 'verdict'],
    rows.map((r) => [r.figure, r.shown, r.target, r.verdict]),
  );
}

/** Every setup's raw figures, as the bench always printed them, plus startup and idle RSS. */
export function setupsTable(results: SetupResult[], rate: number): string {
  const direct = results.find((r) => r.name === SETUP.direct);
  const haproxy = results.find((r) => r.name === SETUP.haproxyMtls);
  const pair = (p?: Pair, digits = 2) => (p ? `${fmt(p[0], digits)} / ${fmt(p[1], digits)}` : '–');
  const count = (n?: number, account?: RecordAccount) => (account ? describeAccount(account) : n === undefined ? '–' : String(n));
  const rows = results.map((r) => {
    const added = (q: 'p50' | 'p99') => (r === direct || !direct ? '–' : fmt(r.fixed.latency_ms[q] - direct.fixed.latency_ms[q], 3));
    return [
      r.name,
      fmt(r.fixed.latency_ms.p50, 3),
      fmt(r.fixed.latency_ms.p99, 3),
      added('p50'),
      added('p99'),
      `${r.fixed.ok}/${r.fixed.sent}`,
      String(r.saturate.throughput),
      direct ? fmt(r.saturate.throughput / direct.saturate.throughput) : '–',
      haproxy ? fmt(r.saturate.throughput / haproxy.saturate.throughput) : '–',
      pair(r.cpu),
      pair(r.cpuSaturated),
      pair(r.rssMiB, 1),
      pair(r.rssIdleMiB, 1),
      pair(r.startupMs, 0),
      pair(r.collectorCpu),
      count(r.recordsLostFixed, r.recordsAccountFixed),
      count(r.recordsLostSaturated, r.recordsAccountSaturated),
    ];
  });
  return markdown(
    [
      'setup',
      'p50 ms',
      'p99 ms',
      'added p50 ms',
      'added p99 ms',
      `ok @${rate}/s`,
      'saturation req/s',
      '× direct',
      '× haproxy mTLS',
      `proxy CPU cores @${rate}/s (client / server pod)`,
      'proxy CPU cores saturated',
      'proxy RSS MiB',
      'idle RSS MiB',
      'startup ms',
      `collector CPU cores (@${rate}/s / saturated)`,
      `records lost @${rate}/s`,
      'records lost saturated',
    ],
    rows,
  );
}

/** One row per stress phase and setup that ran it; `× haproxy mTLS` compares throughput in the same phase. */
export function stressTable(results: SetupResult[]): string | undefined {
  const withStress = results.filter((r) => r.stress && Object.keys(r.stress).length > 0);
  if (withStress.length === 0) return undefined;
  const haproxy = results.find((r) => r.name === SETUP.haproxyMtls);
  const pair = (p?: Pair, digits = 2) => (p ? `${fmt(p[0], digits)} / ${fmt(p[1], digits)}` : '–');
  const rows: string[][] = [];
  const phases = [...new Set(withStress.flatMap((r) => Object.keys(r.stress!)))];
  for (const phase of phases) {
    for (const r of withStress) {
      const s = r.stress![phase];
      if (!s) continue;
      const peer = haproxy?.stress?.[phase];
      rows.push([
        phase,
        r.name,
        String(s.load.throughput),
        peer ? fmt(s.load.throughput / peer.load.throughput) : '–',
        fmt(s.load.latency_ms.p50, 3),
        fmt(s.load.latency_ms.p99, 3),
        `${s.load.errors}`,
        pair(s.cpu),
        pair(s.rssMiB, 1),
        s.recordsLost === undefined ? '–' : `${s.recordsAccount ? describeAccount(s.recordsAccount) : s.recordsLost} of ${2 * s.load.total}`,
      ]);
    }
  }
  return markdown(['stress phase (saturation)', 'setup', 'req/s', '× haproxy mTLS', 'p50 ms', 'p99 ms', 'errors', 'proxy CPU cores', 'proxy RSS MiB', 'records lost'], rows);
}

/** A machine-readable summary, printed just before the last line. */
export function summaryLine(rows: StoryRow[], collector: CollectorIngestOutcome): string {
  return JSON.stringify({
    bench_summary: {
      story: rows.map(({ figure, value, target, verdict }) => ({ figure, value: finite(value) ? value : null, target, verdict })),
      collectorIngest: collector,
    },
  });
}

/** The contract's last line: one array of setups per round, however many rounds ran. */
export function lastLine(rounds: SetupResult[][]): string {
  return JSON.stringify(rounds);
}
