/**
 * Network namespaces as pods: the IO shell shared by the lab and the system tests.
 * Everything created here is tracked by a `PodNetwork` so that `destroy()` removes exactly it:
 * processes inside each namespace, the namespaces, the veth links and the bridge.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with its stderr in the message. */
export async function sh(cmd: string, args: string[], input?: string): Promise<CommandResult> {
  try {
    if (input !== undefined) {
      return await new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) =>
          code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim()}`)),
        );
        child.stdin.end(input);
      });
    }
    const { stdout, stderr } = await execFileAsync(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr };
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** Best effort: for cleanup paths, where a missing object is not an error. */
async function shQuiet(cmd: string, args: string[]): Promise<void> {
  await sh(cmd, args).catch(() => undefined);
}

export interface PodNetns {
  /** Namespace name as `ip netns` knows it. */
  netns: string;
  ip: string;
  /** Host-side veth name. */
  hostIf: string;
}

export interface PodNetworkOptions {
  /** Short prefix for every name this network creates (netns, links, bridge). At most 6 chars. */
  prefix?: string;
  /** Third octet of the /24 inside 10.0.0.0/8 to use: 10.<a>.<b>.0/24. Random when omitted. */
  subnet?: [number, number];
}

/**
 * A bridge in the host namespace with a /24 on it, and pods (namespaces) attached by veth pairs.
 * The bridge's address (.1) is the pods' default gateway and is how a pod reaches host processes.
 */
export class PodNetwork {
  readonly prefix: string;
  readonly bridge: string;
  readonly subnetBase: string;
  readonly gateway: string;
  readonly pods: PodNetns[] = [];
  private nextHost = 2;
  private created = false;

  constructor(options: PodNetworkOptions = {}) {
    this.prefix = options.prefix ?? `mt${randomBytes(2).toString('hex')}`;
    if (this.prefix.length > 6) throw new Error('PodNetwork prefix must be at most 6 characters');
    const [a, b] = options.subnet ?? [200 + (randomBytes(1)[0] % 50), randomBytes(1)[0]];
    this.subnetBase = `10.${a}.${b}`;
    this.gateway = `${this.subnetBase}.1`;
    this.bridge = `${this.prefix}br`;
  }

  async create(): Promise<void> {
    await sh('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    this.created = true;
    await sh('ip', ['addr', 'add', `${this.gateway}/24`, 'dev', this.bridge]);
    await sh('ip', ['link', 'set', this.bridge, 'up']);
  }

  /** Adds a pod: a namespace with lo up, a veth to the bridge, an address and a default route. */
  async addPod(name: string): Promise<PodNetns> {
    const index = this.pods.length;
    const netns = `${this.prefix}-${name}`;
    const hostIf = `${this.prefix}v${index}`;
    const podIf = `${this.prefix}p${index}`;
    const ip = `${this.subnetBase}.${this.nextHost++}`;
    await sh('ip', ['netns', 'add', netns]);
    const pod = { netns, ip, hostIf };
    this.pods.push(pod);
    await sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', podIf]);
    await sh('ip', ['link', 'set', podIf, 'netns', netns]);
    await sh('ip', ['link', 'set', hostIf, 'master', this.bridge]);
    await sh('ip', ['link', 'set', hostIf, 'up']);
    await sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', netns, 'link', 'set', podIf, 'name', 'eth0']);
    await sh('ip', ['-n', netns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', netns, 'route', 'add', 'default', 'via', this.gateway]);
    return pod;
  }

  /** Removes everything this network made, in an order that always succeeds. Idempotent. */
  async destroy(): Promise<void> {
    for (const pod of this.pods.reverse()) {
      await killNetnsProcesses(pod.netns);
      await shQuiet('ip', ['link', 'del', pod.hostIf]);
      await shQuiet('ip', ['netns', 'del', pod.netns]);
    }
    this.pods.length = 0;
    if (this.created) await shQuiet('ip', ['link', 'del', this.bridge]);
    this.created = false;
  }
}

/** `ip netns exec` forks, so killing its pid is not enough: kill every pid in the namespace. */
export async function killNetnsProcesses(netns: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const { stdout } = await sh('ip', ['netns', 'pids', netns]).catch(() => ({ stdout: '' }));
  for (const pid of stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), signal);
    } catch {
      // already gone
    }
  }
}

export interface NsSpawnOptions extends SpawnOptions {
  /** Run as this uid/gid (via setpriv), e.g. 1337 for the sidecar. */
  uid?: number;
  gid?: number;
}

/** Starts a long-running process inside a namespace, optionally as another user. */
export function spawnInNetns(netns: string, cmd: string, args: string[], options: NsSpawnOptions = {}): ChildProcess {
  const { uid, gid, ...spawnOptions } = options;
  const argv = ['netns', 'exec', netns];
  if (uid !== undefined) {
    argv.push('setpriv', `--reuid=${uid}`, `--regid=${gid ?? uid}`, '--clear-groups');
  }
  argv.push(cmd, ...args);
  return spawn('ip', argv, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
}

/** Runs a command inside a namespace to completion. */
export function execInNetns(netns: string, cmd: string, args: string[], input?: string): Promise<CommandResult> {
  return sh('ip', ['netns', 'exec', netns, cmd, ...args], input);
}

/** Lists namespaces whose names start with `prefix`, for leak checks. */
export async function listNetns(prefix = ''): Promise<string[]> {
  const { stdout } = await sh('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n && n.startsWith(prefix));
}
