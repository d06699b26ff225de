/**
 * `meshtap wait-ready`: polls the sidecar's admin `/ready` on localhost until it answers 200
 * (exit 0) or the timeout passes (exit 1). The webhook's non-native-sidecar fallback runs it as
 * the sidecar container's postStart hook, so the app containers start only once the proxy is up.
 */
import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI_ERR_USAGE, parseCommandArgs, parsePort, type CommandIO } from './cli.ts';
import { MeshtapError } from './errors.ts';

const FLAGS = {
  'admin-port': { type: 'string' },
  'timeout-seconds': { type: 'string' },
  host: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const DEFAULT_ADMIN_PORT = 15020;
const DEFAULT_TIMEOUT_SECONDS = 60;
const POLL_INTERVAL_MS = 200;
const REQUEST_TIMEOUT_MS = 1000;

export interface WaitReadyOptions {
  host: string;
  port: number;
  timeoutMs: number;
  intervalMs?: number;
}

export type WaitReadyResult = { ready: true; attempts: number } | { ready: false; attempts: number; last: string };

/** One GET /ready: the status code, or a description of why there was none. */
function probe(host: string, port: number): Promise<{ status?: number; problem?: string }> {
  return new Promise((resolve) => {
    const req = get({ host, port, path: '/ready', timeout: REQUEST_TIMEOUT_MS, agent: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ problem: err.code === 'ECONNREFUSED' ? 'connection refused' : (err.code ?? err.message) }));
  });
}

export async function waitReady(options: WaitReadyOptions): Promise<WaitReadyResult> {
  const deadline = Date.now() + options.timeoutMs;
  let attempts = 0;
  let last = 'not tried';
  for (;;) {
    attempts++;
    const result = await probe(options.host, options.port);
    if (result.status === 200) return { ready: true, attempts };
    last = result.status !== undefined ? `HTTP ${result.status}` : (result.problem ?? 'no answer');
    const left = deadline - Date.now();
    if (left <= 0) return { ready: false, attempts, last };
    await sleep(Math.min(options.intervalMs ?? POLL_INTERVAL_MS, left));
  }
}

function usage(): string {
  return `usage: meshtap wait-ready [--admin-port ${DEFAULT_ADMIN_PORT}] [--timeout-seconds ${DEFAULT_TIMEOUT_SECONDS}]

Polls http://127.0.0.1:PORT/ready (the sidecar's admin server) until it answers 200, then
exits 0; exits 1 when the timeout passes first. Used as the sidecar's postStart hook when
the pod cannot use a native sidecar.

options:
  --admin-port PORT        the sidecar's admin port (default MESHTAP_ADMIN_PORT or ${DEFAULT_ADMIN_PORT})
  --timeout-seconds N      give up after N seconds (default ${DEFAULT_TIMEOUT_SECONDS})
  --host ADDRESS           address of the admin server (default 127.0.0.1)
  -h, --help               show this help
`;
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(argv, FLAGS);
  if (values.help) {
    io.stdout.write(usage());
    return 0;
  }
  // An empty (or blank) variable is unset, as everywhere; an empty flag is a usage error. A bad
  // value is named by where it came from, the flag or the variable; 0 is no sidecar's port.
  const fromEnv = io.env.MESHTAP_ADMIN_PORT?.trim() ? io.env.MESHTAP_ADMIN_PORT : undefined;
  const portName = values['admin-port'] === undefined && fromEnv !== undefined ? 'MESHTAP_ADMIN_PORT' : '--admin-port';
  const port = parsePort(portName, values['admin-port'] ?? fromEnv, DEFAULT_ADMIN_PORT, { allowZero: false });
  const rawTimeout = values['timeout-seconds'] ?? String(DEFAULT_TIMEOUT_SECONDS);
  const timeoutSeconds = Number(rawTimeout);
  if (!/^\d+(\.\d+)?$/.test(rawTimeout.trim()) || !Number.isFinite(timeoutSeconds)) {
    throw new MeshtapError(CLI_ERR_USAGE, `--timeout-seconds must be a number of seconds, got "${rawTimeout}"`);
  }
  const host = values.host ?? '127.0.0.1';
  const result = await waitReady({ host, port, timeoutMs: timeoutSeconds * 1000 });
  if (result.ready) return 0;
  io.stderr.write(
    `meshtap wait-ready: the sidecar at http://${host}:${port}/ready was not ready within ${timeoutSeconds} s (${result.attempts} attempts, last: ${result.last})\n`,
  );
  return 1;
}
