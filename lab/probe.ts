/**
 * Probes as the kubelet runs them: httpGet and tcpSocket from the node (the host namespace) to
 * the pod's IP, exec inside the pod's namespace as the container's user. The lab waits for a
 * container by repeating its probe until it succeeds, the container exits or time runs out.
 */
import { spawn } from 'node:child_process';
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
    last = await runProbe(probe, target);
    if (last.ok) return last;
    if (Date.now() >= options.deadline) return { ok: false, why: `timed out; last probe: ${last.why}` };
    await sleep(Math.min(options.intervalMs ?? 200, (probe.periodSeconds ?? 10) * 1000));
  }
}
