/**
 * Runs the load generator (`bench/load.ts`) in the client pod as the app's uid, so the pod's
 * rules send its connections through the client-side proxy.
 */
import { spawn } from 'node:child_process';
import type { PodNetns } from '../lab/netns.ts';
import type { LoadResult } from './results.ts';
import { APP_UID, LOAD, NODE } from './settings.ts';

/** `onMeasure` is called when the generator's warm-up ends, so CPU is sampled over the measured part only. */
export function runLoad(client: PodNetns, args: string[], onMeasure: () => void = () => undefined): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', client.netns, 'setpriv', `--reuid=${APP_UID}`, `--regid=${APP_UID}`, '--clear-groups', NODE, LOAD, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      const before = stdout;
      stdout += d.toString();
      if (!before.includes('"phase":"measure"') && stdout.includes('"phase":"measure"')) onMeasure();
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{"mode"')) resolve(JSON.parse(last) as LoadResult);
      else reject(new Error(`load generator exited ${code}: ${stderr}`));
    });
  });
}
