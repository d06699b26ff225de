/**
 * Demo app `meshtap/demo-caller`: calls a URL in a loop and logs one JSON line per call, so a
 * scenario has steady traffic. Environment: TARGET_URL (required), INTERVAL_MS (default 2000),
 * CALLER (sent as x-caller, default the pod name).
 */
import { hostname } from 'node:os';

const target = process.env.TARGET_URL;
if (!target) {
  console.error('TARGET_URL is required');
  process.exit(2);
}
const intervalMs = Number(process.env.INTERVAL_MS ?? 2000);
const caller = process.env.CALLER ?? process.env.POD_NAME ?? process.env.HOSTNAME ?? hostname();
let stopping = false;
let n = 0;

async function once(): Promise<void> {
  const started = performance.now();
  const url = `${target}${target!.includes('?') ? '&' : '?'}n=${n++}`;
  try {
    const res = await fetch(url, { headers: { 'x-caller': caller }, signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    console.log(JSON.stringify({ url, status: res.status, ms: Math.round(performance.now() - started), bytes: body.length }));
  } catch (err) {
    console.log(JSON.stringify({ url, error: (err as Error).cause ? String((err as Error).cause) : (err as Error).message }));
  }
}

process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));
while (!stopping) {
  await once();
  await new Promise((r) => setTimeout(r, intervalMs));
}
