/**
 * How harnesses start what runs in a pod — `meshtap init`, `meshtap sidecar`, `wait-ready` —
 * the way the container image does: the compiled entry (`npm run build` → `dist/`) with the
 * sidecar's V8 limits, never the TypeScript sources.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLI_ERR_NOT_BUILT, MeshtapError } from './errors.ts';

/**
 * The sidecar's V8 limits (also in the injected container's `NODE_OPTIONS`): a 2 MiB young
 * generation costs no measurable CPU at a sidecar's allocation rate and keeps the RSS ~10 MiB
 * lower; the old generation is capped well above what the bounded queues can hold.
 */
export const SIDECAR_NODE_OPTIONS = '--max-semi-space-size=2 --max-old-space-size=128';

/**
 * The sidecar process's runtime environment, set in the injected container and by every
 * harness that starts a sidecar: the V8 limits above, and at most two glibc malloc arenas.
 * glibc gives each thread that allocates its own arena (up to 8 per core), and a sidecar has a
 * dozen threads (forwarding, capture worker, V8 and libuv helpers), each arena keeping freed
 * memory of its own: two arenas measured 6 MiB less RSS per sidecar under the bench load (one
 * arena 10 MiB less), with no CPU difference within the bench's noise. Two, not one, so the
 * forwarding thread rarely waits on a lock another thread holds while compiling or collecting.
 *
 * Blocks of 128 KiB and more are mapped on their own and unmapped when freed
 * (`MALLOC_MMAP_THRESHOLD_`): by default glibc raises that threshold each time such a block is
 * freed, so the shipper's batches (hundreds of KiB, ten a second) and TLS buffers end up in the
 * arenas, whose freed memory stays resident. Measured with `npm run bench` on 2026-12-05 (two
 * runs against three, the same code): 110 MiB per full-capture sidecar under load instead of
 * 114–115, with no difference in its threads' CPU beyond the runs' spread. The price is page
 * faults: each such block is fresh memory, about 13 µs a page to touch on this project's VM. At
 * the bench's fixed rate the capture worker took 210–400 minor faults a second (3–5 ms of CPU;
 * the bench reports them by thread) and the forwarding thread, whose hand-off chunks stay under
 * the threshold, 1–3; without this setting `bench/capture-hand-off.ts` showed about six times
 * fewer worker faults and 4–8 MiB more RSS. The shipper's batches are now written into reused
 * buffers (`lib/grpc-client/buffer-pool.ts`), so the largest of those blocks are touched once.
 */
export const SIDECAR_RUNTIME_ENV: Readonly<Record<string, string>> = Object.freeze({
  NODE_OPTIONS: SIDECAR_NODE_OPTIONS,
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
});

/** `dist/meshtap-pod.js`, or a clear error when the build has not run. */
export function podEntry(): string {
  const path = fileURLToPath(new URL('../dist/meshtap-pod.js', import.meta.url));
  if (!existsSync(path)) throw new MeshtapError(CLI_ERR_NOT_BUILT, `${path} is missing: run "npm run build" (npm ci runs it)`);
  return path;
}
