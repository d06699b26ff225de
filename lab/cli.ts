/**
 * `meshtap lab up|status|exec|down`: a Kubernetes-like cluster on one machine, pods as network
 * namespaces, through the real webhook, init, sidecar and collector.
 */
import { spawn } from 'node:child_process';
import { CLI_ERR_USAGE, parseCommandArgs, parsePort, reportFailure, runSubcommands, type CommandIO, type Subcommand } from '../lib/cli.ts';
import { MeshtapError } from '../lib/errors.ts';
import { waitForSignal } from '../lib/signals.ts';
import { CONTROLLER_PORT, DEFAULT_COLLECTOR_GRPC_PORT, DEFAULT_COLLECTOR_HTTP_PORT, STATE_DIR } from './addresses.ts';
import { labDown, labExists } from './down.ts';
import { LAB_ERR_ALREADY_UP, LAB_ERR_NOT_ROOT, LAB_ERR_NOT_UP, LAB_ERR_POD_NOT_FOUND } from './errors.ts';
import { netnsPids } from './node-network.ts';
import { DEFAULT_SCENARIO, FALLBACK_SCENARIO, resolveScenario } from './paths.ts';
import { isAlive, wrapArgv } from './processes.ts';
import { readState, type LabState, type PodState } from './state.ts';
import { assertPortFree } from './host-helpers.ts';
import { dnsStatus } from './cluster-dns.ts';
import { LabStarter } from './up.ts';

const USAGE = `usage: meshtap lab <command> [options]

A cluster on this machine: every pod of a scenario (a directory of Kubernetes YAML) is a
network namespace on a bridge, admitted by the real controller (webhook, CA, membership feed),
with the injected init container and sidecar run as the patch says, and a real collector. Needs root.

commands:
  up [--scenario NAME|DIR] [--foreground] [--grpc-port P] [--http-port P] [--timeout SECONDS]
        bring the scenario up; returns when every pod is ready and prints the dashboard URL
  status [--json]
        pods (namespace, netns, IP, injected, ready), services (VIP, ports), controller and
        collector addresses
  exec POD -- CMD [ARGS...]
        run CMD in the pod's network namespace as its app user with the app's environment
  down  stop every process and remove every namespace, link, /etc/netns file and the state
        (also after a crashed "lab up")

State, logs and certificates live in ${STATE_DIR}.
Run "meshtap lab <command> --help" for a command's options.
`;

const DEFAULT_POD_TIMEOUT_SECONDS = 90;

const UP_USAGE = `usage: meshtap lab up [--scenario NAME|DIR] [--foreground] [--grpc-port P] [--http-port P]
                      [--timeout SECONDS]

Brings a scenario up: each pod a network namespace, admitted by the real controller, with the
injected init container and sidecar, and a real collector. Returns when every pod is ready and
prints the dashboard URL. Needs root.

options:
  --scenario NAME|DIR  a built-in scenario under lab/scenarios/ or a directory of Kubernetes YAML
                       (default ${DEFAULT_SCENARIO}, or ${FALLBACK_SCENARIO} while ${DEFAULT_SCENARIO} does not exist)
  --foreground         stay attached; Ctrl-C takes the lab down
  --grpc-port P        the collector's gRPC port (default ${DEFAULT_COLLECTOR_GRPC_PORT})
  --http-port P        the collector's HTTP port, for its API and dashboard (default ${DEFAULT_COLLECTOR_HTTP_PORT})
  --timeout SECONDS    how long each pod may take to become ready (default ${DEFAULT_POD_TIMEOUT_SECONDS})
  -h, --help           show this help

Exit: 0 once the lab is ready (with --foreground, once it is down again), 1 when it cannot be
brought up (what was started is taken down), 130 when interrupted on the way, 2 for a usage error.
`;

const STATUS_USAGE = `usage: meshtap lab status [--json]

Prints the lab's pods (namespace, netns, IP, injected, ready), services (VIP, ports), and the
controller's, collector's and dashboard's addresses.

options:
  --json      the same as one JSON document (with the collector's API token)
  -h, --help  show this help

Exit: 0 when a lab is up, 1 when none is, 2 for a usage error.
`;

const EXEC_USAGE = `usage: meshtap lab exec POD -- CMD [ARGS...]

Runs CMD in the pod's network namespace as its app user, with the app's environment. POD is
NAME, NAMESPACE/NAME, or a unique Deployment-name prefix. Needs root.

options:
  -h, --help  show this help (before the --)

Exit: CMD's exit code.
`;

const DOWN_USAGE = `usage: meshtap lab down

Stops every process of the lab and removes every namespace, link, /etc/netns file and the state
in ${STATE_DIR}; also after a crashed "lab up". Nothing up is not an error. Needs root.

options:
  -h, --help  show this help
`;

/** What `meshtap lab` runs. */
const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  up: { usage: UP_USAGE, run: up },
  status: { usage: STATUS_USAGE, run: status },
  exec: { usage: EXEC_USAGE, run: exec },
  down: { usage: DOWN_USAGE, run: down },
};

function usageError(message: string): MeshtapError {
  return new MeshtapError(CLI_ERR_USAGE, message);
}

/** `why`: what the subcommand does as root. The prefix names it (`meshtap lab up: LAB_ERR_NOT_ROOT: needs root …`). */
function requireRoot(why: string): void {
  if (process.getuid?.() !== 0) {
    throw new MeshtapError(LAB_ERR_NOT_ROOT, `needs root ${why}; run it with sudo ("meshtap check" lists what else the lab needs)`);
  }
}

export function run(argv: string[], io: CommandIO): Promise<number> {
  return runSubcommands('lab', USAGE, SUBCOMMANDS, argv, io);
}

async function up(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, {
    scenario: { type: 'string' },
    foreground: { type: 'boolean' },
    'grpc-port': { type: 'string' },
    'http-port': { type: 'string' },
    timeout: { type: 'string' },
  }, true);
  if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}"`);
  const grpcPort = parsePort('--grpc-port', values['grpc-port'], DEFAULT_COLLECTOR_GRPC_PORT);
  const httpPort = parsePort('--http-port', values['http-port'], DEFAULT_COLLECTOR_HTTP_PORT);
  if (grpcPort === 0 || httpPort === 0 || grpcPort === httpPort) throw usageError('--grpc-port and --http-port must be two different ports 1-65535');
  const timeout = values.timeout ?? String(DEFAULT_POD_TIMEOUT_SECONDS);
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1) throw usageError(`--timeout must be a whole number of seconds, got "${timeout}"`);
  requireRoot('to create network namespaces, links and iptables rules');

  const scenario = resolveScenario(values.scenario, process.cwd());
  const existing = readState(STATE_DIR);
  if (existing || (await labExists(STATE_DIR))) {
    const owner = existing && isAlive(existing.pid) ? ` by pid ${existing.pid}` : '';
    throw new MeshtapError(
      LAB_ERR_ALREADY_UP,
      existing
        ? `a lab is already ${existing.phase === 'ready' ? 'up' : existing.phase}${owner} (scenario ${existing.scenario.name}, started ${existing.startedAt}); run "meshtap lab down" first`
        : 'leftovers of an earlier lab exist; run "meshtap lab down" first',
    );
  }
  await assertPortFree(grpcPort, 'collector gRPC');
  await assertPortFree(httpPort, 'collector HTTP');
  await assertPortFree(CONTROLLER_PORT, 'controller CA and membership gRPC');

  const abort = new AbortController();
  const progress = (line: string) => io.stdout.write(`${line}\n`);
  const starter = new LabStarter({
    scenario,
    stateDir: STATE_DIR,
    grpcPort,
    httpPort,
    env: io.env,
    progress,
    podTimeoutMs: Number(timeout) * 1000,
    signal: abort.signal,
  });
  starter.claim();
  const interrupt = waitForSignal();
  void interrupt.promise.then(() => abort.abort());
  let state: LabState;
  try {
    state = await starter.run();
  } catch (err) {
    interrupt.dispose();
    if (abort.signal.aborted) io.stderr.write('meshtap lab up: interrupted\n');
    const code = abort.signal.aborted ? 130 : reportFailure(io.stderr, 'lab up', err);
    io.stderr.write('meshtap lab up: taking the partial lab down\n');
    await labDown({ stateDir: STATE_DIR, progress: (l) => io.stderr.write(`  ${l}\n`) });
    return code;
  }
  interrupt.dispose();
  const ready = state.pods.filter((p) => p.phase === 'ready').length;
  progress(`lab ready: ${ready} pods (${state.pods.filter((p) => p.injected).length} with a sidecar), ${state.services.length} services`);
  progress(`collector API: ${state.collector?.url}/api/calls`);
  progress(`dashboard: ${state.collector?.dashboardUrl}`);
  if (!values.foreground) {
    starter.release();
    progress('try: meshtap lab status; meshtap lab exec POD -- curl -s http://SERVICE.NAMESPACE/; meshtap lab down');
    return 0;
  }
  progress(`logs: ${STATE_DIR}/logs/   state: ${STATE_DIR}/state.json`);
  progress('press Ctrl-C to take the lab down');
  const stop = waitForSignal();
  const signal = await stop.promise;
  stop.dispose();
  starter.release();
  progress(`${signal}: taking the lab down`);
  const result = await labDown({ stateDir: STATE_DIR, progress: (l) => progress(`  ${l}`) });
  for (const p of result.problems) io.stderr.write(`meshtap lab: ${p}\n`);
  return result.problems.length > 0 ? 1 : 0;
}

function requireState(): LabState {
  const state = readState(STATE_DIR);
  if (!state) throw new MeshtapError(LAB_ERR_NOT_UP, 'no lab is up (start one with "meshtap lab up")');
  return state;
}

interface PodStatus {
  name: string;
  namespace: string;
  workload?: string;
  netns: string;
  ip: string;
  injected: boolean;
  skipReasons?: string[];
  phase: PodState['phase'];
  ready: boolean;
  containers: Array<{ name: string; role: string; uid: number; state: string; running: boolean; log: string }>;
}

async function describePods(state: LabState): Promise<PodStatus[]> {
  return Promise.all(
    state.pods.map(async (p) => {
      const alive = (await netnsPids(p.netns)).length > 0;
      const containers = p.containers.map((c) => ({
        name: c.name,
        role: c.role,
        uid: c.uid,
        state: c.state,
        running: c.role !== 'init' && c.pid !== undefined && isAlive(c.pid),
        log: c.log,
      }));
      const longRunning = containers.filter((c) => c.role !== 'init');
      return {
        name: p.name,
        namespace: p.namespace,
        ...(p.workload ? { workload: p.workload } : {}),
        netns: p.netns,
        ip: p.ip,
        injected: p.injected === true,
        ...(p.skipReasons ? { skipReasons: p.skipReasons } : {}),
        phase: p.phase,
        ready: p.phase === 'ready' && alive && longRunning.every((c) => c.running),
        containers,
      };
    }),
  );
}

async function status(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, true);
  if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}"`);
  const state = readState(STATE_DIR);
  if (!state) {
    if (values.json) io.stdout.write(`${JSON.stringify({ up: false })}\n`);
    else io.stdout.write('no lab is up (start one with "meshtap lab up")\n');
    return 1;
  }
  const pods = await describePods(state);
  const services = state.services.map((s) => ({
    name: s.name,
    namespace: s.namespace,
    vip: s.clusterIP,
    ports: s.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, targetPort: p.targetPort, endpoints: p.endpoints.map((e) => `${e.ip}:${e.port}`) })),
  }));
  const doc = {
    up: true,
    phase: state.phase,
    pid: state.pid,
    scenario: state.scenario,
    startedAt: state.startedAt,
    stateDir: state.stateDir,
    node: { bridge: state.bridge?.name, gateway: state.bridge?.gateway },
    webhook: state.webhook,
    controller: state.controller
      ? {
          process: state.controller.process,
          pid: state.controller.pid,
          running: state.controller.pid !== undefined && isAlive(state.controller.pid),
          webhook: state.controller.webhookUrl,
          grpc: state.controller.grpcAddr,
          ...(state.controller.trustDomain ? { trustDomain: state.controller.trustDomain } : {}),
          log: state.controller.log,
        }
      : undefined,
    inventory: state.inventory,
    collector: state.collector
      ? {
          url: state.collector.url,
          grpc: state.collector.grpcAddr,
          pid: state.collector.pid,
          running: state.collector.pid !== undefined && isAlive(state.collector.pid),
          ...(state.collector.token !== undefined ? { token: state.collector.token } : {}),
          dashboardUrl: state.collector.dashboardUrl,
          dashboard: state.collector.dashboardUrl,
        }
      : undefined,
    dns: state.dns ? dnsStatus(state.dns, state.dns.pid !== undefined && isAlive(state.dns.pid)) : undefined,
    pods,
    services,
  };
  if (values.json) {
    io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  }
  const lines = [`lab ${state.phase} — scenario ${state.scenario.name}, started ${state.startedAt} (pid ${state.pid})`, ''];
  const rows = pods.map((p) => [
    `${p.namespace}/${p.name}`,
    p.ip,
    p.injected ? 'sidecar' : `no sidecar (${p.skipReasons?.join(',') ?? '?'})`,
    p.ready ? 'ready' : p.phase === 'ready' ? 'NOT RUNNING' : p.phase,
    p.netns,
  ]);
  lines.push(...table(['POD', 'IP', 'MESH', 'STATUS', 'NETNS'], rows), '');
  lines.push(
    ...table(
      ['SERVICE', 'VIP', 'PORTS'],
      services.map((s) => [`${s.namespace}/${s.name}`, s.vip, s.ports.map((p) => `${p.port}->${p.targetPort} (${p.endpoints.length} endpoint${p.endpoints.length === 1 ? '' : 's'})`).join(', ')]),
    ),
    '',
  );
  if (doc.controller) {
    lines.push(`controller: ${doc.controller.process} (pid ${doc.controller.pid ?? '?'}${doc.controller.running ? '' : ', NOT RUNNING'}): webhook ${doc.controller.webhook}, CA and membership ${doc.controller.grpc}`);
  }
  if (doc.collector) {
    lines.push(`collector: ${doc.collector.url} (gRPC ${doc.collector.grpc}; pid ${doc.collector.pid ?? '?'}${doc.collector.running ? '' : ', NOT RUNNING'})`, `dashboard: ${doc.collector.dashboard}`);
  }
  if (state.dns) lines.push(`dns: kube-system/kube-dns ${state.dns.vip} -> dnsmasq ${state.dns.ip} (${doc.dns?.running ? `pid ${state.dns.pid}` : 'NOT RUNNING'})`);
  io.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}

/** NAME, NAMESPACE/NAME, or a prefix (a Deployment's name) matching exactly one pod. */
export function findPod(pods: readonly PodState[], ref: string): PodState {
  const [ns, name] = ref.includes('/') ? ref.split('/', 2) : [undefined, ref];
  const inNs = pods.filter((p) => ns === undefined || p.namespace === ns);
  const exact = inNs.filter((p) => p.name === name);
  if (exact.length === 1) return exact[0];
  const workloadName = (p: PodState): string | undefined => p.workload?.slice(p.workload.indexOf('/') + 1);
  let candidates = exact.length > 1 ? exact : inNs.filter((p) => p.name.startsWith(`${name}-`) || workloadName(p) === name);
  // Then a prefix of a workload's or a pod's name (`pay` for payment), as the help says.
  if (candidates.length === 0) candidates = inNs.filter((p) => workloadName(p)?.startsWith(name) === true || p.name.startsWith(name));
  if (candidates.length === 1) return candidates[0];
  const list = (candidates.length > 0 ? candidates : pods).map((p) => `${p.namespace}/${p.name}`).join(', ');
  throw new MeshtapError(
    LAB_ERR_POD_NOT_FOUND,
    candidates.length > 1 ? `"${ref}" matches several pods: ${list}; name one` : `no pod "${ref}" in the lab (pods: ${list})`,
  );
}

async function exec(argv: string[], io: CommandIO): Promise<number> {
  const dash = argv.indexOf('--');
  const before = dash === -1 ? argv : argv.slice(0, dash);
  const command = dash === -1 ? [] : argv.slice(dash + 1);
  if (before.length !== 1 || command.length === 0) throw usageError('give one pod, then -- and the command: meshtap lab exec POD -- CMD [ARGS...]');
  requireRoot("to enter the pod's network namespace as its app user");
  const state = requireState();
  const pod = findPod(state.pods, before[0]);
  const app = pod.app;
  const uid = app?.uid ?? 1000;
  const full = wrapArgv(command, pod.netns, uid, app?.gid ?? uid);
  const env = app?.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  return new Promise<number>((resolve) => {
    const child = spawn(full[0], full.slice(1), { stdio: 'inherit', env, cwd: '/' });
    // The command gets the terminal's signals itself; the lab only waits for it.
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    const done = (code: number) => {
      process.off('SIGINT', ignore);
      resolve(code);
    };
    child.on('error', (err) => {
      io.stderr.write(`meshtap lab exec: ${err.message}\n`);
      done(127);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 1)));
  });
}

async function down(argv: string[], io: CommandIO): Promise<number> {
  const { positionals } = parseCommandArgs(argv, {}, true);
  if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}"`);
  requireRoot("to remove the lab's network namespaces, links and iptables rules");
  if (!(await labExists(STATE_DIR))) {
    io.stdout.write('no lab is up: nothing to do\n');
    return 0;
  }
  const result = await labDown({ stateDir: STATE_DIR, progress: (l) => io.stdout.write(`${l}\n`) });
  for (const p of result.problems) io.stderr.write(`meshtap lab down: ${p}\n`);
  if (result.problems.length > 0) return 1;
  io.stdout.write('lab is down\n');
  return 0;
}
