/**
 * The collector ingest phase lives in `bench/collector-ingest.ts` (recorded batches pushed over
 * gRPC; records/s per core with full-text search, store alone and with both exports). It is
 * loaded by a computed specifier so the bench runs, and says so, where that module is absent.
 */
import type { CollectorIngestOutcome, CollectorIngestResult } from './report.ts';

interface CollectorIngestModule {
  runCollectorIngestBench: (options: { seconds: number }) => Promise<CollectorIngestResult>;
}

const MODULE = './collector-ingest.ts';

export async function runCollectorPhase(seconds: number): Promise<CollectorIngestOutcome> {
  let mod: CollectorIngestModule;
  try {
    mod = (await import(MODULE)) as CollectorIngestModule;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message.includes('collector-ingest')) return { available: false, reason: 'not available' };
    return { available: false, reason: `failed to load: ${e.message}` };
  }
  if (typeof mod.runCollectorIngestBench !== 'function') return { available: false, reason: 'not available (no runCollectorIngestBench export)' };
  try {
    const result = await mod.runCollectorIngestBench({ seconds });
    return { available: true, storeOnly: result.storeOnly, withExports: result.withExports };
  } catch (err) {
    return { available: false, reason: `failed: ${(err as Error).message}` };
  }
}
