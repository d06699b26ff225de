/**
 * Bytes a piece of code allocates, for the standalone micro-benchmarks: the growth of the V8
 * heap plus ArrayBuffer memory (Buffers' backing stores) over windows that start right after a
 * forced full collection and see none themselves, so it counts what was allocated, not what
 * survived; it includes a few dozen bytes of the measurement itself. Unlike times, it does not
 * move with the machine's load.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

// A full collection on demand, so an allocation window starts from an empty young generation and
// ArrayBuffers freed earlier are not counted against it.
v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;
const profiler = new v8.GCProfiler();
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Collects, then waits until the concurrent sweep has freed what the collection found dead. */
function settle(): void {
  collect();
  let previous = -1;
  for (let i = 0; i < 100; i++) {
    const now = process.memoryUsage().arrayBuffers;
    if (now === previous) return;
    previous = now;
    Atomics.wait(pause, 0, 0, 2);
  }
}

/**
 * Bytes allocated per unit by `run`, which does `unitsPerRun` units (records, calls) each time,
 * over about `units` units; windows that saw a collection are dropped and the next one halved.
 * NaN when no window went without a collection.
 */
export function bytesAllocatedPerUnit(run: () => void, unitsPerRun: number, units = 2000): number {
  let window = Math.max(1, Math.floor(100 / unitsPerRun));
  let bytes = 0;
  let measured = 0;
  for (let attempt = 0; attempt < 200 && measured < units; attempt++) {
    settle();
    const heap0 = v8.getHeapStatistics().used_heap_size;
    const buffers0 = process.memoryUsage().arrayBuffers;
    profiler.start();
    for (let i = 0; i < window; i++) run();
    const collections = profiler.stop().statistics.length;
    const heap1 = v8.getHeapStatistics().used_heap_size;
    const buffers1 = process.memoryUsage().arrayBuffers;
    if (collections > 0) {
      window = Math.max(1, window >> 1);
      continue;
    }
    bytes += heap1 - heap0 + (buffers1 - buffers0);
    measured += window * unitsPerRun;
  }
  return measured === 0 ? Number.NaN : bytes / measured;
}
