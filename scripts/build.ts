/**
 * `npm run build` (run by `npm ci` through `prepare`): compiles what runs inside a pod into
 * `dist/` — `meshtap-pod.js` (the init container's and the sidecar's commands) and
 * `capture-worker.js` (the sidecar's capture thread), with the chunks they share beside them.
 *
 * npm packages stay external (resolved from node_modules at run time); the project's own
 * TypeScript is compiled, so a sidecar starts without type stripping and loads only the
 * modules its commands import. `dist/meta.json` lists every input of each output (the lean
 * bundle test reads it). A failed build fails the command.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(REPO, 'dist');

rmSync(OUT, { recursive: true, force: true });
const result = await esbuild.build({
  absWorkingDir: REPO,
  entryPoints: {
    'meshtap-pod': 'bin/meshtap-pod.ts',
    'capture-worker': 'sidecar/capture-worker/worker.ts',
  },
  outdir: OUT,
  // Flat: the capture worker is found beside the chunk that starts it (worker-url.ts), and
  // files found relative to a module (../proto) resolve from dist/ as from one folder deep.
  entryNames: '[name]',
  chunkNames: 'chunk-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  packages: 'external',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
await import('node:fs/promises').then((fs) => fs.writeFile(join(OUT, 'meta.json'), JSON.stringify(result.metafile)));
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
process.stdout.write(`meshtap build: ${outputs.length} files in dist/ (${outputs.filter((f) => !f.includes('chunk-')).map((f) => f.replace(/^dist\//, '')).join(', ')})\n`);
