/**
 * How harnesses start what runs in a pod — `meshtap init`, `meshtap sidecar`, `wait-ready` —
 * the way the container image does: the compiled entry (`npm run build` → `dist/`) with the
 * sidecar's V8 limits, never the TypeScript sources.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CLI_ERR_NOT_BUILT, MeshtapError } from './errors.ts';

/**
 * The sidecar's V8 limits (also in the injected container's `NODE_OPTIONS`), for every isolate
 * of the process — the capture worker's too: V8 flags take precedence over a worker's
 * `resourceLimits`. A young generation of 1 MiB semi-spaces (V8's smallest) costs no measurable
 * CPU at a sidecar's allocation rate: 2 MiB semi-spaces kept the RSS ~10 MiB lower than V8's
 * default, and 1 MiB about 5 MiB lower again (a full-capture sidecar at 1000 req/s: median 85
 * against 90 MiB over nine 30 s runs each, 2026-12-07). The old generation is capped well above
 * what the bounded queues can hold.
 */
export const SIDECAR_NODE_OPTIONS = '--max-semi-space-size=1 --max-old-space-size=128';

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

/**
 * V8 flags the sidecar process runs with, given on `node`'s command line because Node refuses
 * them in `NODE_OPTIONS`: the image's launcher (`scripts/meshtap-launcher.sh`), the lab, the
 * bench and the system tests all start the sidecar through `podCommandFlags`.
 *
 * `--no-maglev`: no mid-tier optimizing compiler, so hot functions go from the baseline code
 * straight to TurboFan. A sidecar runs for the pod's lifetime, where TurboFan's code is what
 * counts; Maglev compiled some 250 functions of it first, on V8's helper threads, and kept
 * them busy long after start. Measured on 2026-12-06 with `bench/capture-hand-off.ts` (1000
 * calls a second): V8's helpers used 15–20 ms of CPU per 1000 calls 10–16 s into the load
 * with Maglev and 3–8 without (one run of six 15); 40 s in, 1–6 ms either way, and the
 * forwarding and capture threads the same within the runs' spread. In short `npm run bench`
 * runs (two interleaved pairs) the full-capture sidecar's helpers used 0.010–0.012 core at the
 * fixed rate instead of 0.027–0.030, with RSS 0–4 MiB lower. Set at run time
 * (`v8.setFlagsFromString`) instead, the helpers did worse than with Maglev.
 */
export const SIDECAR_NODE_FLAGS: readonly string[] = Object.freeze(['--no-maglev']);

/** `node`'s own flags for a pod command (`sidecar`, `init`, `wait-ready`), before the entry. */
export function podCommandFlags(command: string | undefined): readonly string[] {
  return command === 'sidecar' ? SIDECAR_NODE_FLAGS : [];
}

/** `dist/meshtap-pod.js`, or a clear error when the build has not run. */
export function podEntry(): string {
  const path = fileURLToPath(new URL('../dist/meshtap-pod.js', import.meta.url));
  if (!existsSync(path)) throw new MeshtapError(CLI_ERR_NOT_BUILT, `${path} is missing: run "npm run build" (npm ci runs it)`);
  return path;
}
