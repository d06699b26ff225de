/**
 * The one logger shape every component takes, pino's `level(fields, msg?)` (fastify's logger
 * is a pino logger, so the webhook and the controller pass theirs straight through), and the
 * one JSON-lines implementation the collector and the sidecar write with: one object per
 * line, `time`, `level`, the logger's base fields, `msg`, then the call's fields.
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  /** Optional: a caller-supplied logger may leave debug out; call it as `log.debug?.(...)`. */
  debug?(fields: object, msg?: string): void;
  info(fields: object, msg?: string): void;
  warn(fields: object, msg?: string): void;
  error(fields: object, msg?: string): void;
}

/** One log entry as a sink sees it (`msg` is '' when the call gave none). */
export type LogSink = (level: LogLevel, msg: string, fields: Record<string, unknown>) => void;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function levelled(write: (level: LogLevel, msg: string | undefined, fields: Record<string, unknown>) => void, minLevel: LogLevel): Required<Logger> {
  const at =
    (level: LogLevel) =>
    (fields: object, msg?: string): void => {
      if (RANK[level] >= RANK[minLevel]) write(level, msg, fields as Record<string, unknown>);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A logger that hands each entry at or above `minLevel` to `sink` (a test's capture, an adapter). */
export function createSinkLogger(sink: LogSink, minLevel: LogLevel = 'debug'): Required<Logger> {
  return levelled((level, msg, fields) => sink(level, msg ?? '', fields), minLevel);
}

export interface JsonLoggerOptions {
  /** Entries below this level are dropped. Default `debug` (everything). */
  level?: LogLevel;
  /** Fields on every line, between `level` and `msg` (`component`). */
  base?: Record<string, unknown>;
  /** Epoch ms. */
  now?: () => number;
}

/** JSON lines on `stream`; bigints become strings so a record's nanosecond times can be logged. */
export function createJsonLogger(stream: NodeJS.WritableStream, options: JsonLoggerOptions = {}): Required<Logger> {
  const now = options.now ?? Date.now;
  const base = options.base ?? {};
  return levelled((level, msg, fields) => {
    const entry = { time: new Date(now()).toISOString(), level, ...base, msg, ...fields };
    stream.write(`${JSON.stringify(entry, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  }, options.level ?? 'debug');
}

/** Adds `fields` to every entry of `log` (a call's own fields win), like pino's `child`. */
export function withFields(log: Logger, fields: Record<string, unknown>): Logger {
  return {
    debug: log.debug ? (f, msg) => log.debug?.({ ...fields, ...f }, msg) : undefined,
    info: (f, msg) => log.info({ ...fields, ...f }, msg),
    warn: (f, msg) => log.warn({ ...fields, ...f }, msg),
    error: (f, msg) => log.error({ ...fields, ...f }, msg),
  };
}

export const silentLogger: Required<Logger> = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Options for a pino logger — fastify's, in the webhook and the controller — whose lines have
 * the shape `createJsonLogger` writes for the collector and the sidecar: `level` by name
 * (`"info"`, not pino's 30), `time` as an ISO 8601 string, no `pid` or `hostname`. So one log
 * pipeline query (`level="error"`) reads every meshtap component.
 */
export function pinoJsonOptions(level: string, stream?: NodeJS.WritableStream): {
  level: string;
  stream?: NodeJS.WritableStream;
  base: undefined;
  timestamp: () => string;
  formatters: { level: (label: string) => { level: string } };
} {
  return {
    level,
    ...(stream !== undefined ? { stream } : {}),
    base: undefined,
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
    formatters: { level: (label: string) => ({ level: label }) },
  };
}
