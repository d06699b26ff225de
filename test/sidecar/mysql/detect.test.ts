/** Recognising a MySQL/MariaDB server from its greeting, and the SQL helpers. */
import t from 'tap';
import { detectMysqlGreeting } from '../../../sidecar/mysql/detect.ts';
import { firstKeyword, splitStatements } from '../../../sidecar/mysql/split-sql.ts';
import { greeting } from './encoder.ts';

void t.test('a protocol 10 greeting is MySQL; every prefix of it needs more', async (t) => {
  for (const g of [greeting(), greeting({ version: '5.5.5-10.11.6-MariaDB-0+deb12u1', plugin: 'mysql_native_password' })]) {
    t.equal(detectMysqlGreeting(g), 'mysql');
    for (let n = 0; n < 4 + 1 + g.indexOf(0, 5) - 4 + 4 + 8 + 1; n++) t.equal(detectMysqlGreeting(g.subarray(0, n)), 'need-more', `prefix ${n}`);
  }
});

void t.test('other server-first banners are not MySQL', async (t) => {
  const banners = ['220 mail.example.com ESMTP Postfix\r\n', 'SSH-2.0-OpenSSH_9.6\r\n', '+OK POP3 ready\r\n', '* OK IMAP4rev1\r\n', '220 (vsFTPd 3.0.5)\r\n'];
  for (const b of banners) {
    t.equal(detectMysqlGreeting(Buffer.from(b)), undefined, b);
    t.equal(detectMysqlGreeting(Buffer.from(b).subarray(0, 4)), undefined, `${b} (4 bytes)`);
  }
  const g = greeting();
  const bad = (mutate: (b: Buffer) => void): Buffer => {
    const c = Buffer.from(g);
    mutate(c);
    return c;
  };
  t.equal(detectMysqlGreeting(bad((b) => (b[3] = 1))), undefined, 'sequence id not 0');
  t.equal(detectMysqlGreeting(bad((b) => (b[4] = 9))), undefined, 'protocol 9');
  t.equal(detectMysqlGreeting(bad((b) => (b[6] = 0x07))), undefined, 'unprintable version');
  t.equal(detectMysqlGreeting(bad((b) => (b[5] = 0))), undefined, 'empty version');
  t.equal(detectMysqlGreeting(bad((b) => (b[g.indexOf(0, 5) + 13] = 1))), undefined, 'no filler');
  t.equal(detectMysqlGreeting(bad((b) => b.writeUIntLE(5, 0, 3))), undefined, 'too short to be a greeting');
  t.equal(detectMysqlGreeting(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])), undefined, 'TLS');
});

void t.test('statement splitting and first keywords', async (t) => {
  t.same(splitStatements("SELECT 'a;b'; SELECT `c;d`; -- x;y\nSELECT \"e\\\";f\" # g;h\n"), ["SELECT 'a;b'", 'SELECT `c;d`', '-- x;y\nSELECT "e\\";f" # g;h']);
  t.same(splitStatements('SELECT 1 /* ; */; SELECT 2;'), ['SELECT 1 /* ; */', 'SELECT 2']);
  t.equal(splitStatements("SELECT 'open"), undefined);
  t.equal(splitStatements('CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END'), undefined);
  t.equal(firstKeyword('  /* hint */ (select 1)'), 'SELECT');
  t.equal(firstKeyword('/*!40101 SET NAMES utf8 */'), 'SET');
  t.equal(firstKeyword('-- c\n# d\ninsert into t values (1)'), 'INSERT');
  t.equal(firstKeyword(''), '');
});
