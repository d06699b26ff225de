/** Giving back the node binary's pages that only starting used: which ones, and for real. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import t from 'tap';
import { cleanMappingsOf, trimBinaryPages } from '../../sidecar/trim-pages.ts';

const NODE_BIN = '/opt/node/bin/node';
// The shape of /proc/self/smaps (fields trimmed to those read, and one more).
const SMAPS = `55d1c0a00000-55d1c0e00000 r--p 00000000 08:01 1234                       ${NODE_BIN}
Size:               4096 kB
Rss:                3000 kB
Anonymous:             0 kB
Swap:                  0 kB
55d1c0e00000-55d1c4e00000 r-xp 00400000 08:01 1234                       ${NODE_BIN}
Size:              65536 kB
Rss:               24000 kB
Anonymous:             0 kB
Swap:                  0 kB
55d1c4e00000-55d1c5000000 r--p 04400000 08:01 1234                       ${NODE_BIN}
Size:               2048 kB
Rss:                2048 kB
Anonymous:           120 kB
Swap:                  0 kB
55d1c5000000-55d1c5100000 rw-p 04600000 08:01 1234                       ${NODE_BIN}
Size:               1024 kB
Rss:                 900 kB
Anonymous:             4 kB
Swap:                  0 kB
55d1c5100000-55d1c5200000 r--p 04700000 08:01 1234                       ${NODE_BIN}
Size:               1024 kB
Rss:                 100 kB
Anonymous:             0 kB
Swap:                  8 kB
55d1c5200000-55d1c5300000 r--p 04800000 08:01 1234                       ${NODE_BIN}
Size:               1024 kB
Rss:                 100 kB
Anonymous:             0 kB
7f0000000000-7f0000100000 r-xp 00000000 08:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               1024 kB
Rss:                1000 kB
Anonymous:             0 kB
Swap:                  0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0 
Size:               1024 kB
Rss:                1024 kB
Anonymous:          1024 kB
Swap:                  0 kB
7f0000400000-7f0000500000 r--p 00000000 08:01 1234                       ${NODE_BIN} (deleted)
Size:               1024 kB
Rss:                 100 kB
Anonymous:             0 kB
Swap:                  0 kB
7f1234000000-7f1234205000 r-xp 01627000 08:01 1234                       ${NODE_BIN}
Size:               2068 kB
Rss:                2068 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd mr mw me sd
`;

void t.test('only the binary\'s read-only mappings that its loader made and nobody wrote are chosen', async (t) => {
  t.same(
    cleanMappingsOf(SMAPS, NODE_BIN),
    [
      { start: 0x55d1c0a00000n, end: 0x55d1c0e00000n, residentKiB: 3000 },
      { start: 0x55d1c0e00000n, end: 0x55d1c4e00000n, residentKiB: 24000 },
    ],
    'not pages of its own (relocations made read-only), resident or swapped out, nor a mapping whose lines say neither; not writable data, other files or anonymous memory; not an isolate\'s copy of the built-in code, mapped elsewhere',
  );
  t.same(cleanMappingsOf(SMAPS, '/nowhere/node'), []);
  t.same(cleanMappingsOf(SMAPS.split('\n').filter((l) => !l.includes(' 00000000 08:01 1234 ')).join('\n'), NODE_BIN), [], 'without the file\'s first page mapped, nothing can be told apart: nothing is taken');
});

void t.test('trimBinaryPages drops each chosen range and counts what madvise refused', async (t) => {
  const calls: [bigint, bigint][] = [];
  const result = trimBinaryPages({
    file: NODE_BIN,
    readSmaps: () => SMAPS,
    dontNeed: (start, length) => {
      calls.push([start, length]);
      return calls.length === 2 ? 22 : 0;
    },
  });
  t.same(calls, [[0x55d1c0a00000n, 0x400000n], [0x55d1c0e00000n, 0x4000000n]]);
  t.same(result, { droppedKiB: 3000, ranges: 1, failed: 1, errno: 22 });
  const gone = trimBinaryPages({ file: NODE_BIN, readSmaps: () => SMAPS, dontNeed: () => 12 });
  t.same(gone, { droppedKiB: 0, ranges: 0, failed: 0 }, 'a range unmapped meanwhile (ENOMEM) is neither dropped nor refused');
});

// A real node process: its resident share of the binary falls, and it keeps working (TLS, HTTP,
// JSON, compression, a worker thread: code that lives in the pages it gave back).
const CHILD = `
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { gzipSync, gunzipSync } from 'node:zlib';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { trimBinaryPages } from ${JSON.stringify(join(import.meta.dirname, '../../sidecar/trim-pages.ts'))};
const rssFile = () => Number(/^RssFile:\\s+(\\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
async function work() {
  const server = createServer((req, res) => res.end(JSON.stringify({ path: req.url })));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const got = await (await fetch('http://127.0.0.1:' + server.address().port + '/x')).json();
  server.close();
  const zipped = gunzipSync(gzipSync(Buffer.alloc(100000, 7))).length;
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }).length > 0;
  const fromWorker = await new Promise((resolve, reject) => {
    const w = new Worker('import { parentPort } from "node:worker_threads"; import { createHash } from "node:crypto"; parentPort.postMessage(createHash("sha256").update("w").digest("hex"));', { eval: true });
    w.once('message', resolve).once('error', reject);
  });
  return got.path === '/x' && zipped === 100000 && key && fromWorker === createHash('sha256').update('w').digest('hex');
}
await work();
const before = rssFile();
const trimmed = trimBinaryPages();
const after = rssFile();
const ok = await work();
console.log(JSON.stringify({ before, after, again: rssFile(), trimmed, ok }));
`;

void t.test('a real process gives back most of its pages of the binary and keeps working', async (t) => {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  t.equal(signal, null, 'not killed (a written page dropped would crash it)');
  t.equal(code, 0);
  const r = JSON.parse(out) as { before: number; after: number; again: number; trimmed: { droppedKiB: number; ranges: number; failed: number }; ok: boolean };
  t.ok(r.ok, 'HTTP, zlib, crypto and a worker thread still work after the trim');
  t.ok(r.trimmed.ranges > 0 && r.trimmed.failed === 0, `ranges dropped: ${JSON.stringify(r.trimmed)}`);
  t.ok(r.before - r.after > 8 * 1024, `the file-backed RSS fell from ${r.before} to ${r.after} KiB`);
  t.ok(r.again < r.before, `and after the work it stays below where it was (${r.again} KiB)`);
});
