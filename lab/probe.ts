/**
 * Probes as the kubelet runs them: httpGet and tcpSocket from the node (the host namespace) to
 * the pod's IP, exec inside the pod's namespace as the container's user. The lab waits for a
 * container by repeating its probe until it succeeds, the container exits or time runs out.
 *
 * The lab repeats a probe far more often than a kubelet would (every 200 ms, not every
 * `periodSeconds`), and each httpGet or tcpSocket probe of a meshed pod is a call its sidecar
 * captures: apps still starting refused them (28 of 34 probe calls in a fresh lab), so the
 * node's calls to every service stood at 80–100 % errors on its service map. So while the
 * probed port is not listening yet (read from the container's own `/proc/<pid>/net/tcp` and
 * `tcp6`: no traffic), the lab waits without probing; once it listens, or when that cannot be
 * read, it probes as before.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { wrapArgv } from './processes.ts';
import type { Probe } from './scenario.ts';

export interface ProbeTarget {
  ip: string;
  /** The probe's port, named ports already resolved. */
  port?: number;
  netns: string;
  uid: number;
  gid: number;
  env: Record<string, string>;
  /** A process of the container (in the pod's network namespace), to see whether the port listens. */
  pid?: number;
}

export type ProbeOutcome = { ok: true } | { ok: false; why: string };

function httpProbe(ip: string, port: number, path: string, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port, path, method: 'GET', timeout: timeoutMs, agent: false, headers: { 'user-agent': 'kube-probe/lab' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      resolve(status >= 200 && status < 400 ? { ok: true } : { ok: false, why: `HTTP ${status}` });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, why: err.code ?? err.message }));
    req.end();
  });
}

function tcpProbe(ip: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port, timeout: timeoutMs });
    socket.on('connect', () => {
      socket.destroy();
      resolve({ ok: true });
    });
    socket.on('timeout', () => {
      socket.destroy();
      resolve({ ok: false, why: `no connection within ${timeoutMs} ms` });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, why: err.code ?? err.message }));
  });
}

function execProbe(command: string[], target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const argv = wrapArgv(command, target.netns, target.uid, target.gid);
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { env: target.env, stdio: 'ignore', timeout: timeoutMs });
    child.on('error', (err) => resolve({ ok: false, why: err.message }));
    child.on('exit', (code, signal) => resolve(code === 0 ? { ok: true } : { ok: false, why: signal ? `killed by ${signal}` : `exit ${code}` }));
  });
}

const TCP_LISTEN = '0A';

/**
 * Whether a `/proc/net/tcp` or `tcp6` table (of one network namespace) has a socket listening on
 * `port`, on any address.
 */
export function listensOn(table: string, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    // sl, local_address (ADDR:PORT in hex), rem_address, st, …
    if (fields.length < 4 || fields[3] !== TCP_LISTEN) continue;
    if (fields[1].endsWith(`:${hexPort}`)) return true;
  }
  return false;
}

/** The identity of a process's network namespace (`net:[inode]`), undefined when it cannot be read. */
export function netnsOf(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/**
 * Whether the network namespace of process `pid` listens on TCP `port`; undefined when that
 * cannot be read. `inPod`: the process belongs in a namespace of its own, so while it is still
 * in this one (`ip netns exec` has not switched yet) nothing listens for it.
 */
export function portListening(pid: number, port: number, inPod = false): boolean | undefined {
  if (inPod) {
    const ns = netnsOf(pid);
    if (ns !== undefined && ns === netnsOf('self')) return false;
  }
  let any = false;
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    any = true;
    if (listensOn(text, port)) return true;
  }
  return any ? false : undefined;
}

/** A connecting probe whose port does not listen in the container's namespace yet: sending it would only be refused. */
function portNotListeningYet(probe: Probe, target: ProbeTarget): boolean {
  if (probe.exec || target.pid === undefined || target.port === undefined) return false;
  return portListening(target.pid, target.port, target.netns !== '') === false;
}

/** Runs a probe once. */
export function runProbe(probe: Probe, target: ProbeTarget): Promise<ProbeOutcome> {
  const timeoutMs = Math.max(1, probe.timeoutSeconds ?? 1) * 1000;
  if (probe.exec) return execProbe(probe.exec.command, target, timeoutMs);
  if (target.port === undefined) return Promise.resolve({ ok: false, why: 'the probe names a port no container declares' });
  if (probe.httpGet) return httpProbe(target.ip, target.port, probe.httpGet.path ?? '/', timeoutMs);
  return tcpProbe(target.ip, target.port, timeoutMs);
}

export interface WaitOptions {
  deadline: number;
  /** Stops waiting early, with this reason (the container exited, the lab is being stopped). */
  stopped?: () => string | undefined;
  intervalMs?: number;
}

/**
 * Repeats the probe until it succeeds. The lab polls faster than `periodSeconds` (a pod's
 * readiness is what `lab up` waits for) but honours `initialDelaySeconds`.
 */
export async function waitForProbe(probe: Probe, target: ProbeTarget, options: WaitOptions): Promise<ProbeOutcome> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  if (probe.initialDelaySeconds) await sleep(probe.initialDelaySeconds * 1000);
  let last: ProbeOutcome = { ok: false, why: 'not probed yet' };
  for (;;) {
    const stop = options.stopped?.();
    if (stop) return { ok: false, why: stop };
    last = portNotListeningYet(probe, target) ? { ok: false, why: `nothing listens on port ${target.port} yet` } : await runProbe(probe, target);
    if (last.ok) return last;
    if (Date.now() >= options.deadline) return { ok: false, why: `timed out; last probe: ${last.why}` };
    await sleep(Math.min(options.intervalMs ?? 200, (probe.periodSeconds ?? 10) * 1000));
  }
}
