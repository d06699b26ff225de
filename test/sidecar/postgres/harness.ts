/**
 * Drives the PostgreSQL capture session from scripts (client bytes from pg-protocol's
 * serializer, server bytes from the small encoder below) and checks that every way of cutting
 * the input into chunks yields the same exchanges.
 */
import type { Test } from 'tap';
import type { CloseReason } from '../../../sidecar/capture/session.ts';
import { createPostgresSession, type PostgresSessionOptions } from '../../../sidecar/postgres/session.ts';
import { runSession, sameAtEveryCut, type Cuts, type RunResult } from '../http1/harness.ts';

export type Step = { c: Uint8Array } | { s: Uint8Array } | { cend: true } | { send: true } | { close: CloseReason };

export { timeOf } from '../http1/harness.ts';

export type PgRun = RunResult;

export function runPg(steps: Step[], cuts: Cuts = new Map(), maxBodyBytes = 64 * 1024, options: PostgresSessionOptions = {}): PgRun {
  return runSession(steps, cuts, maxBodyBytes, {}, (ctx) => createPostgresSession(ctx, options));
}

/** Runs the script whole and at every cut; asserts they agree and returns the whole run. */
export function runAllCuts(t: Test, steps: Step[], maxBodyBytes = 64 * 1024, options: PostgresSessionOptions = {}): PgRun {
  return sameAtEveryCut(t, steps, (cuts) => runPg(steps, cuts, maxBodyBytes, options));
}

export const text = (b: Uint8Array | undefined): string => (b === undefined ? '' : Buffer.from(b).toString('utf8'));
export const json = (b: Uint8Array | undefined): any => JSON.parse(text(b));

// ---- backend message encoder (tests only) ----

const cstr = (s: string): Buffer => Buffer.concat([Buffer.from(s), Buffer.from([0])]);
const i16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

export function msg(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from(type, 'latin1'), i32(body.length + 4), body]);
}

export const be = {
  authOk: () => msg('R', i32(0)),
  authCleartext: () => msg('R', i32(3)),
  authMd5: (salt = Buffer.from([1, 2, 3, 4])) => msg('R', i32(5), salt),
  authSasl: (mechanisms: string[]) => msg('R', i32(10), ...mechanisms.map(cstr), Buffer.from([0])),
  authSaslContinue: (data: string) => msg('R', i32(11), Buffer.from(data)),
  authSaslFinal: (data: string) => msg('R', i32(12), Buffer.from(data)),
  parameterStatus: (name: string, value: string) => msg('S', cstr(name), cstr(value)),
  backendKey: (pid: number, key: number) => msg('K', i32(pid), i32(key)),
  ready: (status = 'I') => msg('Z', Buffer.from(status)),
  rowDescription: (cols: Array<string | [string, number]>) =>
    msg(
      'T',
      i16(cols.length),
      ...cols.map((c) => {
        const [name, format] = typeof c === 'string' ? [c, 0] : c;
        return Buffer.concat([cstr(name), i32(0), i16(0), i32(25), i16(-1), i32(-1), i16(format)]);
      }),
    ),
  dataRow: (values: Array<string | Buffer | null>) =>
    msg(
      'D',
      i16(values.length),
      ...values.map((v) => {
        if (v === null) return i32(-1);
        const b = typeof v === 'string' ? Buffer.from(v) : v;
        return Buffer.concat([i32(b.length), b]);
      }),
    ),
  commandComplete: (tag: string) => msg('C', cstr(tag)),
  emptyQuery: () => msg('I'),
  error: (fields: Record<string, string>) =>
    msg('E', ...Object.entries(fields).map(([k, v]) => Buffer.concat([Buffer.from(k), cstr(v)])), Buffer.from([0])),
  notice: (fields: Record<string, string>) =>
    msg('N', ...Object.entries(fields).map(([k, v]) => Buffer.concat([Buffer.from(k), cstr(v)])), Buffer.from([0])),
  parseComplete: () => msg('1'),
  bindComplete: () => msg('2'),
  closeComplete: () => msg('3'),
  noData: () => msg('n'),
  parameterDescription: (oids: number[]) => msg('t', i16(oids.length), ...oids.map(i32)),
  portalSuspended: () => msg('s'),
  copyInResponse: (columns: number) => msg('G', Buffer.from([0]), i16(columns), ...Array.from({ length: columns }, () => i16(0))),
  copyOutResponse: (columns: number) => msg('H', Buffer.from([0]), i16(columns), ...Array.from({ length: columns }, () => i16(0))),
  copyData: (data: string) => msg('d', Buffer.from(data)),
  copyDone: () => msg('c'),
  notification: (pid: number, channel: string, payload: string) => msg('A', i32(pid), cstr(channel), cstr(payload)),
};

/** A usual trust-auth server greeting. */
export function greeting(): Buffer {
  return Buffer.concat([
    be.authOk(),
    be.parameterStatus('server_version', '15.8'),
    be.parameterStatus('client_encoding', 'UTF8'),
    be.backendKey(4242, 99999),
    be.ready(),
  ]);
}

export const cat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);
