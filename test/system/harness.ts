/**
 * The system tests' lab: two pods (client and server) on a bridge, each with the real
 * `meshtap init` rules and the real sidecar running as the proxy uid with only the
 * environment the webhook injects, a real collector in the host namespace on the bridge's
 * address, and a real application in the server pod running as an ordinary uid.
 *
 * `destroy()` removes everything (processes, namespaces with their rules, links, bridge) and
 * `leftovers()` lists whatever survived, so a test can assert nothing is left behind.
 */
import { SIDECAR_RUNTIME_ENV, podCommandFlags, podEntry } from '../../lib/pod-entry.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PodNetwork, execInNetns, listNetns, sh, spawnInNetns, type PodNetns } from '../../lab/netns.ts';
import type { CallRecordJson } from '../../record/record-json.ts';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const NODE = join(REPO, 'node_modules/.bin/node');
export { podEntry };
export const MESHTAP = join(REPO, 'bin/meshtap.ts');
const APP_SCRIPT = join(REPO, 'test/system/app-server.ts');
const CLIENT_SCRIPT = join(REPO, 'test/system/client.ts');

export const APP_UID = 1000;
export const PROXY_UID = 1337;
export const ADMIN_PORT = 15020;
export const APP_PORTS = Object.freeze({ http: 8080, httpExcluded: 9090, halfClose: 7000, banner: 2525 });
const POD_NAMESPACE = 'systest';
const NODE_NAME = 'lab-node-1';

/** A process we started, with its output kept for failure messages. */
export class Proc {
  readonly child: ChildProcess;
  readonly name: string;
  output = '';
  exitCode: number | null | undefined;
  private readonly exited: Promise<number | null>;

  constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      });
      child.on('error', () => resolve(null));
    });
  }

  /** Resolves with the first output line matching `pattern`; rejects when the process exits or time runs out. */
  async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const line = this.output.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (this.exitCode !== undefined) break;
      await sleep(25);
    }
    throw new Error(`${this.name}: no line matching ${pattern} (exit ${this.exitCode}); output:\n${this.output.slice(-4000)}`);
  }

  wait(timeoutMs: number): Promise<number | null | 'timeout'> {
    return Promise.race([this.exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

/** Pids of processes in a namespace whose command line contains `needle` (the real ones, not `ip netns exec`). */
export async function netnsPids(netns: string, needle: string): Promise<number[]> {
  const { stdout } = await sh('ip', ['netns', 'pids', netns]).catch(() => ({ stdout: '' }));
  const pids: number[] = [];
  for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (cmdline[0].endsWith('node') && cmdline.some((a) => a.includes(needle))) pids.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function hostNatChains(): Promise<string[]> {
  const { stdout } = await sh('iptables', ['-t', 'nat', '-S']).catch(() => ({ stdout: '' }));
  // The lab's node rules (its own test may run at the same time) are not this harness's business.
  return stdout.split('\n').filter((l) => /meshtap/i.test(l) && !/meshtap lab|MESHTAP_LAB|MTLAB-/i.test(l));
}

export interface SidecarHandle {
  pod: PodNetns;
  proc: Proc;
  /** The sidecar's own pid (inside the namespace). */
  pid: number;
}

export interface LabOptions {
  /** Passed to the server pod's `meshtap init --exclude-inbound-ports`. */
  excludeInboundPorts?: number[];
  /** Extra documented variables for both sidecars. */
  sidecarEnv?: Record<string, string>;
  /** Without a collector the sidecars get no MESHTAP_COLLECTOR_ADDR. */
  collector?: boolean;
  /** Extra variables for one sidecar (after `sidecarEnv`), e.g. its SERVICE_ACCOUNT or token file. */
  sidecarEnvFor?: Partial<Record<'client' | 'server', Record<string, string>>>;
  /** Runs once the pods exist and before `meshtap init` runs in them (what init reads: a pod's resolv.conf). */
  beforeInit?: (lab: MeshLab) => Promise<void>;
  /** Runs once the pods exist and before the sidecars start (a control plane the sidecars need). */
  beforeSidecars?: (lab: MeshLab) => Promise<void>;
}

export class MeshLab {
  readonly net = new PodNetwork();
  client!: PodNetns;
  server!: PodNetns;
  collector: Proc | undefined;
  collectorPorts: { grpc: number; http: number } | undefined;
  sidecars: Record<'client' | 'server', SidecarHandle> = {} as Record<'client' | 'server', SidecarHandle>;
  app!: Proc;
  private readonly procs: Proc[] = [];
  private readonly knownPids: number[] = [];
  private hostChainsBefore: string[] = [];
  private destroyed = false;

  static async start(options: LabOptions = {}): Promise<MeshLab> {
    const lab = new MeshLab();
    try {
      await lab.setUp(options);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private async setUp(options: LabOptions): Promise<void> {
    this.hostChainsBefore = await hostNatChains();
    await this.net.create();
    this.client = await this.net.addPod('client');
    this.server = await this.net.addPod('server');

    if (options.collector !== false) await this.startCollector();
    if (options.beforeInit) await options.beforeInit(this);

    const excluded = options.excludeInboundPorts ?? [];
    await Promise.all([
      this.init(this.client, []),
      this.init(this.server, excluded),
    ]);

    if (options.beforeSidecars) await options.beforeSidecars(this);

    this.app = this.track(
      new Proc('app', spawnInNetns(this.server.netns, NODE, [APP_SCRIPT, JSON.stringify(APP_PORTS)], { uid: APP_UID, cwd: REPO, env: this.baseEnv() })),
    );
    const [client, server] = await Promise.all([
      this.startSidecar('client', this.client, { ...options.sidecarEnv, ...options.sidecarEnvFor?.client }),
      this.startSidecar('server', this.server, { ...options.sidecarEnv, ...options.sidecarEnvFor?.server }),
    ]);
    this.sidecars = { client, server };
    await this.app.waitFor(/"ready":true/);
    await Promise.all([this.waitReady(this.client), this.waitReady(this.server)]);
  }

  private track(proc: Proc): Proc {
    this.procs.push(proc);
    return proc;
  }

  /** Makes a process the test started part of this lab: killed by destroy(), checked by leftovers(). */
  adopt(proc: Proc): Proc {
    if (proc.child.pid) this.knownPids.push(proc.child.pid);
    return this.track(proc);
  }

  /**
   * One more injected pod beyond client and server (flows over several hops): the real
   * `meshtap init` rules and a sidecar, ready. Create the pod with `net.addPod` first (in
   * `beforeSidecars` when a control plane must know it).
   */
  async addInjectedPod(name: string, pod: PodNetns, extra: Record<string, string> = {}): Promise<SidecarHandle> {
    await this.init(pod, []);
    const handle = await this.startSidecar(name, pod, extra);
    await this.waitReady(pod);
    return handle;
  }

  /** Kills one sidecar and starts it again with other extra variables (the pod's rules stay). */
  async restartSidecar(name: 'client' | 'server', extra: Record<string, string> = {}): Promise<SidecarHandle> {
    const old = this.sidecars[name];
    // A test may have stopped it already (to see the pod without its sidecar).
    if (alive(old.pid)) process.kill(old.pid, 'SIGKILL');
    await eventually(`old ${name} sidecar gone`, async () => (alive(old.pid) ? undefined : true), 5000);
    await old.proc.wait(5000);
    const handle = await this.startSidecar(name, old.pod, extra);
    this.sidecars[name] = handle;
    return handle;
  }

  baseEnv(): NodeJS.ProcessEnv {
    return { PATH: `${join(REPO, 'node_modules/.bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` };
  }

  /** The collector's API token (token auth, as a collector outside a cluster runs by default). */
  readonly apiToken = randomBytes(24).toString('base64url');
  private tokenDir: string | undefined;

  async startCollector(): Promise<void> {
    this.tokenDir ??= mkdtempSync(join(tmpdir(), 'meshtap-harness-'));
    const tokenFile = join(this.tokenDir, 'api-token');
    writeFileSync(tokenFile, `${this.apiToken}\n`, { mode: 0o600 });
    const proc = this.track(
      new Proc(
        'collector',
        spawn(NODE, [MESHTAP, 'collector', '--grpc-port', '0', '--http-port', '0', '--host', this.net.gateway, '--auth-token-file', tokenFile], {
          cwd: REPO,
          env: this.baseEnv(),
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      ),
    );
    if (proc.child.pid) this.knownPids.push(proc.child.pid);
    const line = await proc.waitFor(/collector listening/);
    const info = JSON.parse(line) as { grpcPort: number; httpPort: number };
    this.collector = proc;
    this.collectorPorts = { grpc: info.grpcPort, http: info.httpPort };
  }

  /** Stops the collector (SIGTERM, then SIGKILL). */
  async stopCollector(): Promise<void> {
    const proc = this.collector;
    if (!proc) return;
    proc.child.kill('SIGTERM');
    if ((await proc.wait(5000)) === 'timeout') {
      proc.child.kill('SIGKILL');
      await proc.wait(5000);
    }
  }

  private async init(pod: PodNetns, excludeInboundPorts: number[]): Promise<void> {
    const args = [podEntry(), 'init'];
    if (excludeInboundPorts.length > 0) args.push('--exclude-inbound-ports', excludeInboundPorts.join(','));
    await execInNetns(pod.netns, NODE, args);
  }

  /** Exactly the environment the webhook gives a sidecar. */
  sidecarEnv(name: string, pod: PodNetns, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...this.baseEnv(),
      POD_NAME: name,
      POD_NAMESPACE,
      POD_IP: pod.ip,
      NODE_NAME,
      SERVICE_ACCOUNT: 'default',
      // The injector's default: this harness's collector serves plaintext ingest.
      MESHTAP_COLLECTOR_TLS: 'off',
      ...SIDECAR_RUNTIME_ENV,
      ...extra,
    };
    if (this.collectorPorts) env.MESHTAP_COLLECTOR_ADDR = `${this.net.gateway}:${this.collectorPorts.grpc}`;
    return env;
  }

  private async startSidecar(name: string, pod: PodNetns, extra?: Record<string, string>): Promise<SidecarHandle> {
    const proc = this.track(
      new Proc(`sidecar ${name}`, spawnInNetns(pod.netns, NODE, [...podCommandFlags('sidecar'), podEntry(), 'sidecar'], { uid: PROXY_UID, cwd: REPO, env: this.sidecarEnv(name, pod, extra) })),
    );
    // Generous: on a loaded 2-core machine loading the sidecar's modules alone can take seconds.
    await proc.waitFor(/"msg":"listening"/, 45_000);
    const [pid] = await netnsPids(pod.netns, 'sidecar');
    if (pid === undefined) throw new Error(`sidecar ${name}: process not found in ${pod.netns}`);
    this.knownPids.push(pid);
    return { pod, proc, pid };
  }

  /** `meshtap wait-ready` inside the pod, as the webhook's postStart fallback runs it. */
  async waitReady(pod: PodNetns, timeoutSeconds = 20): Promise<void> {
    await execInNetns(pod.netns, NODE, [podEntry(), 'wait-ready', '--admin-port', String(ADMIN_PORT), '--timeout-seconds', String(timeoutSeconds)]);
  }

  /** Runs `test/system/client.ts` in the client pod as the app uid; returns its JSON result. */
  async runClient<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    return this.runClientAs<T>(APP_UID, ...args);
  }

  /**
   * `runClient` as another user: as the proxy's (`PROXY_UID`), whose traffic iptables never
   * redirects, the client pod's connections bypass its sidecar.
   */
  async runClientAs<T = Record<string, unknown>>(uid: number, ...args: string[]): Promise<T> {
    const { stdout } = await execInNetns(this.client.netns, 'setpriv', [
      `--reuid=${uid}`,
      `--regid=${uid}`,
      '--clear-groups',
      NODE,
      CLIENT_SCRIPT,
      ...args,
    ]);
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
  }

  /** Runs a command in the client pod as the app uid. */
  clientExec(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
    return execInNetns(this.client.netns, 'setpriv', [`--reuid=${APP_UID}`, `--regid=${APP_UID}`, '--clear-groups', cmd, ...args]);
  }

  appUrl(path: string, port: number = APP_PORTS.http): string {
    return `http://${this.server.ip}:${port}${path}`;
  }

  async calls(limit = 1000, filter?: string): Promise<CallRecordJson[]> {
    if (!this.collectorPorts) throw new Error('no collector');
    const query = `limit=${limit}${filter === undefined ? '' : `&filter=${encodeURIComponent(filter)}`}`;
    const res = await fetch(`http://${this.net.gateway}:${this.collectorPorts.http}/api/calls?${query}`, { headers: { authorization: `Bearer ${this.apiToken}` } });
    if (res.status !== 200) throw new Error(`collector answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { calls: CallRecordJson[] }).calls;
  }

  /** Waits until the collector holds records matching `match` from both observers (or `count` of them). */
  async waitForCalls(what: string, match: (c: CallRecordJson) => boolean, count = 2, timeoutMs = 15_000): Promise<CallRecordJson[]> {
    return eventually(what, async () => {
      const found = (await this.calls()).filter(match);
      return found.length >= count ? found : undefined;
    }, timeoutMs);
  }

  async adminGet(pod: PodNetns, path: string): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://${pod.ip}:${ADMIN_PORT}${path}`);
    return { status: res.status, body: await res.text() };
  }

  /** A sample from the pod's sidecar `/metrics`, summed over series matching the labels. */
  async metric(pod: PodNetns, name: string, labels: Record<string, string> = {}): Promise<number> {
    const { body } = await this.adminGet(pod, '/metrics');
    let total = 0;
    for (const line of body.split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const labelText = m[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) total += Number(m[3]);
    }
    return total;
  }

  /** Output of every process, for failure diagnostics. */
  logs(): string {
    return this.procs.map((p) => `--- ${p.name} (exit ${p.exitCode})\n${p.output.slice(-3000)}`).join('\n');
  }

  async destroy(): Promise<void> {
    if (this.tokenDir !== undefined) rmSync(this.tokenDir, { recursive: true, force: true });
    if (this.destroyed) return;
    this.destroyed = true;
    for (const proc of this.procs) {
      if (proc.exitCode === undefined) proc.child.kill('SIGKILL');
    }
    // Namespaces: kills every process inside, then removes namespaces (and their rules), links, bridge.
    await this.net.destroy();
    await Promise.all(this.procs.map((p) => p.wait(5000)));
  }

  /** Anything this lab made that still exists. Empty after a clean destroy(). */
  async leftovers(): Promise<string[]> {
    const left: string[] = [];
    for (const ns of await listNetns(this.net.prefix)) left.push(`namespace ${ns}`);
    const links = await sh('ip', ['-o', 'link', 'show']);
    for (const line of links.stdout.split('\n')) if (line.includes(this.net.prefix)) left.push(`link ${line.split(':')[1]?.trim()}`);
    for (const pid of this.knownPids) if (alive(pid)) left.push(`process ${pid}`);
    for (const proc of this.procs) if (proc.child.pid && alive(proc.child.pid)) left.push(`process ${proc.child.pid} (${proc.name})`);
    const chains = await hostNatChains();
    for (const rule of chains) if (!this.hostChainsBefore.includes(rule)) left.push(`host nat rule ${rule}`);
    return left;
  }
}
