/**
 * Where the capture worker's script is. From source (type-stripped `.ts`), the worker runs
 * `worker.ts` beside this file; from the compiled bundle (`dist/`), the bundler emits the
 * worker as `capture-worker.js` next to the sidecar's chunks, and this module is inlined into
 * one of them, so the sibling is found relative to the bundle.
 */
export function captureWorkerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL('./worker.ts', here);
  return new URL('./capture-worker.js', here);
}
