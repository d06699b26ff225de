/**
 * Drives the MySQL capture session from scripts (both directions built by the small encoder
 * in `encoder.ts`) and checks that every way of cutting the input into chunks yields the same
 * exchanges.
 */
import type { Test } from 'tap';
import type { CaptureEvent, CaptureSession, CloseReason, Exchange } from '../../../sidecar/capture/session.ts';
import { createMysqlSession, type MysqlSessionOptions } from '../../../sidecar/mysql/session.ts';
import { allCuts, plain } from '../http1/harness.ts';

export type Step = { c: Uint8Array } | { s: Uint8Array } | { cend: true } | { send: true } | { close: CloseReason };

export const timeOf = (i: number): bigint => 1_000_000_000n + BigInt(i) * 1000n;

export interface MyRun {
  exchanges: Exchange[];
  events: CaptureEvent[];
}

export function runMy(steps: Step[], cuts: Map<number, number[]> = new Map(), maxBodyBytes = 64 * 1024, options: MysqlSessionOptions = {}): MyRun {
  const exchanges: Exchange[] = [];
  const events: CaptureEvent[] = [];
  const session: CaptureSession = createMysqlSession({ maxBodyBytes, emit: (e) => exchanges.push(e), event: (e) => events.push(e) }, options);
  steps.forEach((step, i) => {
    const now = timeOf(i);
    if ('c' in step || 's' in step) {
      const data = Buffer.from('c' in step ? step.c : step.s);
      const offsets = [0, ...(cuts.get(i) ?? []), data.length];
      for (let k = 0; k + 1 < offsets.length; k++) {
        const piece = data.subarray(offsets[k], offsets[k + 1]);
        if (piece.length === 0) continue;
        if ('c' in step) session.clientData(piece, now);
        else session.serverData(piece, now);
      }
    } else if ('cend' in step) session.clientEnd(now);
    else if ('send' in step) session.serverEnd(now);
    else session.close(now, step.close);
  });
  return { exchanges, events };
}

/** Runs the script whole and at every cut; asserts they agree and returns the whole run. */
export function runAllCuts(t: Test, steps: Step[], maxBodyBytes = 64 * 1024, options: MysqlSessionOptions = {}): MyRun {
  const whole = runMy(steps, new Map(), maxBodyBytes, options);
  const want = JSON.stringify(plain(whole));
  let differ = 0;
  let first = '';
  let runs = 0;
  for (const { label, cuts } of allCuts(steps as Parameters<typeof allCuts>[0])) {
    runs++;
    const got = JSON.stringify(plain(runMy(steps, cuts, maxBodyBytes, options)));
    if (got !== want) {
      differ++;
      first ||= label;
    }
  }
  t.equal(differ, 0, `same exchanges at every cut (${runs} ways)${first ? `; first difference: ${first}` : ''}`);
  return whole;
}

export const text = (b: Uint8Array | undefined): string => (b === undefined ? '' : Buffer.from(b).toString('utf8'));
export const json = (b: Uint8Array | undefined): any => JSON.parse(text(b));
export const leaks = (x: unknown, secret: string | Buffer): boolean => {
  const s = JSON.stringify(plain(x));
  if (typeof secret === 'string') return s.includes(secret);
  return s.includes(secret.toString('latin1')) || s.includes(secret.toString('hex')) || s.includes(secret.toString('base64'));
};
