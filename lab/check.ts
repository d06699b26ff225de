/**
 * `meshtap check`: what the lab needs from this machine, one line per check with the exact
 * fix. Exit 1 when a required check fails; optional tools only warn.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseCommandArgs, type CommandIO } from '../lib/cli.ts';
import { BRIDGE, DEFAULT_COLLECTOR_GRPC_PORT, DEFAULT_COLLECTOR_HTTP_PORT, NAME_PREFIX, NODE_POD_PREFIX, NODE_POD_PREFIX_LENGTH, SERVICE_CIDR, STATE_DIR } from './addresses.ts';
import { DNS_PROGRAM } from './cluster-dns.ts';
import { sh } from './netns.ts';
import { NODE } from './paths.ts';
import { isAlive } from './processes.ts';
import { readState } from './state.ts';

export type CheckStatus = 'ok' | 'fail' | 'warn';

export interface CheckResult {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
  required: boolean;
}

/** CAP_NET_ADMIN is bit 12 of the effective capability set. */
function hasNetAdmin(): boolean {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith('CapEff:'));
    return line !== undefined && (BigInt(`0x${line.split(/\s+/)[1]}`) & (1n << 12n)) !== 0n;
  } catch {
    return false;
  }
}

async function tool(cmd: string, args: string[]): Promise<string | undefined> {
  return sh(cmd, args).then(
    (r) => (r.stdout || r.stderr).trim(),
    () => undefined,
  );
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** REDIRECT with an owner match in the nat table of a throwaway namespace, plus a veth and a bridge inside it. */
async function natInThrowawayNamespace(): Promise<{ ok: boolean; detail: string }> {
  const ns = `${NAME_PREFIX}-check-${randomBytes(3).toString('hex')}`;
  const step = async (what: string, cmd: string, args: string[]) => {
    try {
      await sh(cmd, args);
    } catch (err) {
      throw new Error(`${what}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
  };
  try {
    await step('create a network namespace', 'ip', ['netns', 'add', ns]);
    await step('bring lo up', 'ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await step('add a route', 'ip', ['-n', ns, 'route', 'add', 'default', 'dev', 'lo']);
    await step('create a veth pair', 'ip', ['-n', ns, 'link', 'add', 'ck0', 'type', 'veth', 'peer', 'name', 'ck1']);
    await step('create a bridge', 'ip', ['-n', ns, 'link', 'add', 'ckbr', 'type', 'bridge']);
    await step('nat REDIRECT with an owner match', 'ip', [
      'netns', 'exec', ns, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-m', 'owner', '!', '--uid-owner', '1337', '-j', 'REDIRECT', '--to-ports', '15001',
    ]);
    await step('nat DNAT with a random statistic', 'ip', [
      'netns', 'exec', ns, 'iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '10.96.0.11', '-m', 'statistic', '--mode', 'random', '--probability', '0.5', '-j', 'DNAT', '--to-destination', '10.244.0.2:80',
    ]);
    return { ok: true, detail: 'namespace, veth, bridge, nat REDIRECT (owner match) and DNAT (statistic) work' };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  } finally {
    await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

export async function runChecks(): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (r: CheckResult) => results.push(r);

  const root = process.getuid?.() === 0;
  const netAdmin = hasNetAdmin();
  add({
    name: 'privileges',
    status: root ? 'ok' : 'fail',
    detail: root ? 'running as root' : netAdmin ? 'CAP_NET_ADMIN only: the lab also mounts /etc/netns files and switches users' : 'not root',
    fix: 'run as root: sudo meshtap lab up (or sudo npx meshtap ...)',
    required: true,
  });

  const nodeVersion = await tool(NODE, ['--version']);
  const major = nodeVersion ? Number(/^v(\d+)/.exec(nodeVersion)?.[1]) : 0;
  add({
    name: 'node',
    status: major >= 24 ? 'ok' : 'fail',
    detail: nodeVersion ? `pinned Node ${nodeVersion} at ${NODE}` : `no pinned Node at ${NODE}`,
    fix: 'npm install (the package pins node@24 as a dev dependency)',
    required: true,
  });

  const ip = await tool('ip', ['-V']);
  add({ name: 'ip', status: ip ? 'ok' : 'fail', detail: ip ?? 'the ip command (iproute2) is missing', fix: 'apt-get install -y iproute2', required: true });

  const iptables = await tool('iptables', ['--version']);
  const backend = iptables ? (/\((nf_tables|legacy)\)/.exec(iptables)?.[1] ?? 'unknown backend') : undefined;
  add({
    name: 'iptables',
    status: iptables ? 'ok' : 'fail',
    detail: iptables ? `${iptables} — backend ${backend}` : 'iptables is missing',
    fix: 'apt-get install -y iptables',
    required: true,
  });
  const restore = await tool('iptables-restore', ['--version']);
  add({ name: 'iptables-restore', status: restore ? 'ok' : 'fail', detail: restore ?? 'iptables-restore is missing', fix: 'apt-get install -y iptables', required: true });

  const setpriv = await tool('setpriv', ['--version']);
  add({
    name: 'setpriv',
    status: setpriv ? 'ok' : 'fail',
    detail: setpriv ?? 'setpriv (runs the sidecar and apps as their uid) is missing',
    fix: 'apt-get install -y util-linux',
    required: true,
  });

  if (root && ip && iptables) {
    const nat = await natInThrowawayNamespace();
    add({
      name: 'netns + nat',
      status: nat.ok ? 'ok' : 'fail',
      detail: nat.detail,
      fix: 'modprobe veth bridge nf_nat iptable_nat xt_owner xt_statistic xt_REDIRECT (or on nft: nft_chain_nat nft_compat); apt-get install -y iptables',
      required: true,
    });
  } else {
    add({ name: 'netns + nat', status: 'fail', detail: 'not tried: needs root, ip and iptables', fix: 'fix the checks above first', required: true });
  }

  // Services are DNATed on the node; replies between pods on the bridge are un-translated only
  // when the bridge calls iptables (br_netfilter; the lab sets nf_call_iptables on its bridge).
  // The lab's own FORWARD rules accept pod-to-pod traffic whatever the chain's policy.
  const brNetfilter = existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables');
  add({
    name: 'bridge filtering',
    status: brNetfilter ? 'ok' : 'fail',
    detail: brNetfilter
      ? 'br_netfilter is loaded: the node\'s conntrack sees traffic between pods, as service VIPs need'
      : 'br_netfilter is not loaded: replies from a service\'s pod would bypass the node\'s DNAT and be reset',
    fix: 'modprobe br_netfilter',
    required: true,
  });

  const dnsmasq = await tool(DNS_PROGRAM, ['--version']);
  add({
    name: 'dnsmasq',
    status: dnsmasq ? 'ok' : 'fail',
    detail: dnsmasq ? `${dnsmasq.split('\n')[0]}: the cluster DNS` : `${DNS_PROGRAM} (the lab's cluster DNS) is missing`,
    fix: 'apt-get install -y dnsmasq-base',
    required: true,
  });

  const state = (() => {
    try {
      return readState(STATE_DIR);
    } catch {
      return undefined;
    }
  })();
  for (const [port, what] of [
    [state?.ports.grpc ?? DEFAULT_COLLECTOR_GRPC_PORT, 'collector gRPC'],
    [state?.ports.http ?? DEFAULT_COLLECTOR_HTTP_PORT, 'collector HTTP / dashboard'],
  ] as const) {
    const free = await portFree(port);
    add({
      name: `port ${port}`,
      status: free || state ? 'ok' : 'fail',
      detail: free ? `free (${what})` : state ? `used by the running lab (${what})` : `in use (${what})`,
      fix: `stop what listens there (ss -ltnp 'sport = :${port}') or pass lab up --${what.includes('gRPC') ? 'grpc' : 'http'}-port N`,
      required: true,
    });
  }

  const routes = (await tool('ip', ['-4', 'route', 'show'])) ?? '';
  const clash = routes
    .split('\n')
    .filter((l) => !l.includes(`dev ${BRIDGE}`) && (l.startsWith(`${NODE_POD_PREFIX}.`) || l.startsWith('10.244.0.0/16') || l.startsWith('10.96.')));
  add({
    name: 'addresses',
    status: clash.length === 0 ? 'ok' : 'fail',
    detail: clash.length === 0 ? `pods ${NODE_POD_PREFIX}.0/${NODE_POD_PREFIX_LENGTH}, services ${SERVICE_CIDR}: no conflicting route` : `conflicting route(s): ${clash.join('; ')}`,
    fix: 'remove the interface or route that uses 10.244.0.0/24 or 10.96.0.0/16',
    required: true,
  });

  add(labStateCheck(state, existsSync(STATE_DIR), isAlive));

  const curl = await tool('curl', ['--version']);
  add({ name: 'curl', status: curl ? 'ok' : 'warn', detail: curl ? curl.split('\n')[0] : 'missing (scenarios and examples use it)', fix: 'apt-get install -y curl', required: false });
  const redis = await tool('redis-server', ['--version']);
  add({ name: 'redis-server', status: redis ? 'ok' : 'warn', detail: redis ?? 'missing (optional: scenarios with a Redis)', fix: 'apt-get install -y redis-server', required: false });
  const postgres = (await tool('postgres', ['--version'])) ?? (await tool('pg_ctlcluster', ['--help']).then((t) => (t ? 'pg_ctlcluster' : undefined)));
  add({ name: 'postgres', status: postgres ? 'ok' : 'warn', detail: postgres ?? 'missing (optional: scenarios with PostgreSQL)', fix: 'apt-get install -y postgresql', required: false });
  return results;
}

/**
 * The `lab state` line: a running lab is not a problem to fix (lab up refuses a second one, and
 * says so); state left by a lab whose process is gone is, and `lab down` cleans it up.
 */
export function labStateCheck(state: { pid: number; phase: string; scenario: { name: string } } | undefined, dirExists: boolean, alive: (pid: number) => boolean): CheckResult {
  const running = state !== undefined && alive(state.pid);
  return {
    name: 'lab state',
    status: running || (state === undefined && !dirExists) ? 'ok' : 'warn',
    detail: running
      ? `a lab is up (pid ${state.pid}, ${state.phase}, scenario ${state.scenario.name}): meshtap lab status shows it; lab up refuses a second one`
      : state
        ? `a lab is recorded in ${STATE_DIR} (${state.phase}, scenario ${state.scenario.name}) but its process ${state.pid} is gone`
        : dirExists
          ? `${STATE_DIR} exists without a state file`
          : 'no lab is up',
    fix: 'meshtap lab down (cleans up what it left)',
    required: false,
  };
}

export function formatChecks(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = results.map((r) => {
    const tag = r.status === 'ok' ? 'OK  ' : r.status === 'fail' ? 'FAIL' : 'WARN';
    const fix = r.status !== 'ok' && r.fix ? `\n      fix: ${r.fix}` : '';
    return `${tag}  ${r.name.padEnd(width)}  ${r.detail}${fix}`;
  });
  const failed = results.filter((r) => r.status === 'fail' && r.required).length;
  lines.push('', failed === 0 ? 'the lab can run here' : `${failed} required check(s) failed`);
  return `${lines.join('\n')}\n`;
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(argv, { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    io.stdout.write('usage: meshtap check [--json]\n\nChecks what "meshtap lab" needs (privileges, tools, kernel features, ports) and prints the fix for each failure.\nExit 1 when a required check fails.\n');
    return 0;
  }
  const results = await runChecks();
  io.stdout.write(values.json ? `${JSON.stringify(results, null, 2)}\n` : formatChecks(results));
  return results.some((r) => r.status === 'fail' && r.required) ? 1 : 0;
}
