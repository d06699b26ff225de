/**
 * The meshtap sidecar pair, started as the lab and the system tests start it: `bin/meshtap.ts
 * sidecar` inside each pod's namespace as the proxy uid, configured by env only, so it follows
 * whatever the bin dispatches to. Profiling flags travel in NODE_OPTIONS, which every Node
 * process of the container inherits (a re-executed bundle, a child) and worker threads honour.
 */
import type { ChildProcess } from 'node:child_process';
import { spawnInNetns, type PodNetns, type PodNetwork } from '../lab/netns.ts';
import type { Collector } from './collector-process.ts';
import { sidecarMetrics, waitMeshReady, type MeshControl } from './mesh-control.ts';
import { PairStats, containerPids, rssMiB } from './proc-stats.ts';
import { stopInNetns, type ProxyPair } from './proxy-pair.ts';
import type { Pair } from './results.ts';
import { SIDECAR_NODE_OPTIONS, SIDECAR_RUNTIME_ENV, podCommandFlags, podEntry } from '../lib/pod-entry.ts';
import { sidecarCounters } from './sidecar-counters.ts';
import { ADMIN_PORT, NODE, POD_NAMES, POD_NAMESPACE, PROXY_UID, REPO, benchEnv, sleep } from './settings.ts';

export interface SidecarPairOptions {
  capture: boolean;
  /** Identities from the controller (the mTLS pair); waits for certificates and membership. */
  mesh?: MeshControl;
  /**
   * Node options for both sidecars (`BENCH_SIDECAR_NODE_OPTIONS`), on the command line rather
   * than in NODE_OPTIONS, so that V8 flags Node refuses there (`--single-threaded-gc`, …) can be
   * compared too; V8's flags are the process's, so they reach the capture worker as well.
   */
  extraNodeOptions?: string;
  /** NODE_OPTIONS for each sidecar (client, server), e.g. profiling flags. */
  nodeOptions?: [string, string];
}

/** How long idle RSS waits after ready, so lazy start-up work (first certificate, gRPC channel) is in. */
const IDLE_SETTLE_MS = 1000;

/** The end of what a sidecar wrote, to explain a sidecar that ended before it was ready. */
const OUTPUT_TAIL_BYTES = 4096;

/** Milliseconds from `t0` until the sidecar's admin `/ready` answers 200; fails at once if the sidecar exits first. */
async function timeToReady(pod: PodNetns, child: ChildProcess, output: () => string, t0: number, timeoutMs = 60_000): Promise<number> {
  const url = `http://${pod.ip}:${ADMIN_PORT}/ready`;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sidecar in ${pod.netns} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
    }
    const status = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      async (res) => {
        await res.arrayBuffer();
        return res.status;
      },
      () => 0,
    );
    const elapsed = performance.now() - t0;
    if (status === 200) return elapsed;
    if (elapsed > timeoutMs) throw new Error(`sidecar in ${pod.netns} not ready within ${timeoutMs} ms (last status ${status || 'no answer'})`);
    await sleep(10);
  }
}

export async function startSidecarPair(net: PodNetwork, pods: PodNetns[], collector: Collector, options: SidecarPairOptions): Promise<ProxyPair> {
  const t0 = performance.now();
  const nodeArgs = (options.extraNodeOptions ?? '').split(/\s+/).filter(Boolean);
  const children = pods.map((pod, i) =>
    spawnInNetns(pod.netns, NODE, [...podCommandFlags('sidecar'), ...nodeArgs, podEntry(), 'sidecar'], {
      uid: PROXY_UID,
      cwd: REPO,
      env: {
        ...benchEnv(),
        POD_NAME: POD_NAMES[i],
        POD_NAMESPACE,
        POD_IP: pod.ip,
        NODE_NAME: 'bench-node',
        MESHTAP_COLLECTOR_ADDR: `${net.gateway}:${collector.grpcPort}`,
        // The bench's collector serves plaintext ingest.
        MESHTAP_COLLECTOR_TLS: 'off',
        MESHTAP_LOG_LEVEL: 'warn',
        MESHTAP_CAPTURE: options.capture ? 'on' : 'off',
        ...options.mesh?.sidecarEnv(i as 0 | 1),
        ...SIDECAR_RUNTIME_ENV,
        NODE_OPTIONS: [SIDECAR_NODE_OPTIONS, options.nodeOptions?.[i]].filter(Boolean).join(' '),
      },
    }),
  );
  const outputs = children.map(() => '');
  children.forEach((child, i) => {
    child.stdout?.resume();
    child.stderr?.on('data', (d: Buffer) => (outputs[i] = (outputs[i] + d.toString()).slice(-OUTPUT_TAIL_BYTES)));
  });
  const roots = children.map((c) => c.pid!) as Pair;
  const stop = async () => {
    // Profiles are written on a clean exit: give the drain time before killing.
    await Promise.all(children.map((c) => stopInNetns(c, 30_000)));
  };
  try {
    const startupMs = (await Promise.all(pods.map((pod, i) => timeToReady(pod, children[i], () => outputs[i], t0)))) as Pair;
    if (options.mesh) await waitMeshReady(pods);
    await sleep(IDLE_SETTLE_MS);
    const rssIdleMiB = roots.map((root) => rssMiB(containerPids(root))) as Pair;
    const counters = async () => sidecarCounters(await Promise.all(pods.map(sidecarMetrics)));
    return { stats: new PairStats(roots), startupMs, rssIdleMiB, counters, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
