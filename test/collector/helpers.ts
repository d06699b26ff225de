import { resolveCollectorOptions } from '../../collector/config.ts';
import { startCollector, type RunningCollector } from '../../collector/collector.ts';
import { createMemoryStore } from '../../collector/memory-store.ts';
import type { RecordStore } from '../../collector/record-store.ts';

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A collector on loopback; port 0 picks free ports. */
export function startTestCollector(options: { grpcPort?: number; store?: RecordStore; maxRecords?: number } = {}): Promise<RunningCollector> {
  const config = resolveCollectorOptions({ host: '127.0.0.1', grpcPort: options.grpcPort ?? 0, httpPort: 0, maxRecords: options.maxRecords ?? 100_000 });
  return startCollector(config, { store: options.store });
}

/** A memory store whose every add() waits `delayMs` first: a collector that acks slowly. */
export function slowStore(delayMs: number): RecordStore & { adds: number } {
  const inner = createMemoryStore({ maxRecords: 100_000 });
  const store = {
    ...inner,
    adds: 0,
    async add(records: Parameters<RecordStore['add']>[0]) {
      store.adds++;
      await new Promise((r) => setTimeout(r, delayMs));
      return inner.add(records);
    },
  };
  return store;
}

export async function metricValue(collector: RunningCollector, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await collector.metrics.registry.getSingleMetric(name)?.get();
  const hit = metric?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}
