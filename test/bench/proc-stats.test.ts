import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ioCounters, parseIo } from '../../bench/proc-stats.ts';

// The text of /proc/PID/io as Linux writes it.
const IO_TEXT = `rchar: 6976
wchar: 1234
syscr: 10
syscw: 3
read_bytes: 0
write_bytes: 4096
cancelled_write_bytes: 0
`;

void t.test('parseIo reads the syscall counters of /proc/PID/io', async (t) => {
  t.same(parseIo(IO_TEXT), { wchar: 1234, rchar: 6976, syscw: 3, syscr: 10 });
  t.throws(() => parseIo(IO_TEXT.replace('wchar: 1234\n', '')), /no wchar/, 'a missing counter is an error, not a zero');
  t.throws(() => parseIo(''), /no wchar/, 'an unreadable text too');
});

void t.test('ioCounters: a real write shows in wchar and syscw', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-io-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = 256 * 1024;
  const before = ioCounters();
  writeFileSync(join(dir, 'data'), Buffer.alloc(bytes, 1));
  const after = ioCounters(process.pid);
  t.ok(after.wchar - before.wchar >= bytes, `wchar grew by the bytes written (${after.wchar - before.wchar})`);
  t.ok(after.syscw > before.syscw, 'write calls counted');
});
