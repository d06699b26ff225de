/**
 * The Redis capture session: pairing (pipelining, transactions, pub/sub, pushes, CLIENT REPLY),
 * masking at the source, limits, and the end of a connection. Every script is also fed cut at
 * every offset and must give identical exchanges.
 */
import t from 'tap';
import { bulk, cmd, invariant, plain, runSession, text, timeOf, type Step } from './harness.ts';
import type { Exchange } from '../../../sidecar/capture/session.ts';
import { createRedisSession } from '../../../sidecar/redis/session.ts';

const brief = (e: Exchange) => [e.ordinal, e.method, e.path, text(e.request?.body), text(e.response?.body), e.error];

void t.test('SET then GET: one exchange each with times, sizes and rendered text', async (t) => {
  const set = cmd('SET', 'user:1', 'alice');
  const get = cmd('GET', 'user:1');
  const r = invariant(t, [{ c: set }, { s: '+OK\r\n' }, { c: get }, { s: bulk('alice') }, { close: 'fin' }]);
  t.same(r.events, []);
  t.equal(r.exchanges.length, 2);
  const [a, b] = r.exchanges;
  t.match(a, {
    protocol: 'redis',
    ordinal: 0,
    method: 'SET',
    path: 'user:1',
    start: timeOf(0),
    request_end: timeOf(0),
    response_start: timeOf(1),
    end: timeOf(1),
    bytes_out: set.length,
    bytes_in: 5,
  });
  t.same(a.request?.headers, {});
  t.equal(text(a.request?.body), 'SET user:1 alice');
  t.equal(a.request?.body_size, set.length);
  t.equal(a.request?.truncated, false);
  t.equal(a.request?.content_type, 'text/plain');
  t.same(a.response?.headers, { 'reply-type': 'simple' });
  t.equal(text(a.response?.body), 'OK');
  t.equal(a.response?.body_size, 5);
  t.notOk('error' in a);
  t.notOk('redacted' in a);
  t.match(b, { ordinal: 1, method: 'GET', path: 'user:1', start: timeOf(2), end: timeOf(3), bytes_in: bulk('alice').length });
  t.equal(text(b.response?.body), '"alice"');
  t.same(b.response?.headers, { 'reply-type': 'bulk' });
});

void t.test('pipelining: three commands in one write, replies in order', async (t) => {
  const reqs = [cmd('INCR', 'hits'), cmd('GET', 'missing'), cmd('LRANGE', 'list', '0', '-1')];
  const reply = ':7\r\n$-1\r\n*2\r\n$1\r\na\r\n$5\r\nb c d\r\n';
  const r = invariant(t, [{ c: Buffer.concat(reqs) }, { s: reply }, { close: 'fin' }]);
  t.same(r.exchanges.map(brief), [
    [0, 'INCR', 'hits', 'INCR hits', '(integer) 7', undefined],
    [1, 'GET', 'missing', 'GET missing', '(nil)', undefined],
    [2, 'LRANGE', 'list', 'LRANGE list 0 -1', '1) "a"\n2) "b c d"', undefined],
  ]);
  t.same(r.exchanges.map((e) => [e.bytes_out, e.bytes_in, e.response?.headers['reply-type']]), [
    [reqs[0].length, 4, 'integer'],
    [reqs[1].length, 5, 'null'],
    [reqs[2].length, reply.length - 9, 'array'],
  ]);
});

void t.test('replies split across writes and interleaved with new commands', async (t) => {
  const r = invariant(t, [
    { c: Buffer.concat([cmd('GET', 'a'), cmd('GET', 'b')]) },
    { s: '$1\r\n1\r\n$' },
    { c: cmd('GET', 'c') },
    { s: '1\r\n2\r\n$1\r\n3\r\n' },
    { close: 'fin' },
  ]);
  t.same(r.exchanges.map((e) => [e.path, text(e.response?.body), e.response_start, e.end]), [
    ['a', '"1"', timeOf(1), timeOf(1)],
    ['b', '"2"', timeOf(1), timeOf(3)],
    ['c', '"3"', timeOf(3), timeOf(3)],
  ]);
});

void t.test('MULTI/EXEC: each queued command pairs with QUEUED, EXEC with the array', async (t) => {
  const r = invariant(t, [
    { c: Buffer.concat([cmd('MULTI'), cmd('SET', 'k', 'v'), cmd('INCR', 'n'), cmd('EXEC')]) },
    { s: '+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n:1\r\n' },
    { close: 'fin' },
  ]);
  t.same(r.exchanges.map(brief), [
    [0, 'MULTI', undefined, 'MULTI', 'OK', undefined],
    [1, 'SET', 'k', 'SET k v', 'QUEUED', undefined],
    [2, 'INCR', 'n', 'INCR n', 'QUEUED', undefined],
    [3, 'EXEC', undefined, 'EXEC', '1) OK\n2) (integer) 1', undefined],
  ]);
});

void t.test('an error reply: server_error with the error text', async (t) => {
  const wrongtype = 'WRONGTYPE Operation against a key holding the wrong kind of value';
  const r = invariant(t, [{ c: cmd('GET', 'mylist') }, { s: `-${wrongtype}\r\n` }, { close: 'fin' }]);
  const [e] = r.exchanges;
  t.equal(e.error, 'server_error');
  t.equal(e.error_detail, wrongtype);
  t.equal(text(e.response?.body), `(error) ${wrongtype}`);
  t.same(e.response?.headers, { 'reply-type': 'error' });
  const blob = invariant(t, [{ c: cmd('FCALL', 'f', '0') }, { s: '!21\r\nSYNTAX invalid syntax\r\n' }]);
  t.equal(blob.exchanges[0].error_detail, 'SYNTAX invalid syntax');
});

void t.test('AUTH and HELLO AUTH: passwords masked at the source, in every field', async (t) => {
  const pw = 'hunter2-very-secret';
  const steps: Step[] = [
    { c: cmd('AUTH', pw) },
    { s: '+OK\r\n' },
    { c: cmd('AUTH', 'app-user', pw) },
    { s: '-WRONGPASS invalid username-password pair or user is disabled.\r\n' },
    { c: cmd('HELLO', '3', 'AUTH', 'app-user', pw, 'SETNAME', 'web') },
    { s: '%1\r\n$6\r\nserver\r\n$5\r\nredis\r\n' },
    { c: `AUTH ${pw}\r\n` },
    { s: '+OK\r\n' },
    { c: cmd('CONFIG', 'SET', 'maxmemory', '10mb', 'requirepass', pw) },
    { s: '+OK\r\n' },
    { c: cmd('ACL', 'SETUSER', 'bob', 'on', `>${pw}`, '~*') },
    { s: '+OK\r\n' },
    { c: cmd('MIGRATE', 'h', '6379', '', '0', '5000', 'AUTH2', 'app-user', pw, 'KEYS', 'k1') },
    { s: '+NOKEY\r\n' },
    { c: cmd('CONFIG', 'GET', 'requirepass') },
    { s: `*2\r\n${bulk('requirepass')}${bulk(pw)}` },
    { close: 'fin' },
  ];
  const r = invariant(t, steps);
  t.notMatch(JSON.stringify(plain(r)), pw);
  t.same(
    r.exchanges.map((e) => text(e.request?.body)),
    [
      'AUTH ****',
      'AUTH app-user ****',
      'HELLO 3 AUTH app-user **** SETNAME web',
      'AUTH ****',
      'CONFIG SET maxmemory 10mb requirepass ****',
      'ACL SETUSER bob on **** ~*',
      'MIGRATE h 6379 "" 0 5000 AUTH2 app-user **** KEYS k1',
      'CONFIG GET requirepass',
    ],
  );
  t.same(r.exchanges.map((e) => e.method), ['AUTH', 'AUTH', 'HELLO', 'AUTH', 'CONFIG SET', 'ACL SETUSER', 'MIGRATE', 'CONFIG GET']);
  for (const e of r.exchanges.slice(0, 7)) {
    t.same(e.redacted, ['request.body'], `${e.method} lists the masked field`);
    t.same(e.sensitive, ['password']);
  }
  t.same(r.exchanges[7].redacted, ['response.body'], 'CONFIG GET requirepass: the reply is masked');
  t.equal(text(r.exchanges[7].response?.body), '1) "requirepass"\n2) ****');
  t.equal(r.exchanges[1].error, 'server_error');
  t.equal(r.exchanges[6].path, 'k1', 'MIGRATE with an empty key: the first of KEYS');
});

void t.test('HELLO 3: RESP3 map reply, doubles, booleans, sets, verbatim, big numbers', async (t) => {
  const hello =
    '%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n';
  const r = invariant(t, [
    { c: cmd('HELLO', '3') },
    { s: hello },
    { c: Buffer.concat([cmd('ZSCORE', 'z', 'm'), cmd('SISMEMBER', 's', 'x'), cmd('SMEMBERS', 's'), cmd('LATENCY', 'DOCTOR'), cmd('DEBUG', 'BIGNUM')]) },
    { s: ',1.5\r\n#t\r\n~2\r\n$1\r\na\r\n$1\r\nb\r\n=15\r\ntxt:hello\nworld\r\n(3492890328409238509324850943850943825024385\r\n' },
    { close: 'fin' },
  ]);
  const [h, z, is, sm, lat, big] = r.exchanges;
  t.equal(h.method, 'HELLO');
  t.same(h.response?.headers, { 'reply-type': 'map' });
  t.equal(text(h.response?.body), '1# "server" => "redis"\n2# "proto" => (integer) 3\n3# "modules" => (empty array)');
  t.equal(text(z.response?.body), '(double) 1.5');
  t.same(z.response?.headers, { 'reply-type': 'double' });
  t.equal(text(is.response?.body), '(true)');
  t.same(is.response?.headers, { 'reply-type': 'boolean' });
  t.equal(text(sm.response?.body), '1) "a"\n2) "b"');
  t.same(sm.response?.headers, { 'reply-type': 'set' });
  t.equal(lat.method, 'LATENCY DOCTOR');
  t.equal(text(lat.response?.body), 'hello\nworld');
  t.same(lat.response?.headers, { 'reply-type': 'verbatim' });
  t.equal(text(big.response?.body), '(big number) 3492890328409238509324850943850943825024385');
  t.same(big.response?.headers, { 'reply-type': 'bignum' });
});

void t.test('RESP2 pub/sub: confirmations belong to SUBSCRIBE, messages are exchanges of their own', async (t) => {
  const confirm = (kind: string, ch: string, n: number) => `*3\r\n${bulk(kind)}${bulk(ch)}:${n}\r\n`;
  const r = invariant(t, [
    { c: cmd('SUBSCRIBE', 'news', 'sport') },
    { s: confirm('subscribe', 'news', 1) + confirm('subscribe', 'sport', 2) },
    { s: `*3\r\n${bulk('message')}${bulk('news')}${bulk('hello world')}` },
    { c: cmd('PSUBSCRIBE', 'ne*') },
    { s: confirm('psubscribe', 'ne*', 3) + `*4\r\n${bulk('pmessage')}${bulk('ne*')}${bulk('news')}${bulk('again')}` },
    { c: cmd('PING') },
    { s: `*2\r\n${bulk('pong')}${bulk('')}` },
    { c: cmd('UNSUBSCRIBE') },
    { s: confirm('unsubscribe', 'news', 2) + confirm('unsubscribe', 'sport', 1) },
    { c: cmd('PUNSUBSCRIBE') },
    { s: confirm('punsubscribe', 'ne*', 0) },
    // Out of subscribed mode: an array that looks like a message is an ordinary reply again.
    { c: cmd('LRANGE', 'l', '0', '-1') },
    { s: `*3\r\n${bulk('message')}${bulk('x')}${bulk('y')}` },
    { close: 'fin' },
  ]);
  t.same(
    r.exchanges.map((e) => [e.method, e.path, e.error, e.request === undefined]),
    [
      ['SUBSCRIBE', undefined, undefined, false],
      ['MESSAGE', 'news', undefined, true],
      ['PSUBSCRIBE', undefined, undefined, false],
      ['PMESSAGE', 'news', undefined, true],
      ['PING', undefined, undefined, false],
      ['UNSUBSCRIBE', undefined, undefined, false],
      ['PUNSUBSCRIBE', undefined, undefined, false],
      ['LRANGE', 'l', undefined, false],
    ],
  );
  t.equal(text(r.exchanges[0].response?.body), '1) "subscribe"\n2) "news"\n3) (integer) 1\n1) "subscribe"\n2) "sport"\n3) (integer) 2');
  t.equal(text(r.exchanges[1].response?.body), '"hello world"');
  t.equal(r.exchanges[1].start, timeOf(2));
  t.equal(r.exchanges[1].bytes_out, 0);
  t.match(r.exchanges[3].notes, ['pattern: ne*']);
  t.equal(text(r.exchanges[4].response?.body), '1) "pong"\n2) ""');
  t.equal(r.exchanges[5].end, timeOf(8), 'UNSUBSCRIBE (all) done when no channel is left');
  t.equal(text(r.exchanges[7].response?.body), '1) "message"\n2) "x"\n3) "y"');
});

void t.test('RESP3 pub/sub and pushes: pushes never answer a command', async (t) => {
  const push = (...items: string[]) => `>${items.length}\r\n${items.join('')}`;
  const r = invariant(t, [
    { c: cmd('HELLO', '3') },
    { s: '%1\r\n$5\r\nproto\r\n:3\r\n' },
    { c: Buffer.concat([cmd('SUBSCRIBE', 'ch'), cmd('GET', 'k')]) },
    // A message arrives between the confirmation and GET's reply; an invalidation after it.
    { s: push(bulk('subscribe'), bulk('ch'), ':1\r\n') + push(bulk('message'), bulk('ch'), bulk('payload')) + bulk('v') },
    { s: push(bulk('invalidate'), `*1\r\n${bulk('k')}`) },
    { c: cmd('SSUBSCRIBE', 'shard-ch') },
    { s: push(bulk('ssubscribe'), bulk('shard-ch'), ':1\r\n') + push(bulk('smessage'), bulk('shard-ch'), bulk('s!')) },
    { s: push(bulk('sunsubscribe'), bulk('shard-ch'), ':0\r\n') },
    { close: 'fin' },
  ]);
  t.same(
    r.exchanges.map((e) => [e.ordinal, e.method, e.path, e.response?.headers['reply-type'], text(e.response?.body)]),
    [
      [0, 'HELLO', undefined, 'map', '1# "proto" => (integer) 3'],
      [1, 'SUBSCRIBE', undefined, 'push', '1) "subscribe"\n2) "ch"\n3) (integer) 1'],
      [2, 'GET', 'k', 'bulk', '"v"'],
      [3, 'MESSAGE', 'ch', 'push', '"payload"'],
      [4, 'PUSH', undefined, 'push', '1) "invalidate"\n2) 1) "k"'],
      [5, 'SSUBSCRIBE', undefined, 'push', '1) "ssubscribe"\n2) "shard-ch"\n3) (integer) 1'],
      [6, 'SMESSAGE', 'shard-ch', 'push', '"s!"'],
      [7, 'SUNSUBSCRIBE', 'shard-ch', 'push', '1) "sunsubscribe"\n2) "shard-ch"\n3) (integer) 0'],
    ],
  );
  t.same(r.exchanges.map((e) => e.error), Array(8).fill(undefined));
});

void t.test('inline commands, quoting and blank lines', async (t) => {
  const r = invariant(t, [
    { c: 'PING\r\n' },
    { s: '+PONG\r\n' },
    { c: '\r\nset "my key" \'it\\\'s\' \r\nGET "my key"\n' },
    { s: '+OK\r\n$4\r\nit\'s\r\n' },
    { c: 'ECHO "a\\x00b\\n"\r\n' },
    { s: '$3\r\na\x00b\r\n' },
    { close: 'fin' },
  ]);
  t.same(r.exchanges.map(brief), [
    [0, 'PING', undefined, 'PING', 'PONG', undefined],
    [1, 'SET', 'my key', 'set "my key" "it\'s"', 'OK', undefined],
    [2, 'GET', 'my key', 'GET "my key"', '"it\'s"', undefined],
    [3, 'ECHO', undefined, 'ECHO "a\\x00b\\n"', '"a\\x00b"', undefined],
  ]);
  t.equal(r.exchanges[0].bytes_out, 6);
  t.equal(r.exchanges[1].bytes_out, 2 + 'set "my key" \'it\\\'s\' \r\n'.length, 'the blank line counts towards the next command');
});

void t.test('null replies: RESP2 null bulk and null array, RESP3 null', async (t) => {
  const r = invariant(t, [{ c: Buffer.concat([cmd('GET', 'a'), cmd('BLPOP', 'q', '1'), cmd('HGET', 'h', 'f')]) }, { s: '$-1\r\n*-1\r\n_\r\n' }]);
  t.same(r.exchanges.map((e) => [e.path, text(e.response?.body), e.response?.headers['reply-type']]), [
    ['a', '(nil)', 'null'],
    ['q', '(nil)', 'null'],
    ['h', '(nil)', 'null'],
  ]);
});

void t.test('a large value: only the first maxBodyBytes kept, true size remembered', async (t) => {
  const value = 'v'.repeat(3000);
  const set = cmd('SET', 'big', value);
  const r = invariant(t, [{ c: set }, { s: '+OK\r\n' }, { c: cmd('GET', 'big') }, { s: bulk(value) }], 200);
  const [s, g] = r.exchanges;
  t.equal(s.request?.body_size, set.length);
  t.equal(s.request?.truncated, true);
  t.ok(s.request!.body.length <= 200, 'body within the limit');
  t.match(text(s.request?.body), /^SET big "v+"… \[3000 bytes\]$/);
  t.equal(g.response?.truncated, true);
  t.match(text(g.response?.body), /^"v+"… \[3000 bytes\]$/);
  t.equal(g.response?.body_size, bulk(value).length);
  t.same(r.events, [{ kind: 'body_truncated' }, { kind: 'body_truncated' }]);
});

void t.test('a huge value in many chunks: memory stays bounded, sizes exact', async (t) => {
  const got: Exchange[] = [];
  const s = createRedisSession({ maxBodyBytes: 1024, emit: (e) => got.push(e), event: () => undefined });
  const size = 32 * 1024 * 1024;
  s.clientData(cmd('GET', 'blob'), 1n);
  s.serverData(Buffer.from(`$${size}\r\n`), 2n);
  const piece = Buffer.alloc(64 * 1024, 0x61);
  for (let sent = 0; sent < size; sent += piece.length) s.serverData(piece, 3n);
  s.serverData(Buffer.from('\r\n'), 4n);
  t.equal(got.length, 1);
  t.equal(got[0].response?.body_size, size + `$${size}\r\n`.length + 2);
  t.ok(got[0].response!.body.length <= 1024);
  t.match(text(got[0].response?.body), new RegExp(`… \\[${size} bytes\\]$`));
});

void t.test('garbage never throws: deep nesting, huge lengths and random bytes are parse errors', async (t) => {
  const deep = '*1\r\n'.repeat(100) + ':1\r\n';
  const r = invariant(t, [{ c: cmd('GET', 'a') }, { s: deep }, { close: 'fin' }]);
  t.equal(r.events.length, 1);
  t.match(r.events[0], { kind: 'parse_error', side: 'server', detail: /nested deeper/ });
  t.equal(r.exchanges.length, 1);
  t.match(r.exchanges[0], { method: 'GET', error: 'parse' });

  const huge = runSession([{ c: cmd('LRANGE', 'l', '0', '-1') }, { s: '*99999999999\r\n' }]);
  t.match(huge.events, [{ kind: 'parse_error', detail: /over the limit/ }]);
  const hugeBulk = runSession([{ c: '*1\r\n$99999999999999\r\n' }]);
  t.match(hugeBulk.events, [{ kind: 'parse_error', side: 'client' }]);
  t.match(hugeBulk.exchanges, [{ error: 'parse' }], 'a marker record for a broken command');

  const unknown = runSession([{ c: cmd('PING') }, { s: 'HTTP/1.1 200 OK\r\n\r\n' }, { c: cmd('PING') }, { s: '+PONG\r\n' }, { close: 'fin' }]);
  t.equal(unknown.events.length, 1, 'one parse error, then the session stops observing');
  t.equal(unknown.exchanges.length, 1);

  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 300; round++) {
    const junk = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
    const prefix = round % 2 === 0 ? Buffer.from('*3\r\n$3\r\nSET\r\n') : Buffer.alloc(0);
    t.doesNotThrow(() => {
      runSession([{ c: Buffer.concat([prefix, junk]) }, { s: junk }, { c: junk }, { close: 'reset' }]);
    });
  }
});

void t.test('close with pending commands: the first waiting one gets the reason, the rest unpaired', async (t) => {
  const three = Buffer.concat([cmd('GET', 'a'), cmd('GET', 'b'), cmd('GET', 'c')]);
  for (const [reason, first] of [
    ['fin', 'closed'],
    ['reset', 'reset'],
    ['error', 'reset'],
    ['timeout', 'timeout'],
  ] as const) {
    const r = invariant(t, [{ c: three }, { s: '$1\r\n1\r\n$5\r\nhal' }, { close: reason }]);
    t.same(r.exchanges.map((e) => [e.path, e.error, e.end]), [
      ['a', undefined, timeOf(1)],
      ['b', first, timeOf(2)],
      ['c', 'unpaired', timeOf(2)],
    ], reason);
    t.equal(r.exchanges[1].bytes_in, 7, 'the partial reply counted');
  }
  const overflow = runSession([{ c: three }, { close: 'capture_overflow' }]);
  t.same(overflow.exchanges.map((e) => e.error), ['capture_overflow', 'capture_overflow', 'capture_overflow']);
  const nothing = runSession([{ c: cmd('PING') }, { s: '+PONG\r\n' }, { close: 'fin' }, { close: 'reset' }]);
  t.equal(nothing.exchanges.length, 1, 'nothing pending: nothing more; a second close is ignored');
});

void t.test('a reply without a command is unpaired', async (t) => {
  const r = invariant(t, [{ s: '-ERR max number of clients reached\r\n' }, { close: 'fin' }]);
  t.match(r.exchanges, [{ ordinal: 0, error: 'unpaired', response: { headers: { 'reply-type': 'error' } } }]);
  t.equal(r.exchanges[0].method, undefined);
  t.equal(r.exchanges[0].request, undefined);
});

void t.test('CLIENT REPLY OFF and SKIP: unanswered commands are recorded, not left waiting', async (t) => {
  const r = invariant(t, [
    { c: Buffer.concat([cmd('CLIENT', 'REPLY', 'SKIP'), cmd('SET', 'a', '1'), cmd('GET', 'a')]) },
    { s: bulk('1') },
    { c: Buffer.concat([cmd('CLIENT', 'REPLY', 'OFF'), cmd('INCR', 'n'), cmd('CLIENT', 'REPLY', 'ON'), cmd('GET', 'n')]) },
    { s: '+OK\r\n$1\r\n5\r\n' },
    { close: 'fin' },
  ]);
  t.same(
    r.exchanges.map((e) => [e.method, text(e.response?.body), e.notes ?? [], e.error]),
    [
      ['CLIENT REPLY', '', ['no reply (CLIENT REPLY SKIP)'], undefined],
      ['SET', '', ['no reply (CLIENT REPLY SKIP)'], undefined],
      ['GET', '"1"', [], undefined],
      ['CLIENT REPLY', '', ['no reply (CLIENT REPLY OFF)'], undefined],
      ['INCR', '', ['no reply (CLIENT REPLY OFF)'], undefined],
      ['CLIENT REPLY', 'OK', [], undefined],
      ['GET', '"5"', [], undefined],
    ],
  );
  t.equal(r.exchanges[1].end, timeOf(0), 'a command with no reply ends when it was sent');
});

void t.test('more than maxPendingExchanges commands waiting: capture is cut', async (t) => {
  const many = Buffer.concat(Array.from({ length: 5 }, (_, i) => cmd('GET', `k${i}`)));
  const r = runSession([{ c: many }, { s: '$1\r\nx\r\n' }, { close: 'fin' }], new Map(), 1024, { maxPendingExchanges: 4 });
  t.same(r.events, [{ kind: 'capture_overflow', reason: 'pending_exchanges' }]);
  t.same(r.exchanges.map((e) => e.error), ['capture_overflow', 'capture_overflow', 'capture_overflow', 'capture_overflow']);
  t.match(r.exchanges[0].error_detail, /more than 4 commands/);
  const def = runSession([{ c: Buffer.concat(Array.from({ length: 129 }, () => cmd('PING'))) }]);
  t.equal(def.exchanges.length, 128, 'default cap is 128');
  t.same(def.events, [{ kind: 'capture_overflow', reason: 'pending_exchanges' }]);
});

void t.test('the exchange sink or event sink throwing does not break the session', async (t) => {
  let n = 0;
  const s = createRedisSession({
    maxBodyBytes: 1024,
    emit: () => {
      n++;
      throw new Error('sink down');
    },
    event: () => {
      throw new Error('metrics down');
    },
  });
  t.doesNotThrow(() => {
    s.clientData(Buffer.concat([cmd('GET', 'a'), cmd('GET', 'b')]), 1n);
    s.serverData(Buffer.from('$1\r\n1\r\n$1\r\n2\r\n'), 2n);
    s.serverData(Buffer.from('?garbage'), 3n);
    s.close(4n, 'fin');
  });
  t.equal(n, 3, 'two exchanges and one unpaired marker for the parse error');
});

void t.test('a command cut off by the end of the connection is a record, not silently lost', async (t) => {
  const whole = cmd('GET', 'abcdefghij');
  const part = whole.subarray(0, whole.length - 6);
  for (const reason of ['fin', 'reset'] as const) {
    const r = runSession([{ c: cmd('PING') }, { s: '+PONG\r\n' }, { c: part }, { close: reason }]);
    t.equal(r.exchanges.length, 2, reason);
    const cut = r.exchanges[1];
    t.match(cut, { protocol: 'redis', ordinal: 1, bytes_out: part.length, bytes_in: 0, error: reason === 'fin' ? 'closed' : 'reset' }, reason);
    t.notOk('method' in cut, 'no command to name');
    t.match(cut.notes, [new RegExp(`^request: a command cut off after ${part.length} bytes by the connection's end \\(${reason}\\), never sent whole$`)]);
  }
  const clean = runSession([{ c: cmd('PING') }, { s: '+PONG\r\n' }, { close: 'fin' }]);
  t.equal(clean.exchanges.length, 1, 'a connection that ends between commands has no such record');
});

void t.test('an inline first line whose server does not answer in RESP is not Redis: one opaque tcp record', async (t) => {
  // memcached's text protocol opens like an inline Redis command (`set`, `get`).
  const memcached: Step[] = [
    { c: 'set k 0 0 3\r\nbar\r\n' },
    { s: 'STORED\r\n' },
    { c: 'get k\r\n' },
    { s: 'VALUE k 0 3\r\nbar\r\nEND\r\n' },
    { close: 'fin' },
  ];
  const r = invariant(t, memcached);
  t.same(
    r.exchanges.map((e) => [e.protocol, e.ordinal, e.bytes_out, e.bytes_in, e.error]),
    [['tcp', 0, 'set k 0 0 3\r\nbar\r\nget k\r\n'.length, 'STORED\r\nVALUE k 0 3\r\nbar\r\nEND\r\n'.length, undefined]],
  );
  t.equal(r.exchanges[0].start, timeOf(0), 'from the connection\'s first byte');
  t.same(r.events, [], 'not a parse error: it was never Redis');

  const echo = runSession([{ c: 'hello opaque\n' }, { s: 'hello opaque\n' }, { close: 'reset' }]);
  t.match(echo.exchanges, [{ protocol: 'tcp', bytes_out: 13, bytes_in: 13 }]);
});

void t.test('a Redis conversation that breaks later, or one opened with RESP, is still a parse error', async (t) => {
  const later = runSession([{ c: 'PING\r\n' }, { s: '+PONG\r\n' }, { c: 'PING\r\n' }, { s: 'garbage\r\n' }, { close: 'fin' }]);
  t.same(later.exchanges.map((e) => [e.protocol, e.method, e.error]), [['redis', 'PING', undefined], ['redis', 'PING', 'parse']]);
  const resp = runSession([{ c: cmd('PING') }, { s: 'garbage\r\n' }, { close: 'fin' }]);
  t.same(resp.exchanges.map((e) => [e.protocol, e.method, e.error]), [['redis', 'PING', 'parse']]);
  t.match(resp.events, [{ kind: 'parse_error', side: 'server' }]);
});
