/** JSON-lines logging for the sidecar: one object per line on the given stream, filtered by level. */
import type { LogLevel } from '../config.ts';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFn = (msg: string, fields?: Record<string, unknown>) => void;

export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export function createLogger(stream: NodeJS.WritableStream, level: LogLevel, now: () => number = Date.now): Logger {
  const make =
    (lvl: LogLevel): LogFn =>
    (msg, fields) => {
      if (RANK[lvl] < RANK[level]) return;
      const line = JSON.stringify({ time: new Date(now()).toISOString(), level: lvl, component: 'sidecar', msg, ...fields }, (_k, v: unknown) =>
        typeof v === 'bigint' ? v.toString() : v,
      );
      stream.write(`${line}\n`);
    };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}
