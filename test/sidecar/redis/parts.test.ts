/** The pieces under the session: the RESP reader, command naming and masking, rendering, detection. */
import t from 'tap';
import { RespReader, splitInlineArgs, type RespValue } from '../../../sidecar/redis/resp-reader.ts';
import { describeCommand } from '../../../sidecar/redis/command.ts';
import { renderCommand, renderReply } from '../../../sidecar/redis/render.ts';
import { detectRedis } from '../../../sidecar/redis/detect.ts';

function read(side: 'client' | 'server', input: string | Buffer, maxBodyBytes = 1024, opts: { maxStoredElements?: number } = {}) {
  const values: Array<{ v: RespValue; wire: number }> = [];
  const errors: string[] = [];
  let begins = 0;
  const r = new RespReader(
    { onBegin: () => begins++, onValue: (v, i) => values.push({ v, wire: i.wireBytes }), onError: (d) => errors.push(d) },
    { side, maxBodyBytes, ...opts },
  );
  const buf = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  // Byte by byte: the hardest way to receive it.
  for (let i = 0; i < buf.length; i++) r.execute(buf.subarray(i, i + 1));
  return { values, errors, begins, r };
}

const args = (...xs: string[]) => xs.map((x) => ({ data: Buffer.from(x, 'latin1'), size: x.length }));

void t.test('reader: RESP3 attributes are attached, not counted as values', async (t) => {
  const { values, errors } = read('server', '|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:1\r\n|1\r\n+ttl\r\n:3\r\n:2\r\n');
  t.same(errors, []);
  t.equal(values.length, 1);
  t.equal(values[0].v.kind, 'array');
  t.ok(values[0].v.attributes);
  t.equal(values[0].v.items?.length, 2);
  t.ok(values[0].v.items?.[1].attributes);
  t.equal(renderReply(values[0].v), '1) (integer) 1\n2) (integer) 2');
});

void t.test('reader: counts wire bytes, keeps bulk data within the budget, drops elements over the limit', async (t) => {
  const input = '*3\r\n$5\r\nabcde\r\n$5\r\nfghij\r\n$5\r\nklmno\r\n';
  const { values } = read('server', input, 7);
  t.equal(values[0].wire, input.length);
  const items = values[0].v.items ?? [];
  t.same(items.map((i) => [i.data?.toString(), i.size]), [['abcde', 5], ['fg', 5], ['', 5]]);
  const many = read('server', '*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n', 1024, { maxStoredElements: 2 });
  t.equal(many.values[0].v.items?.length, 2);
  t.equal(many.values[0].v.dropped, 2);
  t.equal(renderReply(many.values[0].v), '1) (integer) 1\n2) (integer) 2\n… [2 more elements not kept]');
});

void t.test('reader: client side reads inline lines and RESP arrays, errors on nonsense', async (t) => {
  const { values, errors, begins } = read('client', '\r\nPING\r\n*1\r\n$4\r\nPING\r\nSET a "b\r\n');
  t.equal(values.length, 2);
  t.equal(values[0].v.inline, true);
  t.equal(values[0].wire, 8);
  t.equal(begins, 3);
  t.match(errors, [/unbalanced quotes/]);
  t.match(read('client', '*1\r\n$3\r\nabcX\r\n').errors, [/not followed by CRLF/]);
  t.match(read('server', '$?\r\n').errors, [/streamed/]);
  t.match(read('server', '#x\r\n').errors, [/boolean/]);
  t.match(read('server', ':12a\r\n').errors, [/integer/]);
  t.match(read('client', `${'A'.repeat(70 * 1024)}\r\n`).errors, [/inline command longer/]);
});

void t.test('inline splitting follows redis-cli quoting', async (t) => {
  const words = (s: string) => splitInlineArgs(Buffer.from(s, 'latin1'))?.map((b) => b.toString('latin1'));
  t.same(words('set  key   value'), ['set', 'key', 'value']);
  t.same(words('set "a b" \'c d\''), ['set', 'a b', 'c d']);
  t.same(words('echo "\\x41\\n\\t\\"" \'it\\\'s\''), ['echo', 'A\n\t"', "it's"]);
  t.same(words('echo ""'), ['echo', '']);
  t.equal(words('echo "abc'), undefined);
  t.equal(words('echo "a"b'), undefined, 'a closing quote must end the word');
  t.same(words(''), []);
});

void t.test('command names, keys and masking', async (t) => {
  const d = (...xs: string[]) => {
    const c = describeCommand(args(...xs));
    return [c.name, c.key, [...c.masked]];
  };
  t.same(d('get', 'k'), ['GET', 'k', []]);
  t.same(d('config', 'get', 'maxmemory'), ['CONFIG GET', undefined, []]);
  t.same(d('CLIENT', 'setname', 'x'), ['CLIENT SETNAME', undefined, []]);
  t.same(d('OBJECT', 'ENCODING', 'k'), ['OBJECT ENCODING', 'k', []]);
  t.same(d('XINFO', 'STREAM', 's'), ['XINFO STREAM', 's', []]);
  t.same(d('EVAL', 'return 1', '2', 'k1', 'k2', 'a'), ['EVAL', 'k1', []]);
  t.same(d('EVALSHA', 'abc', '0', 'a'), ['EVALSHA', undefined, []]);
  t.same(d('ZUNION', '2', 'z1', 'z2'), ['ZUNION', 'z1', []]);
  t.same(d('BITOP', 'AND', 'dest', 'a'), ['BITOP', 'dest', []]);
  t.same(d('XREAD', 'COUNT', '2', 'STREAMS', 's1', '0'), ['XREAD', 's1', []]);
  t.same(d('PING'), ['PING', undefined, []]);
  t.same(d('SUBSCRIBE', 'ch'), ['SUBSCRIBE', undefined, []]);
  t.same(d('SELECT', '2'), ['SELECT', undefined, []]);
  t.same(d('AUTH', 'pw'), ['AUTH', undefined, [1]]);
  t.same(d('auth', 'user', 'pw'), ['AUTH', undefined, [2]]);
  t.same(d('HELLO', '3', 'auth', 'u', 'pw'), ['HELLO', undefined, [4]]);
  t.same(d('MIGRATE', 'h', '1', 'k', '0', '10', 'AUTH', 'pw'), ['MIGRATE', 'k', [7]]);
  t.same(d('CONFIG', 'SET', 'masterauth', 'pw'), ['CONFIG SET', undefined, [3]]);
  t.same(d('ACL', 'SETUSER', 'u', 'on', '>pw', '#abc', '+@all'), ['ACL SETUSER', undefined, [4, 5]]);
});

void t.test('rendering commands and replies', async (t) => {
  t.equal(renderCommand(args('SET', 'a b', 'say "hi"', '', 'x\x00\n\xff', "it's")), 'SET "a b" "say \\"hi\\"" "" "x\\x00\\n\\xff" "it\'s"');
  t.equal(renderCommand(args('AUTH', 'secret'), new Set([1])), 'AUTH ****');
  const nested: RespValue = {
    kind: 'array',
    items: [
      { kind: 'array', items: [{ kind: 'bulk', data: Buffer.from('a'), size: 1 }, { kind: 'integer', text: '2' }] },
      { kind: 'array', items: [] },
      { kind: 'null' },
      { kind: 'error', text: 'ERR x' },
      { kind: 'boolean', text: 'f' },
      { kind: 'map', items: [{ kind: 'bulk', data: Buffer.from('k'), size: 1 }, { kind: 'array', items: [{ kind: 'simple', text: 'v1' }, { kind: 'simple', text: 'v2' }] }] },
    ],
  };
  t.equal(
    renderReply(nested),
    ['1) 1) "a"', '   2) (integer) 2', '2) (empty array)', '3) (nil)', '4) (error) ERR x', '5) (false)', '6) 1# "k" => 1) v1', '             2) v2'].join('\n'),
  );
  const ten: RespValue = { kind: 'array', items: Array.from({ length: 10 }, (_, i) => ({ kind: 'integer', text: String(i) }) as RespValue) };
  t.match(renderReply(ten), /^ 1\) \(integer\) 0\n.*\n10\) \(integer\) 9$/s, 'labels aligned');
  t.equal(renderReply({ kind: 'set', items: [] }), '(empty set)');
  t.equal(renderReply({ kind: 'map', items: [] }), '(empty hash)');
  t.equal(renderReply({ kind: 'bulk', data: Buffer.from('abc'), size: 100 }), '"abc"… [100 bytes]');
});

void t.test('detection', async (t) => {
  const d = (s: string) => detectRedis(Buffer.from(s, 'latin1'));
  t.equal(d(''), 'need-more');
  t.equal(d('*'), 'need-more');
  t.equal(d('*2\r'), 'need-more');
  t.equal(d('*2\r\n$'), 'need-more');
  t.equal(d('*2\r\n$3\r'), 'need-more');
  t.equal(d('*2\r\n$3\r\nGET'), 'redis');
  t.equal(d('*2\r\n:3\r\n'), undefined);
  t.equal(d('*x'), undefined);
  t.equal(d('PING\r\n'), 'redis');
  t.equal(d('ping\n'), 'redis');
  t.equal(d('PIN'), 'need-more');
  t.equal(d('PING\r'), 'need-more');
  t.equal(d('auth secret\r\n'), 'redis');
  t.equal(d('GET key'), 'need-more');
  t.equal(d('GET key\r\n'), 'redis');
  t.equal(d('GET / HTTP/1.1\r\n'), undefined, 'HTTP wins');
  t.equal(d('GET / HTTP/1.0\r\n'), undefined);
  t.equal(d('PINGX\r\n'), undefined);
  t.equal(d('BANANA '), undefined);
  t.equal(d('\x16\x03\x01'), undefined);
  t.equal(d('{"a":1}'), undefined);
  t.equal(d('SSH-2.0-OpenSSH\r\n'), undefined);
});
