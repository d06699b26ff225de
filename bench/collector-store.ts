/**
 * Micro-benchmark of the collector's SQLite store alone, run by hand (`node
 * bench/collector-store.ts`, not part of `npm run bench`): the ingest phase's records (1 KiB
 * JSON bodies both ways, `collector-ingest.ts`) are added to a fresh store in a temporary file
 * in groups, as the group commit does, and the process's CPU per record is reported — the store's
 * share of ingest (row inserts, commit, full-text index, the record's protobuf) without gRPC,
 * decoding, enrichment or the rest of the machine in the figure.
 *
 * By default record ids are as the ingest phase makes them — a sidecar's connection id (its start
 * second, then random digits) for a connection of its own, the worst case for the id index —
 * and trace ids are scattered as a cluster's random ones are (a bijection of the record's number,
 * so no crypto call per record lands in the measured CPU): each commit then touches trace index
 * pages all over the file, which is what the page cache size is for.
 * Environment: STORE_BENCH_RECORDS (default 100 000), STORE_BENCH_GROUP (records per commit,
 * 1024), STORE_BENCH_IDS (`sidecar`, the default, or `sequential` for ids that only append to
 * the indexes; `random`, its name from when sidecars' ids were wholly random, still means `sidecar`),
 * STORE_BENCH_FULL_TEXT (`off` to drop the full-text index).
 * Add `--cpu-prof` to Node's own arguments to see where the time goes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteStore } from '../collector/store/sqlite-store.ts';
import type { CallRecord } from '../record/record.ts';
import { benchIdPrefix, benchRecord, scattered } from './collector-ingest.ts';
import { ioCounters } from './proc-stats.ts';
import { positive } from './settings.ts';

function positiveInt(name: string, fallback: number): number {
  const n = positive(process.env, name, fallback);
  if (!Number.isInteger(n)) throw new Error(`${name}=${n}: expected a whole number`);
  return n;
}

function oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!values.includes(raw as T)) throw new Error(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as T;
}

const templates = Array.from({ length: 256 }, (_, i) => benchRecord(i));

function record(n: number, ids: 'sidecar' | 'sequential'): CallRecord {
  const r = { ...templates[n % templates.length] };
  if (ids === 'sidecar') {
    // As a sidecar writes them for a connection of its own, and trace ids scattered like random
    // ones, without a crypto call per record in the measured CPU.
    const k = scattered(n);
    r.id = `${benchIdPrefix(n)}-o${n % 16}`;
    r.trace_id = `${'0'.repeat(20)}${k}`;
  } else {
    r.id = `bench-${n.toString(36).padStart(10, '0')}`;
  }
  return r;
}

async function main(): Promise<void> {
  const records = positiveInt('STORE_BENCH_RECORDS', 100_000);
  const groupSize = positiveInt('STORE_BENCH_GROUP', 1024);
  const named = oneOf('STORE_BENCH_IDS', ['sidecar', 'random', 'sequential'] as const, 'sidecar');
  const ids = named === 'random' ? 'sidecar' : named;
  const fullText = oneOf('STORE_BENCH_FULL_TEXT', ['on', 'off'] as const, 'on') === 'on';
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-store-bench-'));
  try {
    const store = createSqliteStore({ path: join(dir, 'calls.db'), retentionIntervalMs: 0, fullText: fullText });
    const io0 = ioCounters();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    let added = 0;
    let nextReport = 20_000;
    while (added < records) {
      const group: CallRecord[] = [];
      for (let k = 0; k < groupSize && added + k < records; k++) group.push(record(added + k, ids));
      const result = await store.add(group);
      if (result.stored !== group.length) throw new Error(`stored ${result.stored} of ${group.length}`);
      added += group.length;
      if (added >= nextReport) {
        process.stderr.write(`  ${added} records\n`);
        nextReport += 20_000;
      }
    }
    const cpu = process.cpuUsage(cpu0);
    const io = ioCounters();
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const wallSeconds = (performance.now() - wall0) / 1000;
    await store.close();
    const result = {
      records,
      group: groupSize,
      ids,
      fullText,
      cpuSeconds: Number(cpuSeconds.toFixed(2)),
      wallSeconds: Number(wallSeconds.toFixed(2)),
      recordsPerCpuSecond: Math.round(records / cpuSeconds),
      // What the store wrote and read back through syscalls per record: unlike CPU, the same in
      // every run of the same code, so a change to the row format or the indexes shows here first.
      bytesWrittenPerRecord: Math.round((io.wchar - io0.wchar) / records),
      bytesReadPerRecord: Math.round((io.rchar - io0.rchar) / records),
      writeCallsPerRecord: Number(((io.syscw - io0.syscw) / records).toFixed(2)),
    };
    console.log(`store alone: ${records} records in groups of ${groupSize}, ${ids} ids, full-text ${fullText ? 'on' : 'off'}: ${result.recordsPerCpuSecond} records per CPU-second (${result.cpuSeconds} s CPU, ${result.wallSeconds} s wall); per record ${result.bytesWrittenPerRecord} B written in ${result.writeCallsPerRecord} calls, ${result.bytesReadPerRecord} B read`);
    console.log(JSON.stringify(result));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`collector store bench: ${(err as Error).message}`);
  process.exitCode = 1;
});
