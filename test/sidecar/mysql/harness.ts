/**
 * Drives the MySQL capture session from scripts (both directions built by the small encoder
 * in `encoder.ts`) and checks that every way of cutting the input into chunks yields the same
 * exchanges.
 */
import type { Test } from 'tap';
import type { CloseReason } from '../../../sidecar/capture/session.ts';
import { createMysqlSession, type MysqlSessionOptions } from '../../../sidecar/mysql/session.ts';
import { plain, runSession, sameAtEveryCut, type Cuts, type RunResult } from '../http1/harness.ts';

export type Step = { c: Uint8Array } | { s: Uint8Array } | { cend: true } | { send: true } | { close: CloseReason };

export { timeOf } from '../http1/harness.ts';

export type MyRun = RunResult;

export function runMy(steps: Step[], cuts: Cuts = new Map(), maxBodyBytes = 64 * 1024, options: MysqlSessionOptions = {}): MyRun {
  return runSession(steps, cuts, maxBodyBytes, {}, (ctx) => createMysqlSession(ctx, options));
}

/** Runs the script whole and at every cut; asserts they agree and returns the whole run. */
export function runAllCuts(t: Test, steps: Step[], maxBodyBytes = 64 * 1024, options: MysqlSessionOptions = {}): MyRun {
  return sameAtEveryCut(t, steps, (cuts) => runMy(steps, cuts, maxBodyBytes, options));
}

export const text = (b: Uint8Array | undefined): string => (b === undefined ? '' : Buffer.from(b).toString('utf8'));
export const json = (b: Uint8Array | undefined): any => JSON.parse(text(b));
export const leaks = (x: unknown, secret: string | Buffer): boolean => {
  const s = JSON.stringify(plain(x));
  if (typeof secret === 'string') return s.includes(secret);
  return s.includes(secret.toString('latin1')) || s.includes(secret.toString('hex')) || s.includes(secret.toString('base64'));
};
