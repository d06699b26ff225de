import { PassThrough } from 'node:stream';
import Fastify from 'fastify';
import t from 'tap';
import { createJsonLogger, createSinkLogger, pinoJsonOptions, silentLogger, withFields, type Logger, type LogLevel } from '../../lib/log.ts';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

const at = (ms: number) => () => ms;

void t.test('JSON lines: time, level, base fields, msg, call fields, in that order', async (t) => {
  const out = capture();
  const log = createJsonLogger(out.stream, { now: at(Date.UTC(2026, 11, 3, 9, 30)) });
  log.info({ peer: '10.0.0.1:5000', n: 3 }, 'ingest stream');
  log.warn({}, 'no fields');
  t.equal(
    out.text(),
    '{"time":"2026-12-03T09:30:00.000Z","level":"info","msg":"ingest stream","peer":"10.0.0.1:5000","n":3}\n' +
      '{"time":"2026-12-03T09:30:00.000Z","level":"warn","msg":"no fields"}\n',
  );
});

void t.test('the sidecar form: base component, level filter', async (t) => {
  const out = capture();
  const log = createJsonLogger(out.stream, { level: 'info', base: { component: 'sidecar' }, now: at(0) });
  log.debug({ x: 1 }, 'dropped');
  log.info({ admin_port: 15020 }, 'listening');
  log.error({ error: 'boom' }, 'cannot start');
  t.equal(
    out.text(),
    '{"time":"1970-01-01T00:00:00.000Z","level":"info","component":"sidecar","msg":"listening","admin_port":15020}\n' +
      '{"time":"1970-01-01T00:00:00.000Z","level":"error","component":"sidecar","msg":"cannot start","error":"boom"}\n',
  );
});

void t.test('bigints are written as strings; a call without msg has no msg key; fields may override', async (t) => {
  const out = capture();
  const log = createJsonLogger(out.stream, { now: at(0), base: { component: 'a' } });
  log.info({ start: 1_700_000_000_123_456_789n });
  log.error({ component: 'b' }, 'override');
  const [first, second] = out.text().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(first, { time: '1970-01-01T00:00:00.000Z', level: 'info', component: 'a', start: '1700000000123456789' });
  t.equal(second.component, 'b');
});

void t.test('a sink logger sees level, msg and fields, and filters by level', async (t) => {
  const seen: [LogLevel, string, Record<string, unknown>][] = [];
  const log = createSinkLogger((level, msg, fields) => seen.push([level, msg, fields]), 'warn');
  log.debug({ a: 1 }, 'no');
  log.info({ a: 2 }, 'no');
  log.warn({ a: 3 }, 'yes');
  log.error({ a: 4 });
  t.same(seen, [
    ['warn', 'yes', { a: 3 }],
    ['error', '', { a: 4 }],
  ]);
});

void t.test('withFields adds fields under the call fields and keeps a missing debug missing', async (t) => {
  const seen: unknown[] = [];
  const log = withFields(
    createSinkLogger((level, msg, fields) => seen.push({ level, msg, fields })),
    { component: 'inventory' },
  );
  log.warn({ resource: 'pods' }, 'restarting');
  log.debug?.({ component: 'other' }, 'chatter');
  t.same(seen, [
    { level: 'warn', msg: 'restarting', fields: { component: 'inventory', resource: 'pods' } },
    { level: 'debug', msg: 'chatter', fields: { component: 'other' } },
  ]);
  const noDebug = withFields({ info() {}, warn() {}, error() {} }, { a: 1 });
  t.equal(noDebug.debug, undefined);
});

void t.test("fastify's (pino) logger is a Logger, and the silent logger writes nothing", async (t) => {
  const out = capture();
  const app = Fastify({ logger: pinoJsonOptions('info', out.stream) });
  t.teardown(() => app.close());
  const log: Logger = app.log.child({ component: 'controller' });
  log.info({ event: 'ready' }, 'controller ready');
  const line = JSON.parse(out.text().trim()) as Record<string, unknown>;
  t.match(line, { component: 'controller', event: 'ready', msg: 'controller ready' });
  t.equal(line.level, 'info', 'the level by name, as the collector and the sidecar write it');
  t.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'the time as ISO 8601');
  t.notOk('pid' in line || 'hostname' in line, 'no pid or hostname');
  t.same(Object.keys(line).slice(0, 2).sort(), ['level', 'time']);
  log.warn({}, 'careful');
  t.equal((JSON.parse(out.text().trim().split('\n')[1]) as { level: string }).level, 'warn');
  for (const level of ['debug', 'info', 'warn', 'error'] as const) t.doesNotThrow(() => silentLogger[level]({ a: 1 }, 'x'));
});
