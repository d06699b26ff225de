/**
 * The bench's settings: fixed names and ports of the bench pods, and what the environment and
 * the command line choose, read once into a frozen object.
 *
 *   BENCH_SECONDS      measured seconds of each load run (default 10)
 *   BENCH_RATE         fixed rate, req/s (1000)
 *   BENCH_CONNECTIONS  connections of the fixed and saturation runs (16)
 *   BENCH_BODY_BYTES   request body size (1024)
 *   BENCH_ROUNDS       rounds of the setups, interleaved (1)
 *   BENCH_WARMUP_SECONDS  unmeasured seconds before each fixed-rate run (10: steady state,
 *                      see bench/README.md)
 *   BENCH_SIDECAR_NODE_OPTIONS  Node options added to the sidecars' own (`lib/pod-entry.ts`),
 *                      on their command line (so V8 flags Node refuses in NODE_OPTIONS work
 *                      too), to compare a V8 or Node flag in interleaved runs (none)
 *   BENCH_PHASES       optional phases, comma-separated, default all of:
 *                        plain     the plaintext pairs (haproxy tcp, meshtap capture on)
 *                        mtls      the meshtap mTLS pair with capture off: what mTLS alone
 *                                  costs, so capture's own share shows
 *                        stress    64 KiB bodies, 256 connections, pipelined requests (once)
 *                        collector the collector ingest phase (once)
 *                      `BENCH_PHASES=` runs only the four setups the last line must hold.
 *   --profile          afterwards, CPU and heap profiles of both sidecars and the collector
 *                      under saturation, into bench-profiles/<timestamp>/
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const NODE = join(REPO, 'node_modules/.bin/node');
export const MESHTAP = join(REPO, 'bin/meshtap.ts');
export const LOAD = join(REPO, 'bench/load.ts');
export const ECHO = join(REPO, 'bench/echo-server.ts');
export const APP_PORT = 8080;
export const APP_UID = 1000;
export const PROXY_UID = 1337;
export const ADMIN_PORT = 15020;
export const POD_NAMESPACE = 'bench';
export const POD_NAMES = ['bench-client', 'bench-server'] as const;
export const SERVICE_ACCOUNTS = ['bench-client', 'bench-server'] as const;

export const OPTIONAL_PHASES = ['plain', 'mtls', 'stress', 'collector'] as const;
export type OptionalPhase = (typeof OPTIONAL_PHASES)[number];

export interface BenchSettings {
  seconds: number;
  rate: number;
  connections: number;
  bodyBytes: number;
  rounds: number;
  /** Unmeasured seconds at the fixed rate before its measured part. */
  warmupSeconds: number;
  phases: ReadonlySet<OptionalPhase>;
  profile: boolean;
  /** Added to the sidecars' NODE_OPTIONS (empty: none). */
  sidecarNodeOptions: string;
}

/** `env[name]` as a positive number, `fallback` when unset or empty; a clear error otherwise. */
export function positive(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw}: expected a positive number`);
  return n;
}

export function resolveBenchSettings(env: Record<string, string | undefined>, argv: string[]): BenchSettings {
  const unknownArgs = argv.filter((a) => a !== '--profile');
  if (unknownArgs.length > 0) throw new Error(`unknown arguments ${unknownArgs.join(' ')} (known: --profile)`);
  const listed = env.BENCH_PHASES === undefined ? [...OPTIONAL_PHASES] : env.BENCH_PHASES.split(',').map((p) => p.trim()).filter(Boolean);
  const unknown = listed.filter((p) => !(OPTIONAL_PHASES as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_PHASES: unknown ${unknown.join(', ')} (known: ${OPTIONAL_PHASES.join(', ')})`);
  return Object.freeze({
    seconds: positive(env, 'BENCH_SECONDS', 10),
    rate: positive(env, 'BENCH_RATE', 1000),
    connections: Math.round(positive(env, 'BENCH_CONNECTIONS', 16)),
    bodyBytes: Math.round(positive(env, 'BENCH_BODY_BYTES', 1024)),
    rounds: Math.round(positive(env, 'BENCH_ROUNDS', 1)),
    warmupSeconds: positive(env, 'BENCH_WARMUP_SECONDS', 10),
    phases: new Set(listed as OptionalPhase[]),
    profile: argv.includes('--profile'),
    sidecarNodeOptions: (env.BENCH_SIDECAR_NODE_OPTIONS ?? '').trim(),
  });
}

export const log = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** The pinned Node first on PATH, for every process the bench starts. */
export const benchEnv = (): Record<string, string> => ({
  PATH: `${join(REPO, 'node_modules/.bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
});
