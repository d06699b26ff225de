/**
 * Random conversations whose client bytes come from mysql2's own packet writers (COM_QUERY,
 * COM_STMT_PREPARE, COM_STMT_EXECUTE with typed parameters), answered by random result sets
 * and OKs. Records must carry exactly the statement, the parameters and the rows, and any
 * chunking of the same bytes must give the same records. Random bytes never throw.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import t from 'tap';
import fc from 'fast-check';
import { plain, seededCuts } from '../http1/harness.ts';
import { greeting, handshakeResponse, ok, prepareOk, resultSet } from './encoder.ts';
import { json, runMy, type Step } from './harness.ts';

const require = createRequire(import.meta.url);
interface Mysql2Packet {
  buffer: Buffer;
  writeHeader(seq: number): void;
}
type PacketCtor = new (...args: unknown[]) => { toPacket(): Mysql2Packet };
// The packet writers are not in the package's exports: loaded by file, from the installed package.
const packets = join(dirname(require.resolve('mysql2')), 'lib/packets');
const Query = require(join(packets, 'query.js')) as PacketCtor;
const PrepareStatement = require(join(packets, 'prepare_statement.js')) as PacketCtor;
const Execute = require(join(packets, 'execute.js')) as PacketCtor;
/** utf8mb4_general_ci, what mysql2 uses by default. */
const UTF8MB4 = 45;

/** The bytes mysql2 puts on the wire for a command packet (header with sequence 0). */
function wire(packet: { toPacket(): Mysql2Packet }): Buffer {
  const p = packet.toPacket();
  p.writeHeader(0);
  return Buffer.from(p.buffer);
}

const unit = fc.constantFrom(...'abc XYZ019_;\'"$\\-/*()\n\té€😀'.split(/(?:)/u));
// One statement per call: the session splits multi-statement text, which is tested elsewhere.
const sqlText = fc.string({ unit, minLength: 1, maxLength: 40 }).map((s) => `SELECT ${s.replaceAll(';', ',')}`);
const param = fc.oneof(fc.string({ unit, maxLength: 12 }), fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.constant(null));
const cell = fc.oneof(fc.string({ unit, maxLength: 10 }), fc.constant(null));

const call = fc.oneof(
  fc.record({ kind: fc.constant<'query'>('query'), text: sqlText, rows: fc.array(fc.tuple(cell, cell), { maxLength: 5 }) }),
  fc.record({ kind: fc.constant<'execute'>('execute'), text: sqlText, params: fc.array(param, { minLength: 1, maxLength: 4 }) }),
);
type Call = typeof call extends fc.Arbitrary<infer T> ? T : never;

function script(calls: Call[]): Step[] {
  const steps: Step[] = [{ s: greeting() }, { c: handshakeResponse({ user: 'app', db: 'shop', auth: Buffer.alloc(20, 7), deprecateEof: true }) }, { s: ok(2) }];
  calls.forEach((c, i) => {
    if (c.kind === 'query') {
      steps.push({ c: wire(new Query(c.text, UTF8MB4)) });
      steps.push({ s: resultSet(1, [{ name: 'a' }, { name: 'b' }], c.rows, { deprecateEof: true }) });
    } else {
      const id = i + 1;
      steps.push({ c: wire(new PrepareStatement(c.text, UTF8MB4)) });
      steps.push({ s: prepareOk(1, id, c.params.length, [], { deprecateEof: true }) });
      steps.push({ c: wire(new Execute(id, c.params, UTF8MB4, 'local')) });
      steps.push({ s: ok(1, { affected: 1 }) });
    }
  });
  steps.push({ close: 'fin' });
  return steps;
}

void t.test('records carry what mysql2 sent, at any chunking', async (t) => {
  fc.assert(
    fc.property(fc.array(call, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 1 << 30 }), (calls, seed) => {
      const steps = script(calls);
      const whole = runMy(steps);
      if (whole.events.length !== 0) throw new Error(`events: ${JSON.stringify(whole.events)}`);
      // The login, then one record per query, two (prepare, execute) per prepared call.
      const records = whole.exchanges.slice(1);
      let k = 0;
      for (const c of calls) {
        if (c.kind === 'query') {
          const r = records[k++];
          if (json(r.request?.body).query !== c.text) throw new Error(`query ${JSON.stringify(c.text)} → ${JSON.stringify(json(r.request?.body))}`);
          const body = json(r.response?.body);
          const want = c.rows.map(([a, b]) => ({ a, b }));
          if (JSON.stringify(body.rows) !== JSON.stringify(want)) throw new Error(`rows ${JSON.stringify(body.rows)} ≠ ${JSON.stringify(want)}`);
        } else {
          k++; // the prepare
          const r = records[k++];
          const req = json(r.request?.body);
          const want = c.params.map((p) => (p === null ? null : String(p)));
          if (req.query !== c.text || JSON.stringify(req.parameters) !== JSON.stringify(want)) {
            throw new Error(`execute ${JSON.stringify(req)} ≠ ${JSON.stringify({ query: c.text, parameters: want })}`);
          }
        }
      }
      if (k !== records.length) throw new Error(`${records.length} records for ${k} expected`);
      return JSON.stringify(plain(runMy(steps, seededCuts(steps, seed)))) === JSON.stringify(plain(whole));
    }),
    { numRuns: 200 },
  );
  t.pass('200 random conversations');
});

void t.test('random bytes never throw', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 40 })), { maxLength: 8 }), (chunks) => {
      const steps: Step[] = [{ s: greeting() }, ...chunks.map(([client, data]): Step => (client ? { c: data } : { s: data })), { close: 'reset' }];
      const { events } = runMy(steps);
      return events.every((e) => e.kind === 'parse_error');
    }),
    { numRuns: 500 },
  );
  t.pass('500 random streams');
});
