/**
 * Shutdown that ends: a collector sent SIGTERM while sidecars stream to it, whose peers then
 * vanish without FIN or RST (their links deleted, as when a node or a network namespace goes),
 * exits within its deadline and does not spin meanwhile. Real processes in network namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { PodNetwork, sh, spawnInNetns, type PodNetns } from '../../lab/netns.ts';
import { COLLECTOR_STOP_DEADLINE_MS } from '../../collector/cli.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const NODE = process.execPath;

/** CPU seconds (user + system) the process used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Streaming {
  collector: ChildProcess;
  pods: PodNetns[];
  exited: Promise<number | null>;
  output: () => string;
}

/** A collector on a bridge, and one "sidecar" per pod shipping records to it every few ms. */
async function streamingCollector(t: Test, podNames: string[]): Promise<Streaming> {
  const net = new PodNetwork();
  t.teardown(() => net.destroy());
  await net.create();
  const pods: PodNetns[] = [];
  for (const name of podNames) pods.push(await net.addPod(name));
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-shutdown-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const collector = spawn(NODE, [join(REPO, 'bin/meshtap.ts'), 'collector', '--auth', 'none', '--grpc-port', '0', '--http-port', '0', '--host', net.gateway, '--store', 'memory'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void collector.kill('SIGKILL'));
  let out = '';
  collector.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  collector.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => collector.on('exit', (code) => resolve(code)));
  const startBy = Date.now() + 30_000;
  while (!out.includes('collector listening')) {
    if (Date.now() > startBy) throw new Error(`the collector did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const { grpcPort, httpPort } = JSON.parse(out.split('\n').find((l) => l.includes('collector listening'))!) as { grpcPort: number; httpPort: number };
  const script = join(dir, 'ship.ts');
  writeFileSync(
    script,
    [
      `import { createShipper } from ${JSON.stringify(join(REPO, 'sidecar/shipper/create-shipper.ts'))};`,
      `import { fullRecord } from ${JSON.stringify(join(REPO, 'test/proto/record-fixtures.ts'))};`,
      `const shipper = createShipper({ collectorAddr: ${JSON.stringify(`${net.gateway}:${grpcPort}`)}, batchLingerMs: 5 });`,
      'let i = 0;',
      'setInterval(() => { for (let k = 0; k < 20; k++) shipper.offer({ ...fullRecord(i), id: `${process.pid}-${i++}` }); }, 5);',
    ].join('\n'),
  );
  for (const pod of pods) spawnInNetns(pod.netns, NODE, [script], { stdio: 'ignore' });
  const streamBy = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`http://${net.gateway}:${httpPort}/api/calls?limit=1000`);
    if (((await res.json()) as { calls: unknown[] }).calls.length >= 100 * pods.length) break;
    if (Date.now() > streamBy) throw new Error('the shippers did not stream');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { collector, pods, exited, output: () => out };
}

void t.test('a collector whose streaming peers vanished exits on SIGTERM within its deadline, without spinning', async (t) => {
  const { collector, pods, exited, output } = await streamingCollector(t, ['shipa', 'shipb', 'shipc']);
  // The peers vanish: their links go, and nothing (no FIN, no RST) reaches the collector again.
  for (const pod of pods) await sh('ip', ['link', 'del', pod.hostIf]);
  let done = false;
  void exited.then(() => (done = true));
  const started = Date.now();
  let last = cpuSeconds(collector.pid!);
  let lastAt = performance.now();
  let peak = 0;
  let samples = 0;
  collector.kill('SIGTERM');
  // Sample the CPU about once a second until it exits (or clearly never will), as a share of the
  // time that really passed (a loaded machine stretches the sleep). The first second also holds
  // the work the stop itself does (the last batches, the store's close), so it is not counted:
  // the bug spun for the whole deadline.
  while (!done && Date.now() - started < COLLECTOR_STOP_DEADLINE_MS + 10_000) {
    await new Promise((r) => setTimeout(r, 1000));
    if (done) break;
    const now = cpuSeconds(collector.pid!);
    const at = performance.now();
    if (samples++ > 0) peak = Math.max(peak, (now - last) / ((at - lastAt) / 1000));
    last = now;
    lastAt = at;
  }
  const seconds = (Date.now() - started) / 1000;
  t.ok(done, `the collector exited (after ${seconds.toFixed(1)} s; deadline ${COLLECTOR_STOP_DEADLINE_MS / 1000} s)`);
  const code = done ? await exited : undefined;
  t.ok(code === 0 || code === 1, `exit code ${String(code)}: 0 when the drain finished, 1 when the deadline cut it`);
  t.ok(peak < 0.6, `at most ${(peak * 100).toFixed(0)} % of a core in any second of the stop (the bug ran at about 80 %)`);
  t.match(output(), /collector stopping/);
});

void t.test('a second SIGTERM ends a stopping collector at once', async (t) => {
  const { collector, pods, exited, output } = await streamingCollector(t, ['shipd']);
  for (const pod of pods) await sh('ip', ['link', 'del', pod.hostIf]);
  collector.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  collector.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
  t.not(code, 'hung', 'exited');
  // Either the graceful stop had already finished, or the second signal cut it.
  t.ok(code === 0 || /second signal during shutdown/.test(output()), `exit ${String(code)}`);
});
