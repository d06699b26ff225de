/**
 * The lab's state file. `lab up` records each thing before it creates it, so `lab down` can
 * undo a run that crashed half-way; `lab status` and `lab exec` read it.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MeshtapError } from '../lib/errors.ts';
import { STATE_FILE } from './addresses.ts';
import { LAB_ERR_ALREADY_UP, LAB_ERR_STATE } from './errors.ts';
import type { DnsServerState } from './dns-server.ts';

export interface HostProcessState {
  name: string;
  argv: string[];
  log: string;
  pid?: number;
}

export interface ContainerState {
  name: string;
  role: 'init' | 'sidecar' | 'app';
  uid: number;
  log: string;
  pid?: number;
  state: 'waiting' | 'running' | 'completed' | 'ready' | 'failed';
}

export interface PodState {
  name: string;
  namespace: string;
  netns: string;
  ip: string;
  index: number;
  hostIf: string;
  podIf: string;
  dir: string;
  /** `/etc/netns/<netns>`: the files `ip netns exec` mounts over /etc. */
  etcDir: string;
  workload?: string;
  phase: 'pending' | 'network' | 'admitted' | 'starting' | 'ready' | 'failed';
  injected?: boolean;
  /** Why the webhook did not inject, when it did not. */
  skipReasons?: string[];
  /** User and environment `lab exec` runs commands with (the first app container's). */
  app?: { container: string; uid: number; gid: number; env: Record<string, string> };
  containers: ContainerState[];
  error?: string;
}

export interface ServiceState {
  name: string;
  namespace: string;
  clusterIP: string;
  ports: Array<{ name?: string; port: number; targetPort: number | string; endpoints: Array<{ pod: string; ip: string; port: number }> }>;
}

export interface LabState {
  version: 1;
  /** The `lab up` process. */
  pid: number;
  startedAt: string;
  phase: 'starting' | 'ready' | 'failed' | 'stopping';
  stateDir: string;
  scenario: { name: string; dir: string };
  bridge?: { name: string; gateway: string; prefixLength: number };
  ports: { grpc: number; http: number; webhook?: number };
  /** `token` reads the API (`Authorization: Bearer`); `dashboardUrl` logs a browser in. */
  collector?: { grpcAddr: string; url: string; dashboardUrl: string; token?: string; tokenFile?: string; pid?: number };
  webhook?: { url: string };
  /** `meshtap controller`: webhook, CA and membership feed in one process. */
  controller?: { process: string; webhookUrl: string; grpcAddr: string; pid?: number; log: string; trustDomain?: string };
  /** The public half of the key the lab signs pods' tokens with (the controller's `--token-key`). */
  tokenKeyFile?: string;
  /** What the lab keeps for the processes that would watch an API server: rewritten as pods come and go. */
  inventory?: { membershipFile: string; clusterFile: string };
  hostProcesses: HostProcessState[];
  /** Service rules were (or were about to be) installed in the host's nat table (`service-rules.ts`). */
  nodeRules?: boolean;
  /** The cluster DNS: dnsmasq in its own namespace behind the kube-dns VIP (`cluster-dns.ts`). */
  dns?: DnsServerState;
  /** /etc/netns did not exist before the lab; `lab down` removes it again when empty. */
  createdEtcNetns?: boolean;
  namespaces: Array<{ name: string; labels: Record<string, string> }>;
  services: ServiceState[];
  pods: PodState[];
}

export function stateFilePath(stateDir: string): string {
  return join(stateDir, STATE_FILE);
}

/** Reads the state, or undefined when no lab is recorded. A damaged file is reported, not ignored. */
export function readState(stateDir: string): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(stateFilePath(stateDir), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    const hint = code === 'EACCES' ? ' (the lab is root\'s, and its state holds the API token: run this as root)' : '';
    throw new MeshtapError(LAB_ERR_STATE, `cannot read ${stateFilePath(stateDir)}: ${(err as Error).message}${hint}`, { cause: err });
  }
  try {
    const state = JSON.parse(text) as LabState;
    if (state.version !== 1) throw new Error(`unknown version ${String(state.version)}`);
    return state;
  } catch (err) {
    throw new MeshtapError(LAB_ERR_STATE, `${stateFilePath(stateDir)} is damaged (${(err as Error).message}); "meshtap lab down" still removes the lab by its names`, {
      cause: err,
    });
  }
}

/**
 * The state file holds the collector's API token (`lab status --json`): readable by root only,
 * as `collector-token` is, or any user of the machine and any pod's process (they share the
 * node's filesystem) would read every payload through the API.
 */
const STATE_FILE_MODE = 0o600;

/**
 * Claims the state directory for a new lab: the state file is created exclusively, so two
 * `lab up` never both proceed.
 */
export function claimState(state: LabState): void {
  mkdirSync(state.stateDir, { recursive: true, mode: 0o755 });
  let fd: number;
  try {
    fd = openSync(stateFilePath(state.stateDir), 'wx', STATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new MeshtapError(LAB_ERR_ALREADY_UP, 'a lab is already recorded in ' + stateFilePath(state.stateDir));
    }
    throw new MeshtapError(LAB_ERR_STATE, `cannot create ${stateFilePath(state.stateDir)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    writeSync(fd, JSON.stringify(state, null, 2));
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces a file atomically: written aside in the same directory, then renamed over it, so a
 * reader (or a directory watch) sees the old content or the new one, never a partial file.
 * Synchronous, so two writes from one process never interleave.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

/** Replaces the state file atomically. */
export function saveState(state: LabState): void {
  writeFileAtomic(stateFilePath(state.stateDir), JSON.stringify(state, null, 2), STATE_FILE_MODE);
}
