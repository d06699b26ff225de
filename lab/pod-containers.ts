/**
 * A lab pod's containers as the kubelet runs them: init containers to completion, the others
 * started (with their postStart hooks), and ready once their startup and readiness probes pass.
 * `up.ts` decides the order (a native sidecar before the app) and says what happened; these
 * functions keep each container's recorded state current.
 */
import type { ChildProcess } from 'node:child_process';
import { MeshtapError } from '../lib/errors.ts';
import { LAB_ERR_POD_FAILED } from './errors.ts';
import { sleep } from './host-helpers.ts';
import { resolveProbePort, type ProcessPlan } from './pod-plan.ts';
import { waitForProbe, type ProbeTarget } from './probe.ts';
import { tailLog, type startProcess } from './processes.ts';
import type { Pod } from './scenario.ts';
import type { ContainerState, PodState } from './state.ts';

/** What running containers needs from the lab: starting (and tracking) processes, saving state. */
export interface ContainerHost {
  spawn(options: Parameters<typeof startProcess>[0]): ChildProcess;
  /** Writes the lab's state (container states and pids changed). */
  save(): void;
  /** `lab up` interrupted: containers still waiting to be ready fail with `interrupted`. */
  signal?: AbortSignal;
}

/** How a container runs: its process plan in its pod's network namespace. */
function spawnIn(host: ContainerHost, ps: PodState, proc: ProcessPlan, argv: string[], log: string): ChildProcess {
  return host.spawn({ argv, env: proc.env, log, netns: ps.netns, uid: proc.uid, gid: proc.gid, cwd: proc.workingDir });
}

export async function runInit(host: ContainerHost, ps: PodState, proc: ProcessPlan, cs: ContainerState): Promise<void> {
  cs.state = 'running';
  const child = spawnIn(host, ps, proc, proc.argv, cs.log);
  cs.pid = child.pid;
  host.save();
  const code = await new Promise<number | null>((resolve) => {
    child.on('exit', (c) => resolve(c));
    child.on('error', () => resolve(null));
  });
  if (code !== 0) {
    cs.state = 'failed';
    throw new MeshtapError(LAB_ERR_POD_FAILED, `init container ${proc.container} of ${ps.namespace}/${ps.name} exited ${code}; log ${cs.log}:\n${tailLog(cs.log)}`);
  }
  cs.state = 'completed';
  host.save();
}

/** Why a started container stopped, once it has (`reason` stays unset while it runs). */
export interface ContainerStatus {
  reason?: string;
}

/** Starts a long-running container; its status says why once it has exited. */
export function startContainer(host: ContainerHost, ps: PodState, proc: ProcessPlan, cs: ContainerState): ContainerStatus {
  const status: ContainerStatus = {};
  const child = spawnIn(host, ps, proc, proc.argv, cs.log);
  child.on('exit', (code, signal) => {
    status.reason = `container ${proc.container} exited (${signal ?? code})`;
    cs.state = 'failed';
  });
  child.on('error', (err) => (status.reason = `container ${proc.container} could not start: ${err.message}`));
  cs.pid = child.pid;
  cs.state = 'running';
  host.save();
  return status;
}

export async function runHook(host: ContainerHost, ps: PodState, proc: ProcessPlan, cs: ContainerState): Promise<void> {
  const child = spawnIn(host, ps, proc, proc.postStart!, cs.log);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  if (code !== 0) throw new MeshtapError(LAB_ERR_POD_FAILED, `postStart hook of ${proc.container} in ${ps.namespace}/${ps.name} exited ${code}; log ${cs.log}:\n${tailLog(cs.log)}`);
}

function probeTarget(pod: Pod, ps: PodState, proc: ProcessPlan, cs: ContainerState, port: number | string | undefined): ProbeTarget {
  return {
    ...(cs.pid !== undefined ? { pid: cs.pid } : {}),
    ip: ps.ip,
    port: port === undefined ? undefined : resolveProbePort(pod, port),
    netns: ps.netns,
    uid: proc.uid,
    gid: proc.gid,
    env: proc.env,
  };
}

/** Resolves once the container's probes pass (or, without probes, it still runs after a moment). */
export async function awaitContainer(
  host: ContainerHost,
  pod: Pod,
  ps: PodState,
  proc: ProcessPlan,
  cs: ContainerState,
  status: ContainerStatus,
  deadline: number,
): Promise<void> {
  const stopped = () => status.reason ?? (host.signal?.aborted ? 'interrupted' : undefined);
  const fail = (why: string) =>
    new MeshtapError(LAB_ERR_POD_FAILED, `${proc.container} in ${ps.namespace}/${ps.name} is not ready: ${why}; log ${cs.log}:\n${tailLog(cs.log)}`);
  for (const probe of [proc.startupProbe, proc.readinessProbe]) {
    if (!probe) continue;
    const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
    const outcome = await waitForProbe(probe, probeTarget(pod, ps, proc, cs, port), { deadline, stopped });
    if (!outcome.ok) throw fail(outcome.why);
  }
  if (!proc.startupProbe && !proc.readinessProbe) {
    // Without probes a container is ready once it runs; give a crash at start a moment to show.
    await sleep(500);
    const why = stopped();
    if (why) throw fail(why);
  }
  cs.state = 'ready';
  host.save();
}
