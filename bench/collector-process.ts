/**
 * The collector the bench's sidecars ship to: a real `meshtap collector` in the host namespace
 * on the bridge address, plaintext ingest, a small in-memory window. Records lost are counted
 * from its `meshtap_collector_records_stored_total`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { CallRecordJson } from '../record/record-json.ts';
import { MESHTAP, NODE, REPO, benchEnv, sleep } from './settings.ts';

/** Resolves with the first line of the child's output matching `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no ${pattern} within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      const line = output.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited ${code}:\n${output}`));
    });
  });
}

/** Sends `signal` and waits for the exit; SIGKILL after `timeoutMs`. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

export interface CollectorOptions {
  host: string;
  /** Extra `NODE_OPTIONS` (profiling flags). */
  nodeOptions?: string;
}

export class Collector {
  readonly child: ChildProcess;
  readonly host: string;
  httpPort = 0;
  grpcPort = 0;

  constructor(options: CollectorOptions) {
    this.host = options.host;
    // --auth none: the bench's own collector on its own bridge, read only by the bench (records lost).
    this.child = spawn(NODE, [MESHTAP, 'collector', '--auth', 'none', '--grpc-port', '0', '--http-port', '0', '--host', options.host, '--max-records', '1000'], {
      cwd: REPO,
      env: { ...benchEnv(), ...(options.nodeOptions ? { NODE_OPTIONS: options.nodeOptions } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Keep reading so a chatty collector never blocks on a full pipe.
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  async ready(): Promise<void> {
    const line = await waitForLine(this.child, /collector listening/, 'collector');
    const info = JSON.parse(line) as { grpcPort: number; httpPort: number };
    this.grpcPort = info.grpcPort;
    this.httpPort = info.httpPort;
  }

  async stored(): Promise<number> {
    const text = await (await fetch(`http://${this.host}:${this.httpPort}/metrics`)).text();
    const m = /^meshtap_collector_records_stored_total (\S+)$/m.exec(text);
    return Number(m?.[1] ?? 'NaN');
  }

  /** Waits until the stored count reaches `expected` or stops moving. */
  async settle(expected: number): Promise<number> {
    let last = -1;
    for (let i = 0; i < 50; i++) {
      const n = await this.stored();
      if (n >= expected || (n === last && i > 10)) return n;
      last = n;
      await sleep(200);
    }
    return this.stored();
  }

  async calls(limit: number): Promise<CallRecordJson[]> {
    const res = await fetch(`http://${this.host}:${this.httpPort}/api/calls?limit=${limit}`);
    if (res.status !== 200) throw new Error(`collector answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { calls: CallRecordJson[] }).calls;
  }

  /** Graceful (profiles are written on a clean exit), killed if it takes too long. */
  stop(graceful = false): Promise<void> {
    return stopChild(this.child, graceful ? 'SIGTERM' : 'SIGKILL', 15_000);
  }
}
