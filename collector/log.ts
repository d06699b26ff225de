/** JSON-lines logging: one object per line, `time`, `level`, `msg` and fields. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  (level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

export function createJsonLogger(stream: NodeJS.WritableStream, now: () => Date = () => new Date()): Logger {
  return (level, msg, fields) => {
    const line = JSON.stringify({ time: now().toISOString(), level, msg, ...fields }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    stream.write(`${line}\n`);
  };
}

export const silentLogger: Logger = () => {};
