/** Statement splitting (what the server's lexer would skip) and the first-bytes detector. */
import t from 'tap';
import { serialize } from 'pg-protocol';
import { detectPostgres } from '../../../sidecar/postgres/detect.ts';
import { firstKeyword, splitStatements } from '../../../sidecar/postgres/split-sql.ts';

void t.test('splits at top-level semicolons only', async (t) => {
  t.same(splitStatements('SELECT 1; SELECT 2'), ['SELECT 1', 'SELECT 2']);
  t.same(splitStatements('SELECT 1;'), ['SELECT 1']);
  t.same(splitStatements(' ; ;SELECT 1;; -- c\n ; /* x */'), ['SELECT 1'], 'empty statements dropped as the server does');
  t.same(splitStatements(''), []);
  t.same(splitStatements("SELECT 'a;b', 'it''s;'; SELECT 2"), ["SELECT 'a;b', 'it''s;'", 'SELECT 2']);
  t.same(splitStatements('SELECT "we;ird""id"; SELECT 2'), ['SELECT "we;ird""id"', 'SELECT 2']);
  t.same(splitStatements("SELECT E'x\\';y'; SELECT 2"), ["SELECT E'x\\';y'", 'SELECT 2'], 'E-string escapes');
  t.same(splitStatements('SELECT $$a;b$$, $tag$ $$ ; $tag$; SELECT 2'), ['SELECT $$a;b$$, $tag$ $$ ; $tag$', 'SELECT 2']);
  t.same(splitStatements('SELECT $1::int; SELECT x$y FROM t'), ['SELECT $1::int', 'SELECT x$y FROM t'], 'parameters and identifiers with $');
  t.same(splitStatements('SELECT 1 -- ; not here\n; /* a /* nested ; */ ; */ SELECT 2'), ['SELECT 1 -- ; not here', '/* a /* nested ; */ ; */ SELECT 2']);
});

void t.test('ambiguous or broken text is not split', async (t) => {
  t.equal(splitStatements("SELECT 'a\\'; SELECT 2"), undefined, 'backslash meaning depends on standard_conforming_strings');
  t.same(splitStatements("SELECT 'a\\b'; SELECT 2"), ["SELECT 'a\\b'", 'SELECT 2'], 'a backslash both readings agree on');
  t.equal(splitStatements("SELECT 'open"), undefined);
  t.equal(splitStatements('SELECT /* open'), undefined);
  t.equal(splitStatements('SELECT $x$ open'), undefined);
  t.equal(splitStatements('SELECT "open'), undefined);
  t.equal(
    splitStatements('CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3'),
    undefined,
    'SQL-standard function bodies',
  );
});

void t.test('first keyword', async (t) => {
  t.equal(firstKeyword('  -- c\n/* d */ select 1'), 'SELECT');
  t.equal(firstKeyword('(SELECT 1) UNION (SELECT 2)'), 'SELECT');
  t.equal(firstKeyword('with x as (select 1) select * from x'), 'WITH');
  t.equal(firstKeyword(''), undefined);
});

void t.test('detects the four startup packets from eight bytes', async (t) => {
  const startup = serialize.startup({ user: 'u', database: 'd' });
  t.equal(detectPostgres(startup.subarray(0, 8)), 'postgres');
  t.equal(detectPostgres(serialize.requestSsl()), 'postgres');
  t.equal(detectPostgres(serialize.cancel(1, 2)), 'postgres');
  const gss = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);
  t.equal(detectPostgres(gss), 'postgres');
  for (let i = 0; i < 8; i++) t.equal(detectPostgres(startup.subarray(0, i)), 'need-more', `${i} bytes`);
  t.equal(detectPostgres(Buffer.from('GET / HT')), undefined);
  t.equal(detectPostgres(Buffer.from([0x16, 3, 1, 0, 0x50, 1, 0, 0])), undefined, 'TLS');
  t.equal(detectPostgres(Buffer.from('*1\r\n$4\r\n')), undefined, 'Redis');
  t.equal(detectPostgres(Buffer.from([0])), 'need-more');
  t.equal(detectPostgres(Buffer.from([0, 0, 0, 9, 0x04, 0xd2, 0x16, 0x2f])), undefined, 'SSLRequest with a wrong length');
  t.equal(detectPostgres(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2e])), undefined, 'CancelRequest with a wrong length');
  t.equal(detectPostgres(Buffer.from([0, 0, 0, 40, 0, 2, 0, 0])), undefined, 'protocol 2.0');
  t.equal(detectPostgres(Buffer.from([0, 1, 0, 0, 0, 3, 0, 0])), undefined, 'startup longer than the server allows');
});
