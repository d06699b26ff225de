/**
 * The DNS relays over real sockets on loopback against a real dnsmasq: UDP and TCP answers
 * relayed byte for byte, records with names, types, answers and rcodes, a resolver that never
 * answers (timeout, then the next), a refused one (next at once), a truncated UDP answer and
 * the TCP retry that follows, a garbage query forwarded all the same and counted.
 */
import t, { type Test } from 'tap';
import dnsPacket from 'dns-packet';
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import type { CallRecord } from '../../../record/record.ts';
import { createEpochClock } from '../../../sidecar/clock.ts';
import { createDnsCapture } from '../../../sidecar/dns/dns-capture.ts';
import { TCP_RETRY_NOTE, TRUNCATED_NOTE } from '../../../sidecar/dns/dns-record.ts';
import { createDnsServer, type DnsServer } from '../../../sidecar/dns/dns-server.ts';
import type { ResolvConf, Resolver } from '../../../sidecar/dns/resolv-conf.ts';
import { createDnsStats, type DnsStats } from '../../../sidecar/dns/stats.ts';
import { freeDualPort, startDnsmasq, type Dnsmasq } from './dnsmasq.ts';

interface Harness {
  server: DnsServer;
  port: number;
  stats: DnsStats;
  records: CallRecord[];
  setResolvers(resolvers: Resolver[], timeoutMs?: number): void;
}

let nextId = 0;

// A resolver timeout a stalled test process cannot outlast; the tests about timeouts give their own.
async function startRelay(t: Test, resolvers: Resolver[], timeoutMs = 2500): Promise<Harness> {
  const stats = createDnsStats();
  const records: CallRecord[] = [];
  let conf: ResolvConf = { nameservers: resolvers, timeoutMs };
  const capture = createDnsCapture({
    build: { local: { pod: 'client', namespace: 'test' }, maxBodyBytes: 65536 },
    stats,
    mask: (r) => r,
    ship: (r) => {
      records.push(r);
      return true;
    },
  });
  const port = await freeDualPort();
  const server = createDnsServer({
    port,
    resolvers: { current: () => conf },
    clock: createEpochClock(),
    stats,
    newId: () => `c${nextId++}`,
    onExchange: (ex) => capture.offer(ex),
  });
  await server.start();
  t.teardown(() => server.close());
  return {
    server,
    port,
    stats,
    records,
    setResolvers(r, ms = timeoutMs) {
      conf = { nameservers: r, timeoutMs: ms };
    },
  };
}

function resolverOf(d: Dnsmasq): Resolver {
  return { ip: d.address, port: d.port, family: 4 };
}

/** One UDP query from a fresh client socket; resolves with the answer bytes or undefined after `waitMs`. */
/**
 * The client sockets of `udpQuery`, kept bound until the file ends: records are found by the
 * client's port, and a port closed after one query could come back for a later one, whose
 * lookup would then find the earlier query's record.
 */
const udpClients: Socket[] = [];
t.teardown(() => {
  for (const socket of udpClients) socket.close();
});

async function udpQuery(port: number, query: Buffer, waitMs = 5000): Promise<{ answer?: Buffer; clientPort: number }> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  const clientPort = socket.address().port;
  const answer = await new Promise<Buffer | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), waitMs);
    socket.once('message', (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    socket.send(query, port, '127.0.0.1');
  });
  socket.removeAllListeners('message');
  socket.unref();
  udpClients.push(socket);
  return { answer, clientPort };
}

/** The same query sent straight to the resolver: what the app would get without the sidecar. */
async function direct(d: Dnsmasq, query: Buffer): Promise<Buffer | undefined> {
  return (await udpQuery(d.port, query)).answer;
}

function query(name: string, type: string, id: number, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A', class: 'IN' }], ...extra });
}

async function waitFor<T>(what: string, check: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Sends TCP-framed queries on one connection and collects `expect` framed answers. */
async function tcpExchange(port: number, queries: Buffer[], expect: number, split = 0): Promise<{ answers: Buffer[]; clientPort: number }> {
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((r, j) => socket.once('connect', r).once('error', j));
  const clientPort = socket.localPort!;
  const framed = Buffer.concat(queries.map((q) => Buffer.concat([Buffer.from([q.length >> 8, q.length & 0xff]), q])));
  if (split > 0) {
    // Byte by byte, as a slow client might: the relay forwards whatever arrives.
    for (let i = 0; i < framed.length; i += split) {
      socket.write(framed.subarray(i, i + split));
      await new Promise((r) => setImmediate(r));
    }
  } else {
    socket.write(framed);
  }
  let buffer = Buffer.alloc(0);
  const answers: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${answers.length} of ${expect} TCP answers`)), 5000);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        answers.push(buffer.subarray(2, 2 + buffer.readUInt16BE(0)));
        buffer = buffer.subarray(2 + buffer.readUInt16BE(0));
      }
      if (answers.length >= expect) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.end();
  await new Promise((r) => socket.once('close', r));
  return { answers, clientPort };
}

/** Whether `r` is the record of the client at `port` over `transport`: UDP and TCP ports are numbered apart, so one number can be both. */
function fromClient(r: CallRecord, port: number, transport: 'udp' | 'tcp'): boolean {
  if (r.src.port !== port || r.request === undefined) return false;
  try {
    return bodyOf(r, 'request').transport === transport;
  } catch {
    return false;
  }
}

function bodyOf(record: CallRecord, side: 'request' | 'response'): Record<string, unknown> {
  return JSON.parse(Buffer.from(record[side]!.body).toString('utf8')) as Record<string, unknown>;
}

void t.test('DNS relays against a real dnsmasq', async (t) => {
  const dnsmasq = await startDnsmasq();
  t.teardown(() => dnsmasq.stop());
  const relay = await startRelay(t, [resolverOf(dnsmasq)]);

  await t.test('UDP: the answer is the resolver\'s, byte for byte, and a record describes it', async (t) => {
    const q = query('Web.Test', 'A', 0x1234);
    const { answer, clientPort } = await udpQuery(relay.port, q);
    t.ok(answer, 'an answer came back');
    // dnsmasq rotates the order of several records: the same records, not the same bytes.
    const reference = await direct(dnsmasq, q);
    t.same(new Set(dnsPacket.decode(answer!).answers!.map((a) => (a as { data: unknown }).data)), new Set(dnsPacket.decode(reference!).answers!.map((a) => (a as { data: unknown }).data)), 'the resolver\'s answer');
    const single = query('one.test', 'A', 0x2345);
    t.same((await udpQuery(relay.port, single)).answer, await direct(dnsmasq, single), 'a one-record answer is byte for byte the resolver\'s');
    const record = await waitFor('the record', () => relay.records.find((r) => fromClient(r, clientPort, 'udp')));
    t.equal(record.protocol, 'dns');
    t.equal(record.observer, 'outbound');
    t.equal(record.method, 'A');
    t.equal(record.path, 'web.test', 'the name as asked, lower-cased, without the trailing dot');
    t.equal(record.dns_rcode, 'NOERROR');
    t.same(record.src, { ip: '127.0.0.1', port: clientPort, pod: 'client', namespace: 'test' });
    t.same(record.dst, { ip: '127.0.0.1', port: dnsmasq.port }, 'dst is the resolver that answered');
    t.equal(record.ordinal, 0);
    t.equal(record.id, `${record.connection_id}-o0`);
    t.equal(record.bytes_out, q.length);
    t.equal(record.bytes_in, answer!.length);
    t.ok(record.response_start! >= record.start && record.end === record.response_start, 'answer time after query time');
    t.equal(record.elapsed_us, Number((record.end - record.start) / 1000n));
    t.equal(record.request?.content_type, 'application/json');
    t.same(bodyOf(record, 'request'), { id: 0x1234, transport: 'udp', opcode: 'QUERY', questions: [{ name: 'Web.Test', type: 'A', class: 'IN' }], flags: { rd: true, ad: false, cd: false } });
    const response = bodyOf(record, 'response') as { rcode: string; flags: Record<string, boolean>; answers: { name: string; type: string; ttl: number; data: string }[] };
    t.equal(response.rcode, 'NOERROR');
    t.equal(response.flags.aa, true, 'dnsmasq answers hosts entries authoritatively');
    t.same(response.answers.map((a) => [a.name, a.type, a.data]).sort(), [['Web.Test', 'A', '10.1.2.3'], ['Web.Test', 'A', '10.1.2.4']]);
    t.ok(response.answers.every((a) => a.ttl > 0), 'answers carry their TTL');
    t.equal(record.error, undefined);
  });

  await t.test('readable data: AAAA, MX, SRV, TXT, CNAME; NXDOMAIN with the SOA', async (t) => {
    const cases: [string, string, (data: unknown[]) => void][] = [
      ['web.test', 'AAAA', (d) => t.same(d, ['2001:db8::7'])],
      ['mx.test', 'MX', (d) => t.same(d, [{ preference: 10, exchange: 'mail.test' }])],
      ['_http._tcp.srv.test', 'SRV', (d) => t.same(d, [{ priority: 1, weight: 2, port: 8080, target: 'web.test' }])],
      ['txt.test', 'TXT', (d) => t.same(d, [['hello world', 'v=spf1 -all']])],
      [
        'alias.test',
        'A',
        (d) => {
          t.equal(d[0], 'web.test', 'the CNAME first, its target readable');
          t.same(d.slice(1).sort(), ['10.1.2.3', '10.1.2.4'], 'then the addresses');
        },
      ],
    ];
    for (const [i, [name, type, check]] of cases.entries()) {
      const { clientPort } = await udpQuery(relay.port, query(name, type, 100 + i));
      const record = await waitFor(name, () => relay.records.find((r) => fromClient(r, clientPort, 'udp')));
      t.equal(record.method, type, `${name}: method is the query type`);
      const answers = (bodyOf(record, 'response') as { answers: { data: unknown }[] }).answers;
      check(answers.map((a) => a.data));
    }
    const { answer, clientPort } = await udpQuery(relay.port, query('nope.test', 'A', 200));
    t.equal((dnsPacket.decode(answer!) as { rcode?: string }).rcode, 'NXDOMAIN', 'the app gets NXDOMAIN');
    const record = await waitFor('NXDOMAIN record', () => relay.records.find((r) => fromClient(r, clientPort, 'udp')));
    t.equal(record.dns_rcode, 'NXDOMAIN');
    t.equal(record.error, undefined, 'NXDOMAIN is an answer, not an error');
    const body = bodyOf(record, 'response') as { rcode: string; answers: unknown[]; authority: { type: string; data: { mname: string; serial: number } }[] };
    t.equal(body.rcode, 'NXDOMAIN');
    t.same(body.answers, []);
  });

  await t.test('TCP: pipelined queries relayed byte for byte, one record per query with ordinals', async (t) => {
    const queries = [query('web.test', 'A', 1), query('mx.test', 'MX', 2), query('nope.test', 'A', 3)];
    const before = relay.stats.tcpConnections;
    const { answers, clientPort } = await tcpExchange(relay.port, queries, 3, 1);
    t.equal(relay.stats.tcpConnections, before + 1, 'one connection');
    for (const [i, q] of queries.entries()) {
      const reference = await direct(dnsmasq, q);
      const got = answers.find((a) => a.readUInt16BE(0) === q.readUInt16BE(0));
      const data = (b: Buffer) => new Set(dnsPacket.decode(b).answers!.map((a) => JSON.stringify((a as { data: unknown }).data)));
      t.same(data(got!), data(reference!), `answer ${i} matches the resolver's`);
    }
    const records = await waitFor('three TCP records', () => {
      const found = relay.records.filter((r) => fromClient(r, clientPort, 'tcp'));
      return found.length === 3 ? found : undefined;
    });
    t.same(records.map((r) => r.ordinal).sort(), [0, 1, 2]);
    t.equal(new Set(records.map((r) => r.connection_id)).size, 1, 'one connection id for the connection');
    t.same(records.sort((a, b) => a.ordinal - b.ordinal).map((r) => [r.method, r.path, r.dns_rcode]), [
      ['A', 'web.test', 'NOERROR'],
      ['MX', 'mx.test', 'NOERROR'],
      ['A', 'nope.test', 'NXDOMAIN'],
    ]);
    t.equal(bodyOf(records[0], 'request').transport, 'tcp');
  });

  await t.test('a truncated UDP answer is relayed as is, then the TCP retry says it is one', async (t) => {
    const q = query('big.test', 'A', 0x4444);
    const { answer, clientPort } = await udpQuery(relay.port, q);
    t.ok(dnsPacket.decode(answer!).flag_tc, 'the app sees TC');
    t.equal(answer!.length, (await direct(dnsmasq, q))!.length, 'the truncated answer is the resolver\'s');
    const udpRecord = await waitFor('UDP record', () => relay.records.find((r) => fromClient(r, clientPort, 'udp')));
    t.same(udpRecord.notes, [TRUNCATED_NOTE]);
    t.equal((bodyOf(udpRecord, 'response').flags as Record<string, boolean>).tc, true);
    const { answers, clientPort: tcpPort } = await tcpExchange(relay.port, [query('big.test', 'A', 0x4445)], 1);
    t.equal(dnsPacket.decode(answers[0]).answers!.length, 250, 'over TCP the whole answer comes');
    const tcpRecord = await waitFor('TCP record', () => relay.records.find((r) => fromClient(r, tcpPort, 'tcp')));
    t.same(tcpRecord.notes, [TCP_RETRY_NOTE], 'the TCP record is a retry of the truncated UDP answer');
    const again = await tcpExchange(relay.port, [query('big.test', 'A', 0x4446)], 1);
    const second = await waitFor('second TCP record', () => relay.records.find((r) => fromClient(r, again.clientPort, 'tcp')));
    t.equal(second.notes, undefined, 'a later TCP query without a truncated answer before it is no retry');
    t.ok(relay.stats.truncated >= 1, 'truncated answers are counted');
  });

  await t.test('garbage is forwarded unchanged and counted; the app gets what the resolver gives', async (t) => {
    // A header that promises a question the bytes do not hold.
    const garbage = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x61]);
    const parseErrors = relay.stats.parseErrors.query;
    const reference = await direct(dnsmasq, garbage);
    const { answer, clientPort } = await udpQuery(relay.port, garbage, reference ? 3000 : 1500);
    t.same(answer, reference, reference ? 'the resolver\'s answer to it is relayed' : 'no answer, as without the sidecar');
    const record = await waitFor('garbage record', () => relay.records.find((r) => fromClient(r, clientPort, 'udp')));
    t.equal(record.error, 'parse');
    t.match(record.error_detail, /^query: /);
    t.equal(record.method, undefined);
    t.equal(relay.stats.parseErrors.query, parseErrors + 1, 'counted as a query parse error');
    t.equal(record.bytes_out, garbage.length);
  });
});

void t.test('resolvers in order: a silent one times out, a refused one fails at once, then the next answers', async (t) => {
  const dnsmasq = await startDnsmasq();
  t.teardown(() => dnsmasq.stop());
  // A real socket that reads queries and never answers.
  const silent = createSocket('udp4');
  let silentGot = 0;
  silent.on('message', () => silentGot++);
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  t.teardown(() => silent.close());
  const silentResolver: Resolver = { ip: '127.0.0.1', port: silent.address().port, family: 4 };
  // A port nobody listens on: the kernel answers ICMP port unreachable.
  const refusedResolver: Resolver = { ip: '127.0.0.1', port: await freeDualPort(), family: 4 };
  const relay = await startRelay(t, [silentResolver, refusedResolver, resolverOf(dnsmasq)], 300);

  const started = Date.now();
  const { answer, clientPort } = await udpQuery(relay.port, query('web.test', 'A', 7));
  const took = Date.now() - started;
  t.ok(answer, 'the third resolver answered');
  t.equal(silentGot, 1, 'the silent resolver got the query');
  t.ok(took >= 250, `the silent resolver was given its timeout (${took} ms)`);
  const record = await waitFor('record', () => relay.records.find((r) => fromClient(r, clientPort, 'udp')));
  t.same(record.dst, { ip: '127.0.0.1', port: dnsmasq.port }, 'dst is the resolver that answered');
  t.equal(relay.stats.upstreamFailures.timeout, 1, 'one timeout counted');
  t.equal(relay.stats.upstreamFailures.error, 1, 'one refused attempt counted');

  await t.test('when no resolver answers, the app gets no answer and the record says timeout', async (t) => {
    relay.setResolvers([silentResolver], 200);
    const { answer, clientPort } = await udpQuery(relay.port, query('web.test', 'A', 8), 800);
    t.equal(answer, undefined, 'no answer, as with an unreachable resolver');
    const record = await waitFor('timeout record', () => relay.records.find((r) => fromClient(r, clientPort, 'udp')));
    t.equal(record.error, 'timeout');
    t.equal(record.method, 'A');
    t.equal(record.path, 'web.test');
    t.same(record.dst, { ip: '127.0.0.1', port: silentResolver.port }, 'dst is the last resolver tried');
    t.ok(record.elapsed_us >= 150_000, 'the record lasts the resolver timeout');
    t.equal(relay.stats.timeouts, 1, 'counted');
  });

  await t.test('a refused TCP connect moves on to the next resolver', async (t) => {
    relay.setResolvers([refusedResolver, resolverOf(dnsmasq)], 300);
    const { answers, clientPort } = await tcpExchange(relay.port, [query('web.test', 'A', 9)], 1);
    t.equal(dnsPacket.decode(answers[0]).answers!.length, 2);
    const record = await waitFor('record', () => relay.records.find((r) => fromClient(r, clientPort, 'tcp')));
    t.same(record.dst, { ip: '127.0.0.1', port: dnsmasq.port });
    t.ok(relay.stats.upstreamFailures.connect >= 1, 'the refused connect is counted');
  });

  await t.test('a resolver the socket cannot connect to is counted and the next one answers (it crashed the sidecar)', async (t) => {
    // A connect that fails (no route to the resolver, in a pod whose resolv.conf names an
    // unreachable server) calls back with the error instead of emitting it; an IPv6 address on
    // an IPv4 socket fails the same way here without sending anything.
    const unconnectable: Resolver = { ip: '::1', port: 53, family: 4 };
    relay.setResolvers([unconnectable, resolverOf(dnsmasq)], 300);
    const before = relay.stats.upstreamFailures.error;
    const { answer, clientPort } = await udpQuery(relay.port, query('web.test', 'A', 11));
    t.ok(answer, 'the next resolver answered');
    const record = await waitFor('record', () => relay.records.find((r) => fromClient(r, clientPort, 'udp')));
    t.same(record.dst, { ip: '127.0.0.1', port: dnsmasq.port });
    t.equal(relay.stats.upstreamFailures.error, before + 1, 'the failed connect is counted');
    relay.setResolvers([unconnectable], 300);
    const alone = await udpQuery(relay.port, query('web.test', 'A', 12), 1000);
    t.equal(alone.answer, undefined, 'only that resolver: no answer, and no crash');
    const failed = await waitFor('record', () => relay.records.find((r) => fromClient(r, alone.clientPort, 'udp')));
    t.equal(failed.error, 'upstream_unreachable');
  });

  await t.test('no resolver at all: counted, no answer, and a record with the reason', async (t) => {
    relay.setResolvers([]);
    const { answer, clientPort } = await udpQuery(relay.port, query('web.test', 'A', 10), 300);
    t.equal(answer, undefined);
    const record = await waitFor('record', () => relay.records.find((r) => fromClient(r, clientPort, 'udp')));
    t.equal(record.error, 'upstream_unreachable');
    t.equal(relay.stats.upstreamFailures.no_resolver, 1);
  });
});

void t.test('a port already taken: SC_ERR_DNS_LISTEN and nothing left bound', async (t) => {
  const port = await freeDualPort();
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(port, '127.0.0.1', r));
  const stats = createDnsStats();
  const server = createDnsServer({ port, resolvers: { current: () => ({ nameservers: [], timeoutMs: 100 }) }, clock: createEpochClock(), stats, newId: () => 'x', onExchange: () => undefined });
  await t.rejects(server.start(), { code: 'SC_ERR_DNS_LISTEN', message: new RegExp(`127\\.0\\.0\\.1:${port}`) });
  t.equal(server.listening, false);
  blocker.close();
  // The TCP side was not left listening: the port can be taken again.
  await server.start();
  t.equal(server.listening, true, 'binds once the port is free');
  await server.close();
  t.equal(server.listening, false);
});

void t.test('bytes are forwarded exactly both ways, whatever they hold', async (t) => {
  // A scripted resolver on a real socket: it records what it receives and answers with bytes
  // no encoder would make (a pointer loop in the answer, trailing bytes).
  const received: Buffer[] = [];
  const odd = (id: number) =>
    Buffer.from([id >> 8, id & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 3, 0x61, 0x62, 0x63, 0, 0, 1, 0, 1, 0xc0, 0x1f, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4, 0xde, 0xad]);
  const resolver = createSocket('udp4');
  resolver.on('message', (m, from) => {
    received.push(m);
    resolver.send(odd(m.readUInt16BE(0)), from.port, from.address);
  });
  await new Promise<void>((r) => resolver.bind(0, '127.0.0.1', r));
  t.teardown(() => resolver.close());
  const relay = await startRelay(t, [{ ip: '127.0.0.1', port: resolver.address().port, family: 4 }]);
  const q = Buffer.concat([query('abc', 'A', 0x0a0b), Buffer.from([0xff, 0xfe])]);
  const { answer, clientPort } = await udpQuery(relay.port, q);
  t.same(received[0], q, 'the resolver got the query bytes exactly, trailing bytes included');
  t.same(answer, odd(0x0a0b), 'the app got the answer bytes exactly');
  const record = await waitFor('record', () => relay.records.find((r) => fromClient(r, clientPort, 'udp')));
  t.equal(record.error, 'parse', 'the undecodable answer is a parse error on the record');
  t.match(record.error_detail, /^answer: .*compression pointer/);
  t.equal(record.method, 'A', 'what the query said is kept');
  t.equal(relay.stats.parseErrors.answer, 1);
});
