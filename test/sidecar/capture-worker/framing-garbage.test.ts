/**
 * The framings (`framing.ts`) run on the forwarding thread, inside a socket's 'data' handler:
 * whatever a connection carries, they must never throw, and a split must describe its chunk
 * exactly, or the hand-off would copy or skip the wrong bytes. Fed real-shaped conversations
 * (HTTP/2, PostgreSQL, MySQL) with bytes flipped, inserted, dropped or replaced by noise, and
 * plain noise, cut into chunks of random sizes, each followed whole (`advance`) or split: no
 * call throws; every split's runs cover the chunk, alternate in kind, and copy what the split
 * returned; and a framing that gave up stays given up on both sides.
 */
import t from 'tap';
import { serialize } from 'pg-protocol';
import { openingFraming } from '../../../sidecar/capture-worker/framing.ts';
import { H2Framing } from '../../../sidecar/capture-worker/h2-framing.ts';
import { MysqlFraming } from '../../../sidecar/capture-worker/mysql-framing.ts';
import { PgFraming } from '../../../sidecar/capture-worker/pg-framing.ts';
import { MAY_SKIP, MUST_COPY, type StreamFraming } from '../../../sidecar/capture-worker/stream-framing.ts';
import { rng } from '../http1/harness.ts';
import { data, headers, PREFACE, settings, settingsAck, TestHpackEncoder } from '../http2/h2-wire.ts';
import { be, greeting as pgGreeting } from '../postgres/harness.ts';
import {
  binaryResultSet,
  execute,
  greeting as mysqlGreeting,
  handshakeResponse,
  int32,
  lstr,
  ok,
  prepare,
  prepareOk,
  query,
  resultSet,
} from '../mysql/encoder.ts';
import { TYPE } from '../../../sidecar/mysql/constants.ts';

/** A conversation: who sent each piece, in order. */
type Conversation = Array<[fromClient: boolean, bytes: Buffer]>;

function h2Conversation(): Conversation {
  const req = new TestHpackEncoder();
  const res = new TestHpackEncoder();
  const post = req.encode([[':method', 'POST'], [':scheme', 'http'], [':path', '/orders'], [':authority', 'shop.svc']], { huffman: true });
  const status = res.encode([[':status', '200'], ['content-type', 'application/json']]);
  return [
    [true, Buffer.concat([PREFACE, settings([[4, 1 << 20]])])],
    [false, Buffer.concat([settings([[3, 100]]), settingsAck()])],
    [true, Buffer.concat([headers(1, post), data(1, 'a'.repeat(3000), { pad: 5 }), data(1, 'b', { endStream: true })])],
    [false, Buffer.concat([headers(1, status), data(1, 'c'.repeat(2000), { endStream: true })])],
  ];
}

function pgConversation(): Conversation {
  const rows = Array.from({ length: 20 }, (_, i) => be.dataRow([String(i), 'x'.repeat(300)]));
  return [
    [true, Buffer.from(serialize.startup({ user: 'u', database: 'd' }))],
    [false, pgGreeting()],
    [true, Buffer.from(serialize.query(`SELECT id, pad FROM big WHERE note = '${'q'.repeat(400)}'`))],
    [false, Buffer.concat([be.rowDescription(['id', 'pad']), ...rows, be.commandComplete('SELECT 20'), be.ready()])],
    [true, Buffer.concat([serialize.parse({ name: 's1', text: 'SELECT $1::text' }), serialize.bind({ statement: 's1', values: ['v'.repeat(500)] }), serialize.execute({}), serialize.sync()])],
    [false, Buffer.concat([be.parseComplete(), be.bindComplete(), be.dataRow(['v'.repeat(500)]), be.commandComplete('SELECT 1'), be.ready()])],
  ];
}

function mysqlConversation(): Conversation {
  const cols = [{ name: 'id', type: TYPE.LONG }, { name: 'pad' }];
  return [
    [false, mysqlGreeting()],
    [true, handshakeResponse({ deprecateEof: true, db: 'shop' })],
    [false, ok(2)],
    [true, query(`SELECT id, pad FROM big WHERE note = '${'q'.repeat(400)}'`)],
    [false, resultSet(1, cols, Array.from({ length: 30 }, (_, i) => [String(i), 'x'.repeat(100)]), { deprecateEof: true })],
    [true, prepare('SELECT id, pad FROM big WHERE id > ?')],
    [false, prepareOk(1, 7, 1, cols, { deprecateEof: true })],
    [true, execute(7, [int32(5)])],
    [false, binaryResultSet(1, cols, Array.from({ length: 10 }, (_, i) => [int32(i).value, lstr('y'.repeat(80))]), { deprecateEof: true })],
  ];
}

/** A copy of `bytes` with a few bytes changed, some inserted or dropped, or its tail replaced by noise. */
function mutate(bytes: Buffer, rand: () => number): Buffer {
  const int = (n: number) => Math.floor(rand() * n);
  const noise = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const at = int(bytes.length + 1);
  switch (int(4)) {
    case 0: {
      const out = Buffer.from(bytes);
      for (let k = 1 + int(8); k > 0 && out.length > 0; k--) out[int(out.length)] = int(256);
      return out;
    }
    case 1:
      return Buffer.concat([bytes.subarray(0, at), noise(1 + int(16)), bytes.subarray(at)]);
    case 2:
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + int(16)))]);
    default:
      return Buffer.concat([bytes.subarray(0, at), noise(int(2000))]);
  }
}

/** Checks one split's runs against its chunk; a message for the first thing wrong, or undefined. */
function badRuns(runs: readonly number[], chunk: Uint8Array, must: number): string | undefined {
  if (runs.length % 2 !== 0) return `odd runs length ${runs.length}`;
  let covered = 0;
  let copied = 0;
  for (let r = 0; r < runs.length; r += 2) {
    const [kind, len] = [runs[r], runs[r + 1]];
    if (kind !== MUST_COPY && kind !== MAY_SKIP) return `run kind ${kind}`;
    if (!Number.isInteger(len) || len <= 0) return `run length ${len}`;
    if (r > 0 && runs[r - 2] === kind) return 'two runs of a kind in a row';
    covered += len;
    if (kind === MUST_COPY) copied += len;
  }
  if (covered !== chunk.length) return `runs cover ${covered} of ${chunk.length} bytes`;
  if (copied !== must) return `split returned ${must}, runs copy ${copied}`;
  return undefined;
}

interface Outcome {
  /** First problem seen, with where. */
  problem?: string;
  splits: number;
  /** The framing was still following at the end. */
  following: boolean;
}

/**
 * Feeds `conversation` cut at random points to `framing` (or, when undefined, the one the first
 * chunk chooses, as the hand-off does), each chunk followed whole or split at random.
 */
function drive(conversation: Conversation, seed: number, make: (() => StreamFraming) | undefined): Outcome {
  const rand = rng(seed);
  let framing: StreamFraming | undefined = make?.();
  let chosen = make !== undefined;
  let off = false;
  let splits = 0;
  const runs: number[] = [];
  for (const [fromClient, bytes] of conversation) {
    for (let at = 0; at < bytes.length; ) {
      const n = 1 + Math.floor(rand() * (rand() < 0.3 ? 8 : 900));
      const chunk = bytes.subarray(at, at + n);
      at += n;
      if (!chosen) {
        chosen = true;
        framing = openingFraming(fromClient, chunk);
        if (framing === undefined) return { splits, following: false };
      }
      const where = `seed ${seed}, ${fromClient ? 'client' : 'server'} chunk of ${chunk.length} at ${at - chunk.length}`;
      try {
        if (rand() < 0.5) {
          const going = framing!.advance(fromClient, chunk);
          if (off && going) return { problem: `${where}: advance true after the framing gave up`, splits, following: true };
          off ||= !going;
        } else {
          const must = framing!.split(fromClient, chunk, runs);
          splits++;
          if (must >= 0) {
            if (off) return { problem: `${where}: split ${must} after the framing gave up`, splits, following: true };
            const bad = badRuns(runs, chunk, must);
            if (bad !== undefined) return { problem: `${where}: ${bad}`, splits, following: true };
          } else {
            off = true;
          }
        }
      } catch (err) {
        return { problem: `${where}: threw ${String((err as Error).stack).split("\n").slice(0, 2).join(" ")}`, splits, following: !off };
      }
    }
  }
  return { splits, following: !off };
}

const PROTOCOLS: Array<[name: string, conversation: () => Conversation, make: () => StreamFraming]> = [
  ['HTTP/2', h2Conversation, () => new H2Framing()],
  ['PostgreSQL', pgConversation, () => new PgFraming()],
  ['MySQL', mysqlConversation, () => new MysqlFraming()],
];

for (const [name, conversation, make] of PROTOCOLS) {
  void t.test(`${name}: damaged conversations never throw and split exactly`, async (t) => {
    const base = conversation();
    // The intact conversation is followed to its end, so the damaged ones start from real states.
    for (let seed = 1; seed <= 50; seed++) {
      const intact = drive(base, seed, undefined);
      if (intact.problem !== undefined || !intact.following) {
        t.fail(`intact: ${intact.problem ?? 'stopped following'}`);
        return;
      }
    }
    let problems = 0;
    let stillFollowing = 0;
    const runsPer = 3000;
    for (let seed = 1; seed <= runsPer; seed++) {
      const rand = rng(seed * 7919);
      // Damage one to three pieces of the conversation; the rest stays as it was.
      const damaged = base.map(([c, b]) => [c, b] as [boolean, Buffer]);
      for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
        const i = Math.floor(rand() * damaged.length);
        damaged[i] = [damaged[i][0], mutate(damaged[i][1], rand)];
      }
      const out = drive(damaged, seed, seed % 2 === 0 ? make : undefined);
      if (out.following) stillFollowing++;
      if (out.problem !== undefined && problems++ < 3) t.fail(out.problem);
    }
    t.equal(problems, 0, `${runsPer} damaged conversations: no throw, every split exact`);
    // Damage the framing cannot see (inside a body) leaves it following; the rest stops it.
    t.ok(stillFollowing > 0 && stillFollowing < runsPer, `some damaged conversations are still followed to the end (${stillFollowing}), not all`);
  });
}

void t.test('noise from either side, whatever the framing, never throws and splits exactly', async (t) => {
  let problems = 0;
  for (let seed = 1; seed <= 1000; seed++) {
    const rand = rng(seed);
    const noise: Conversation = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => [
      rand() < 0.5,
      Buffer.from(Array.from({ length: Math.floor(rand() * 3000) }, () => Math.floor(rand() * 256))),
    ]);
    for (const [, , make] of PROTOCOLS) {
      const out = drive(noise, seed, make);
      if (out.problem !== undefined && problems++ < 3) t.fail(out.problem);
    }
    const chosen = drive(noise, seed, undefined);
    if (chosen.problem !== undefined && problems++ < 3) t.fail(chosen.problem);
  }
  t.equal(problems, 0, 'no throw, every split exact');
});

void t.test('the run check itself catches what it is for', async (t) => {
  const chunk = Buffer.alloc(10);
  t.equal(badRuns([MUST_COPY, 4, MAY_SKIP, 6], chunk, 4), undefined, 'exact runs pass');
  t.match(badRuns([MUST_COPY, 4, MAY_SKIP, 5], chunk, 4), /cover 9 of 10/, 'a short cover');
  t.match(badRuns([MUST_COPY, 4, MUST_COPY, 6], chunk, 10), /in a row/, 'unmerged runs');
  t.match(badRuns([MUST_COPY, 4, MAY_SKIP, 6], chunk, 5), /returned 5/, 'a wrong copy count');
  t.match(badRuns([MUST_COPY, 0, MAY_SKIP, 10], chunk, 0), /run length 0/, 'an empty run');
});
