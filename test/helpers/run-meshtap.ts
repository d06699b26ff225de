/** Runs the `meshtap` command as a child process for CLI tests, collecting its JSON log lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

const bin = fileURLToPath(new URL('../../bin/meshtap.ts', import.meta.url));

export interface Proc {
  child: ChildProcess;
  lines: any[];
  stderr: () => string;
  exited: Promise<number | null>;
  waitFor(pred: (l: any) => boolean, what: string, timeoutMs?: number): Promise<any>;
}

/** Runs `meshtap <args>` with the pinned Node, no cluster variables, JSON lines collected from stdout. */
export function runMeshtap(t: Test, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: any[] = [];
  const waiters: { pred: (l: any) => boolean; resolve: (l: any) => void }[] = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.trim()) continue;
      let obj: any;
      try {
        obj = JSON.parse(line);
      } catch {
        obj = { text: line };
      }
      lines.push(obj);
      for (const w of [...waiters]) if (w.pred(obj)) w.resolve(obj);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    waitFor(pred, what, timeoutMs = 20_000) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stdout: ${JSON.stringify(lines)} stderr: ${err}`)), timeoutMs);
        waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        void exited.then((code) => reject(new Error(`exited ${code} before ${what}; stderr: ${err}`)));
      });
    },
  };
}
