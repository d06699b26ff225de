/**
 * Random conversations: queries and parameters serialized by pg-protocol (the reference
 * encoder), random rows back. Records must carry exactly what was sent and received, and any
 * chunking of the same bytes must give the same records.
 */
import t from 'tap';
import fc from 'fast-check';
import { serialize } from 'pg-protocol';
import { splitStatements } from '../../../sidecar/postgres/split-sql.ts';
import { plain, seededCuts } from '../http1/harness.ts';
import { be, cat, greeting, json, runPg, type Step } from './harness.ts';

const unit = fc.constantFrom(...'abc XYZ019_;\'"$\\-/*()\n\té€😀'.split(/(?:)/u));
const sqlText = fc.string({ unit, minLength: 1, maxLength: 40 });
const param = fc.oneof(fc.string({ unit, maxLength: 12 }), fc.constant(null), fc.uint8Array({ maxLength: 6 }));
const cell = fc.oneof(fc.string({ unit, maxLength: 10 }), fc.constant(null));

const call = fc.oneof(
  fc.record({
    kind: fc.constant<'extended'>('extended'),
    name: fc.constantFrom('', 's1', 's2'),
    text: sqlText,
    params: fc.array(param, { maxLength: 4 }),
    rows: fc.array(fc.tuple(cell, cell), { maxLength: 5 }),
  }),
  fc.record({ kind: fc.constant<'simple'>('simple'), text: sqlText, rows: fc.array(fc.tuple(cell, cell), { maxLength: 5 }) }),
);

type Call = typeof call extends fc.Arbitrary<infer T> ? T : never;

function script(calls: Call[]): Step[] {
  const steps: Step[] = [{ c: cat(serialize.startup({ user: 'u', database: 'd' })) }, { s: greeting() }];
  for (const c of calls) {
    const rows = c.rows.map((r) => be.dataRow(r));
    if (c.kind === 'extended') {
      const values = c.params.map((p) => (p instanceof Uint8Array ? Buffer.from(p) : p));
      steps.push({
        c: cat(
          serialize.parse({ name: c.name, text: c.text }),
          serialize.bind({ statement: c.name, values }),
          serialize.describe({ type: 'P' }),
          serialize.execute(),
          serialize.sync(),
        ),
      });
      steps.push({ s: cat(be.parseComplete(), be.bindComplete(), be.rowDescription(['a', 'b']), ...rows, be.commandComplete(`SELECT ${rows.length}`), be.ready()) });
    } else {
      steps.push({ c: cat(serialize.query(c.text)) });
      steps.push({ s: cat(be.rowDescription(['a', 'b']), ...rows, be.commandComplete(`SELECT ${rows.length}`), be.ready()) });
    }
  }
  steps.push({ close: 'fin' });
  return steps;
}

void t.test('records carry what was sent, at any chunking', async (t) => {
  fc.assert(
    fc.property(fc.array(call, { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 1 << 30 }), (calls, seed) => {
      const steps = script(calls);
      const whole = runPg(steps);
      if (whole.events.length !== 0) return false;
      const records = whole.exchanges.slice(1);
      if (records.length !== calls.length) return false;
      for (let i = 0; i < calls.length; i++) {
        const c = calls[i];
        const r = records[i];
        const req = json(r.request?.body);
        const statements = c.kind === 'simple' ? splitStatements(c.text) : undefined;
        const wantText = c.kind === 'simple' && statements?.length === 1 ? statements[0] : c.text;
        if (req.query !== wantText) return false;
        if (c.kind === 'extended') {
          const want = c.params.map((p) => (p instanceof Uint8Array ? `\\x${Buffer.from(p).toString('hex')}` : p));
          if (JSON.stringify(req.parameters) !== JSON.stringify(want)) return false;
          if ((r.request?.headers.statement ?? '') !== c.name) return false;
        }
        const body = json(r.response?.body);
        const wantRows = c.rows.map(([a, b]) => ({ a, b }));
        if (JSON.stringify(body.rows) !== JSON.stringify(wantRows) || body.row_count !== wantRows.length) return false;
      }
      // The same bytes cut at random places.
      return JSON.stringify(plain(runPg(steps, seededCuts(steps, seed)))) === JSON.stringify(plain(whole));
    }),
    { numRuns: 300 },
  );
  t.pass('300 random conversations');
});

void t.test('random bytes never throw and end in a parse error or nothing', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 1, maxLength: 40 })), { maxLength: 8 }), (chunks) => {
      const steps: Step[] = chunks.map(([client, data]) => (client ? { c: data } : { s: data }));
      steps.push({ close: 'reset' });
      const { events } = runPg(steps);
      return events.every((e) => e.kind === 'parse_error');
    }),
    { numRuns: 500 },
  );
  t.pass('500 random streams');
});
