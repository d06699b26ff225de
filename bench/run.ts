/**
 * `npm run bench`: the performance budget, measured (a benchmark, not a test; needs root).
 *
 * Two pods (network namespaces) on a bridge: a load generator in the client pod, an echo app
 * in the server pod. The same load runs against six setups, one after the other:
 *   direct          no rules, no proxy
 *   haproxy         the pods' meshtap rules with Debian's haproxy in tcp mode on the proxy
 *                   ports in each pod (the transparent-proxy peer, no capture)
 *   haproxy mTLS    the same rules; the client pod's haproxy takes the app's plaintext and
 *                   connects to the server pod over TLS with a client certificate, the server
 *                   pod's haproxy terminates it (`verify required` on both ends) and forwards
 *                   to the app; certificates from a throwaway openssl CA (the peer, no capture)
 *   meshtap         the meshtap sidecar pair, capture on, records shipped to a collector
 *   meshtap (off)   the same with MESHTAP_CAPTURE=off (forwarding only)
 *   meshtap mTLS    the sidecar pair with identities from a controller (temp CA, test tokens,
 *                   an inventory naming both pods as meshed), full capture; the run fails if
 *                   the records do not report tls.mesh: true
 * Load: fixed 1000 req/s over 16 keep-alive connections with 1 KiB bodies (open loop, after a
 * warm-up), then saturation with 16 closed loops. Proxy CPU comes from /proc/PID/stat
 * (utime+stime) deltas over the fixed-rate run, RSS from /proc/PID/status after it; records
 * lost = requests × 2 observers − records the collector stored.
 *
 * Environment: BENCH_SECONDS (default 10), BENCH_RATE (1000), BENCH_CONNECTIONS (16),
 * BENCH_BODY_BYTES (1024), BENCH_ROUNDS (1). With several rounds the setups take turns
 * (direct, haproxy, meshtap, meshtap off, direct, ...) so background load on a shared machine
 * hits them alike; the table shows each figure's median over the rounds (records lost: the
 * worst round). `× haproxy mTLS` compares saturation throughput with the haproxy mTLS pair.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { issueTestToken } from '../certs/authn/jwt-key.ts';
import type { CallRecordJson } from '../record/record-json.ts';
import { PodNetwork, execInNetns, killNetnsProcesses, sh, spawnInNetns, type PodNetns } from '../lab/netns.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const NODE = join(REPO, 'node_modules/.bin/node');
const MESHTAP = join(REPO, 'bin/meshtap.ts');
const LOAD = join(REPO, 'bench/load.ts');
const ECHO = join(REPO, 'bench/echo-server.ts');
const APP_PORT = 8080;
const APP_UID = 1000;
const PROXY_UID = 1337;
const CLK_TCK = 100;
const ADMIN_PORT = 15020;
const POD_NAMESPACE = 'bench';
const POD_NAMES = ['bench-client', 'bench-server'] as const;
const SERVICE_ACCOUNTS = ['bench-client', 'bench-server'] as const;
const HAPROXY_SERVER_NAME = 'bench-server.bench.svc';
const HAPROXY_MTLS = 'haproxy mTLS pair';

const SECONDS = Number(process.env.BENCH_SECONDS ?? '10');
const RATE = Number(process.env.BENCH_RATE ?? '1000');
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? '16');
const BODY_BYTES = Number(process.env.BENCH_BODY_BYTES ?? '1024');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '1');
const WARMUP_SECONDS = 2;

interface LoadResult {
  sent: number;
  total: number;
  ok: number;
  errors: number;
  throughput: number;
  latency_ms: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

interface ScenarioResult {
  name: string;
  fixed: LoadResult;
  saturate: LoadResult;
  /** Cores used by each proxy during the fixed-rate run: [client pod, server pod]. */
  cpu?: [number, number];
  cpuSaturated?: [number, number];
  rssMiB?: [number, number];
  /** Cores the collector used during the fixed-rate and the saturation run. */
  collectorCpu?: [number, number];
  recordsLostFixed?: number;
  recordsLostSaturated?: number;
}

interface Proxies {
  pids: [number, number];
  stop: () => Promise<void>;
}

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = () => ({ PATH: `${join(REPO, 'node_modules/.bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` });

function waitForLine(child: ChildProcess, pattern: RegExp, what: string, timeoutMs = 20_000): Promise<string> {
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

/** Pids in a namespace whose command line contains `needle`, excluding `ip`/`setpriv` wrappers. */
async function pidsOf(netns: string, needle: string): Promise<number[]> {
  const { stdout } = await sh('ip', ['netns', 'pids', netns]);
  return stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return !['ip', 'setpriv'].includes(argv[0].split('/').pop()!) && argv.some((a) => a.includes(needle));
      } catch {
        return false;
      }
    });
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 'NaN');
  return kb / 1024;
}

/**
 * Runs the load generator in the client pod; `onMeasure` is called when its warm-up ends, so
 * CPU can be sampled over the measured part only.
 */
function runLoad(client: PodNetns, args: string[], onMeasure: () => void = () => undefined): Promise<LoadResult> {
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

class Collector {
  readonly child: ChildProcess;
  httpPort = 0;
  grpcPort = 0;
  readonly host: string;

  constructor(host: string) {
    this.host = host;
    this.child = spawn(NODE, [MESHTAP, 'collector', '--grpc-port', '0', '--http-port', '0', '--host', host, '--max-records', '1000'], {
      cwd: REPO,
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
}

/** `mesh`, when given, adds the identity variables for the pod at that index (client 0, server 1). */
async function startSidecars(
  net: PodNetwork,
  pods: PodNetns[],
  collector: Collector,
  capture: boolean,
  mesh?: (index: 0 | 1) => Record<string, string>,
): Promise<Proxies> {
  const children = pods.map((pod, i) =>
    spawnInNetns(pod.netns, NODE, [MESHTAP, 'sidecar'], {
      uid: PROXY_UID,
      cwd: REPO,
      env: {
        ...env(),
        POD_NAME: POD_NAMES[i],
        POD_NAMESPACE,
        POD_IP: pod.ip,
        NODE_NAME: 'bench-node',
        MESHTAP_COLLECTOR_ADDR: `${net.gateway}:${collector.grpcPort}`,
        // The bench's collector serves plaintext ingest.
        MESHTAP_COLLECTOR_TLS: 'off',
        MESHTAP_LOG_LEVEL: 'warn',
        MESHTAP_CAPTURE: capture ? 'on' : 'off',
        ...mesh?.(i as 0 | 1),
      },
    }),
  );
  await Promise.all(pods.map((pod) => execInNetns(pod.netns, NODE, [MESHTAP, 'wait-ready', '--timeout-seconds', '30'])));
  const pids = await Promise.all(pods.map(async (pod) => (await pidsOf(pod.netns, 'sidecar'))[0]));
  return {
    pids: pids as [number, number],
    stop: async () => {
      for (const pid of pids) process.kill(pid, 'SIGTERM');
      await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    },
  };
}

const HAPROXY_CONFIG = `global
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
# Outbound: the original destination of the redirected connection (0.0.0.0 = use it, the
# port likewise), as the proxy uid, which the rules never redirect.
frontend outbound
  bind 0.0.0.0:15001
  default_backend original_destination
backend original_destination
  server original 0.0.0.0
# Inbound: to the app at the original destination, from the passthrough source.
frontend inbound
  bind 0.0.0.0:15006
  default_backend app
backend app
  server app 0.0.0.0 source 127.0.0.6
`;

/**
 * The mTLS peer: the client pod's outbound listener originates TLS with a client certificate to
 * the original destination (which the server pod's rules send to its inbound listener), and the
 * inbound listener terminates TLS, both with `verify required` against the bench CA. RSA 2048
 * keys, like meshtap's workload certificates. Same listeners, rules and timeouts as the tcp pair.
 */
function haproxyMtlsConfig(pki: string): string {
  return `global
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.2
  ssl-default-server-options ssl-min-ver TLSv1.2
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend outbound
  bind 0.0.0.0:15001
  default_backend mesh_peer
backend mesh_peer
  server peer 0.0.0.0 ssl crt ${join(pki, 'client.pem')} ca-file ${join(pki, 'ca.crt')} verify required sni str(${HAPROXY_SERVER_NAME}) verifyhost ${HAPROXY_SERVER_NAME}
frontend inbound
  bind 0.0.0.0:15006 ssl crt ${join(pki, 'server.pem')} ca-file ${join(pki, 'ca.crt')} verify required
  default_backend app
backend app
  server app 0.0.0.0 source 127.0.0.6
`;
}

/** A throwaway CA and one server and one client certificate (cert + key in one PEM, as haproxy reads them). */
async function makeHaproxyPki(dir: string): Promise<string> {
  const pki = join(dir, 'haproxy-pki');
  mkdirSync(pki, { mode: 0o755 });
  chmodSync(pki, 0o755);
  const at = (name: string) => join(pki, name);
  await sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.crt'), '-days', '1', '-subj', '/CN=bench haproxy CA']);
  const leaves = [
    { name: 'server', ext: `subjectAltName=DNS:${HAPROXY_SERVER_NAME}\nextendedKeyUsage=serverAuth\n` },
    { name: 'client', ext: 'subjectAltName=DNS:bench-client.bench.svc\nextendedKeyUsage=clientAuth\n' },
  ];
  for (const { name, ext } of leaves) {
    await sh('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`), '-subj', `/CN=bench-${name}`]);
    writeFileSync(at(`${name}.ext`), ext);
    await sh('openssl', ['x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', at(`${name}.ext`), '-out', at(`${name}.crt`)]);
    writeFileSync(at(`${name}.pem`), readFileSync(at(`${name}.crt`), 'utf8') + readFileSync(at(`${name}.key`), 'utf8'));
  }
  // haproxy runs as the proxy uid; the keys are throwaway and the directory goes with the run.
  for (const name of ['ca.crt', 'server.pem', 'client.pem']) chmodSync(at(name), 0o644);
  return pki;
}

async function startHaproxies(pods: PodNetns[], dir: string, configText: string = HAPROXY_CONFIG): Promise<Proxies> {
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, configText, { mode: 0o644 });
  const children = pods.map((pod) => spawnInNetns(pod.netns, 'haproxy', ['-db', '-f', config], { uid: PROXY_UID }));
  // haproxy prints nothing when it starts cleanly: wait for its listener instead.
  for (const pod of pods) {
    for (let i = 0; ; i++) {
      const { stdout } = await execInNetns(pod.netns, 'ss', ['-ltnH', 'sport = :15006']);
      if (stdout.trim()) break;
      if (i > 100) throw new Error(`haproxy did not start in ${pod.netns}`);
      await sleep(50);
    }
  }
  const pids = await Promise.all(pods.map(async (pod) => (await pidsOf(pod.netns, 'haproxy'))[0]));
  return {
    pids: pids as [number, number],
    stop: async () => {
      for (const pid of pids) process.kill(pid, 'SIGTERM');
      await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    },
  };
}

/**
 * The control plane the mTLS sidecars need, as the system tests run it: a controller (CA and
 * membership feed) in the host namespace on the bridge address, with a temp CA from
 * `meshtap certs init`, a token key, per-pod test tokens and an inventory naming both pods as
 * meshed.
 */
class MeshControl {
  child: ChildProcess | undefined;
  grpcPort = 0;
  private readonly dir: string;
  private readonly shared: string;
  private readonly net: PodNetwork;

  constructor(net: PodNetwork, dir: string) {
    this.net = net;
    this.dir = join(dir, 'mesh');
    this.shared = join(this.dir, 'shared');
  }

  async start(pods: PodNetns[]): Promise<void> {
    // The sidecars (proxy uid) read their token and the trust bundle from `shared`.
    mkdirSync(this.shared, { recursive: true, mode: 0o755 });
    chmodSync(this.dir, 0o755);
    chmodSync(this.shared, 0o755);
    await sh(NODE, [MESHTAP, 'certs', 'init', '--dir', join(this.dir, 'pki')]);
    writeFileSync(join(this.shared, 'trust.pem'), readFileSync(join(this.dir, 'pki/ca/ca.crt')), { mode: 0o644 });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(join(this.dir, 'token-key.pem'), publicKey.export({ type: 'spki', format: 'pem' }) as string);
    for (const i of [0, 1] as const) {
      const token = await issueTestToken(privateKey, { namespace: POD_NAMESPACE, serviceAccount: SERVICE_ACCOUNTS[i], podName: POD_NAMES[i], ttlSeconds: 3600 });
      writeFileSync(join(this.shared, `${POD_NAMES[i]}.token`), token, { mode: 0o644 });
    }
    const inventory = join(this.dir, 'inventory.json');
    const doc = { pods: pods.map((pod, i) => ({ name: POD_NAMES[i], namespace: POD_NAMESPACE, ip: pod.ip, serviceAccount: SERVICE_ACCOUNTS[i], meshed: true })) };
    writeFileSync(`${inventory}.tmp`, JSON.stringify(doc));
    renameSync(`${inventory}.tmp`, inventory);
    this.child = spawn(
      NODE,
      [
        MESHTAP, 'controller',
        '--webhook-cert-dir', join(this.dir, 'pki/webhook'),
        '--ca-dir', join(this.dir, 'pki/ca'),
        '--webhook-port', '0',
        '--grpc-port', '0',
        '--host', this.net.gateway,
        '--grpc-ip', this.net.gateway,
        '--token-key', join(this.dir, 'token-key.pem'),
        '--inventory-file', inventory,
      ],
      { cwd: REPO, env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const line = await waitForLine(this.child, /"event":"controller-ready"/, 'controller');
    this.grpcPort = (JSON.parse(line) as { grpcPort: number }).grpcPort;
  }

  /** The identity variables for the pod at `index`. */
  sidecarEnv(index: 0 | 1): Record<string, string> {
    const addr = `${this.net.gateway}:${this.grpcPort}`;
    return {
      SERVICE_ACCOUNT: SERVICE_ACCOUNTS[index],
      MESHTAP_MTLS_MODE: 'permissive',
      MESHTAP_CA_ADDR: addr,
      MESHTAP_CONTROLLER_ADDR: addr,
      MESHTAP_TOKEN_FILE: join(this.shared, `${POD_NAMES[index]}.token`),
      MESHTAP_TRUST_BUNDLE: join(this.shared, 'trust.pem'),
    };
  }

  stop(): void {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

async function sidecarMetrics(pod: PodNetns): Promise<string> {
  return (await fetch(`http://${pod.ip}:${ADMIN_PORT}/metrics`)).text();
}

/** Waits until both sidecars hold a certificate and have seen the membership feed. */
async function waitMeshReady(pods: PodNetns[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const texts = await Promise.all(pods.map((pod) => sidecarMetrics(pod).catch(() => '')));
    const ready = texts.every(
      (t) => /^meshtap_sidecar_identity_cert_info\{[^}]*serial="[0-9a-f]+"/m.test(t) && Number(/^meshtap_sidecar_membership_version (\S+)$/m.exec(t)?.[1] ?? '0') > 0,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error('meshtap mTLS: the sidecars got no certificate or membership from the controller');
    await sleep(200);
  }
}

async function collectorCalls(collector: Collector, limit: number): Promise<CallRecordJson[]> {
  const res = await fetch(`http://${collector.host}:${collector.httpPort}/api/calls?limit=${limit}`);
  if (res.status !== 200) throw new Error(`collector answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { calls: CallRecordJson[] }).calls;
}

/** One marked call from the client pod's app uid; both records must report tls.mesh: true. */
async function verifyMeshedCall(client: PodNetns, url: string, collector: Collector): Promise<void> {
  const path = `/echo?bench-mesh=${randomBytes(6).toString('hex')}`;
  await execInNetns(client.netns, 'setpriv', [`--reuid=${APP_UID}`, `--regid=${APP_UID}`, '--clear-groups', 'curl', '-sS', '-m', '10', '--data-binary', 'mesh', new URL(path, url).href]);
  let found: CallRecordJson[] = [];
  for (let i = 0; i < 50 && found.length < 2; i++) {
    found = (await collectorCalls(collector, 1000)).filter((c) => c.path === path);
    if (found.length < 2) await sleep(200);
  }
  const observers = found.map((c) => `${c.observer}: tls.mesh=${String(c.tls.mesh)}`).join(', ');
  if (found.length < 2 || !found.every((c) => c.tls.mesh === true)) {
    throw new Error(`meshtap mTLS: the marked call is not meshed in both records (${observers || 'no records'})`);
  }
}

/** After the load: the newest records (all from this load: newest first) must report tls.mesh: true. */
async function verifyMeshedLoad(collector: Collector, fixed: LoadResult): Promise<void> {
  const calls = (await collectorCalls(collector, Math.min(1000, 2 * fixed.total))).filter((c) => c.dst.port === APP_PORT);
  const plain = calls.filter((c) => c.tls.mesh !== true);
  if (calls.length === 0 || plain.length > 0) {
    throw new Error(`meshtap mTLS: ${plain.length} of the last ${calls.length} records under load are not tls.mesh: true`);
  }
  log(`meshtap mTLS: the last ${calls.length} records under load all report tls.mesh: true`);
}

/** Plaintext from the client pod's proxy uid (which the rules never redirect) must get no answer from the server pod. */
async function verifyHaproxyRefusesPlaintext(client: PodNetns, url: string): Promise<void> {
  const answered = await execInNetns(client.netns, 'setpriv', [`--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', 'curl', '-sS', '-m', '5', '--data-binary', 'x', url]).then(
    () => true,
    () => false,
  );
  if (answered) throw new Error('haproxy mTLS: the server pod answered plaintext; the pair is not enforcing TLS');
}

async function scenario(
  name: string,
  client: PodNetns,
  url: string,
  proxies: Proxies | undefined,
  collector: Collector | undefined,
  afterFixed: (fixed: LoadResult) => Promise<void> = async () => undefined,
): Promise<ScenarioResult> {
  const cores = (from: number[] | undefined, to: number[] | undefined, seconds: number) =>
    from && to ? ([0, 1].map((i) => (to[i] - from[i]) / CLK_TCK / seconds) as [number, number]) : undefined;
  const sample = () => proxies?.pids.map(cpuTicks);
  const collectorPid = collector?.child.pid;
  const collectorTicks = () => (collectorPid ? cpuTicks(collectorPid) : 0);
  let collector0 = 0;

  log(`${name}: fixed ${RATE} req/s for ${WARMUP_SECONDS} s warm-up + ${SECONDS} s`);
  const storedBefore = collector ? await collector.stored() : 0;
  let ticks0: number[] | undefined;
  const fixed = await runLoad(client, ['fixed', url, String(RATE), String(CONNECTIONS), String(SECONDS), String(BODY_BYTES), String(WARMUP_SECONDS)], () => {
    ticks0 = sample();
    collector0 = collectorTicks();
  });
  const collectorFixed = (collectorTicks() - collector0) / CLK_TCK / SECONDS;
  const result: ScenarioResult = { name, fixed, saturate: fixed, cpu: cores(ticks0, sample(), SECONDS) };
  if (proxies) result.rssMiB = proxies.pids.map(rssMiB) as [number, number];
  if (collector) {
    const expected = 2 * fixed.total;
    const stored = (await collector.settle(storedBefore + expected)) - storedBefore;
    result.recordsLostFixed = expected - stored;
  }
  await afterFixed(fixed);

  log(`${name}: saturation, ${CONNECTIONS} connections, 1 s warm-up + ${SECONDS} s`);
  const satBefore = collector ? await collector.stored() : 0;
  let satTicks0: number[] | undefined;
  result.saturate = await runLoad(client, ['saturate', url, String(CONNECTIONS), String(SECONDS), String(BODY_BYTES), '1'], () => {
    satTicks0 = sample();
    collector0 = collectorTicks();
  });
  result.cpuSaturated = cores(satTicks0, sample(), SECONDS);
  if (collector) result.collectorCpu = [collectorFixed, (collectorTicks() - collector0) / CLK_TCK / SECONDS];
  if (collector) {
    const expected = 2 * result.saturate.total;
    const stored = (await collector.settle(satBefore + expected)) - satBefore;
    result.recordsLostSaturated = Math.max(0, expected - stored);
  }
  return result;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Each figure's median over the rounds; records lost: the worst round. */
function medianResult(rounds: ScenarioResult[]): ScenarioResult {
  if (rounds.length === 1) return rounds[0];
  const load = (pick: (r: ScenarioResult) => LoadResult): LoadResult => {
    const all = rounds.map(pick);
    const m = (get: (l: LoadResult) => number) => median(all.map(get));
    return {
      sent: m((l) => l.sent),
      total: m((l) => l.total),
      ok: m((l) => l.ok),
      errors: Math.max(...all.map((l) => l.errors)),
      throughput: Math.round(m((l) => l.throughput)),
      latency_ms: {
        p50: m((l) => l.latency_ms.p50),
        p90: m((l) => l.latency_ms.p90),
        p99: m((l) => l.latency_ms.p99),
        p999: m((l) => l.latency_ms.p999),
        max: m((l) => l.latency_ms.max),
        mean: m((l) => l.latency_ms.mean),
      },
    };
  };
  const pair = (pick: (r: ScenarioResult) => [number, number] | undefined): [number, number] | undefined => {
    const all = rounds.map(pick).filter((p): p is [number, number] => p !== undefined);
    return all.length ? [median(all.map((p) => p[0])), median(all.map((p) => p[1]))] : undefined;
  };
  const worst = (pick: (r: ScenarioResult) => number | undefined) => {
    const all = rounds.map(pick).filter((n): n is number => n !== undefined);
    return all.length ? Math.max(...all) : undefined;
  };
  return {
    name: rounds[0].name,
    fixed: load((r) => r.fixed),
    saturate: load((r) => r.saturate),
    cpu: pair((r) => r.cpu),
    cpuSaturated: pair((r) => r.cpuSaturated),
    rssMiB: pair((r) => r.rssMiB),
    collectorCpu: pair((r) => r.collectorCpu),
    recordsLostFixed: worst((r) => r.recordsLostFixed),
    recordsLostSaturated: worst((r) => r.recordsLostSaturated),
  };
}

const f = (x: number | undefined, digits = 2) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));

function table(results: ScenarioResult[]): string {
  const direct = results.find((r) => r.name === 'direct')!;
  const haproxy = results.find((r) => r.name === HAPROXY_MTLS);
  const rows = results.map((r) => {
    const added = (q: 'p50' | 'p99') => (r === direct ? '–' : f(r.fixed.latency_ms[q] - direct.fixed.latency_ms[q], 3));
    const pair = (p?: [number, number], digits = 2) => (p ? `${f(p[0], digits)} / ${f(p[1], digits)}` : '–');
    return [
      r.name,
      f(r.fixed.latency_ms.p50, 3),
      f(r.fixed.latency_ms.p99, 3),
      added('p50'),
      added('p99'),
      `${r.fixed.ok}/${r.fixed.sent}`,
      String(r.saturate.throughput),
      f(r.saturate.throughput / direct.saturate.throughput),
      haproxy ? f(r.saturate.throughput / haproxy.saturate.throughput) : '–',
      pair(r.cpu),
      pair(r.cpuSaturated),
      pair(r.rssMiB, 1),
      pair(r.collectorCpu),
      r.recordsLostFixed === undefined ? '–' : String(r.recordsLostFixed),
      r.recordsLostSaturated === undefined ? '–' : String(r.recordsLostSaturated),
    ];
  });
  const header = [
    'setup',
    'p50 ms',
    'p99 ms',
    'added p50 ms',
    'added p99 ms',
    `ok @${RATE}/s`,
    'saturation req/s',
    '× direct',
    '× haproxy mTLS',
    `proxy CPU cores @${RATE}/s (client / server pod)`,
    'proxy CPU cores saturated',
    'proxy RSS MiB',
    `collector CPU cores (@${RATE}/s / saturated)`,
    `records lost @${RATE}/s`,
    'records lost saturated',
  ];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (network namespaces, iptables)\n');
    return 1;
  }
  const net = new PodNetwork({ prefix: 'mtbn' });
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-bench-'));
  chmodSync(dir, 0o755);
  let collector: Collector | undefined;
  let control: MeshControl | undefined;
  try {
    await net.create();
    const client = await net.addPod('client');
    const server = await net.addPod('server');
    const pods = [client, server];
    collector = new Collector(net.gateway);
    await collector.ready();
    const app = spawnInNetns(server.netns, NODE, [ECHO, String(APP_PORT)], { uid: APP_UID, cwd: REPO, env: env() });
    await waitForLine(app, /"ready":true/, 'echo app');
    const url = `http://${server.ip}:${APP_PORT}/echo`;
    const haproxyMtls = haproxyMtlsConfig(await makeHaproxyPki(dir));
    control = new MeshControl(net, dir);
    await control.start(pods);
    const mesh = control;
    const cpus = (await sh('nproc', [])).stdout.trim();
    log(`${cpus} CPUs; ${RATE} req/s, ${CONNECTIONS} connections, ${BODY_BYTES} B bodies, ${SECONDS} s per run`);

    const rounds: ScenarioResult[][] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      if (ROUNDS > 1) log(`round ${round} of ${ROUNDS}`);
      const results: ScenarioResult[] = [];
      for (const pod of pods) await execInNetns(pod.netns, NODE, [MESHTAP, 'init', '--cleanup']);
      results.push(await scenario('direct', client, url, undefined, undefined));

      for (const pod of pods) await execInNetns(pod.netns, NODE, [MESHTAP, 'init']);

      let proxies = await startHaproxies(pods, dir);
      results.push(await scenario('haproxy pair (tcp)', client, url, proxies, undefined));
      await proxies.stop();

      proxies = await startHaproxies(pods, dir, haproxyMtls);
      await verifyHaproxyRefusesPlaintext(client, url);
      results.push(await scenario(HAPROXY_MTLS, client, url, proxies, undefined));
      await proxies.stop();

      proxies = await startSidecars(net, pods, collector, true);
      results.push(await scenario('meshtap pair, capture on', client, url, proxies, collector));
      await proxies.stop();

      proxies = await startSidecars(net, pods, collector, false);
      results.push(await scenario('meshtap pair, capture off', client, url, proxies, undefined));
      await proxies.stop();

      proxies = await startSidecars(net, pods, collector, true, (i) => mesh.sidecarEnv(i));
      await waitMeshReady(pods);
      await verifyMeshedCall(client, url, collector);
      const meshCollector = collector;
      results.push(await scenario('meshtap mTLS pair, full capture', client, url, proxies, collector, (fixed) => verifyMeshedLoad(meshCollector, fixed)));
      await proxies.stop();
      rounds.push(results);
    }
    const results = rounds[0].map((_, i) => medianResult(rounds.map((r) => r[i])));

    process.stdout.write(`\n${table(results)}\n\n`);
    process.stdout.write(
      `${cpus} CPUs shared by the load generator, the app, both proxies and the collector; latency from the scheduled send time; ` +
        `${ROUNDS > 1 ? `median of ${ROUNDS} interleaved rounds; ` : ''}` +
        `haproxy ${(await sh('haproxy', ['-v'])).stdout.split('\n')[0].split(' ').slice(0, 3).join(' ')}.\n`,
    );
    process.stdout.write(`\n${JSON.stringify(ROUNDS > 1 ? rounds : results)}\n`);
    return 0;
  } finally {
    for (const pod of net.pods) await killNetnsProcesses(pod.netns);
    control?.stop();
    if (collector) collector.child.kill('SIGKILL');
    await net.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
