/** Small host-side helpers of `lab up`: port checks, programs on the node, the collector's inherited environment, review reasons. */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { stringify as toYaml } from 'yaml';
import { MeshtapError } from '../lib/errors.ts';
import { LAB_ERR_PORT_IN_USE } from './errors.ts';
import { LAB_PATH } from './paths.ts';
import type { AddressedScenario } from './scenario.ts';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function assertPortFree(port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new MeshtapError(
          LAB_ERR_PORT_IN_USE,
          `port ${port} (${what}) is ${err.code === 'EADDRINUSE' ? 'in use' : `unusable: ${err.message}`}; stop what listens there (ss -ltnp 'sport = :${port}') or choose another port`,
        ),
      ),
    );
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve()));
  });
}

/** Variables the collector inherits from whoever runs `lab up`. */
export function collectorEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = { PATH: LAB_PATH };
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (k.startsWith('OTEL_') || k.startsWith('MESHTAP_LOKI_'))) out[k] = v;
  }
  return out;
}

export function namespaceList(scenario: AddressedScenario): string {
  const items = scenario.namespaces.map((n) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: n.name, labels: n.labels, ...(Object.keys(n.annotations).length > 0 ? { annotations: n.annotations } : {}) },
  }));
  return items.map((i) => toYaml(i)).join('---\n');
}

/** Reads the webhook's log line for one review, which carries the skip reasons the response does not. */
export async function reviewReasons(log: string, uid: string): Promise<string[]> {
  for (let i = 0; i < 20; i++) {
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      if (!line.includes(uid)) continue;
      try {
        const rec = JSON.parse(line) as { uid?: string; reasons?: unknown };
        if (rec.uid === uid && Array.isArray(rec.reasons)) return rec.reasons.map(String);
      } catch {
        // not a JSON line
      }
    }
    await sleep(100);
  }
  return ['unknown'];
}

/** Whether `program` (a path, or a name looked up on `path`) is an executable file on this node. */
export function onNode(program: string, path: string): boolean {
  const candidates = program.startsWith('/') ? [program] : path.split(':').filter(Boolean).map((dir) => join(dir, program));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  });
}
