/**
 * The compiled pod entry (`npm run build` → dist/): what it holds and that it runs. The
 * sidecar and init must not load the collector, the webhook, the controller, the lab or their
 * packages; the capture worker sits beside the entry, where the sidecar looks for it.
 */
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { SIDECAR_NODE_FLAGS, podCommandFlags, podEntry } from '../../lib/pod-entry.ts';

const run = promisify(execFile);
const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const NODE = process.execPath;

interface Meta {
  inputs: Record<string, unknown>;
  outputs: Record<string, { imports: Array<{ path: string; external?: boolean }> }>;
}

void t.test('the build holds the pod entry and the capture worker, and only what a pod uses', async (t) => {
  const entry = podEntry();
  t.ok(existsSync(entry));
  t.ok(existsSync(`${DIST}capture-worker.js`), 'the capture worker beside the entry');
  const meta = JSON.parse(readFileSync(`${DIST}meta.json`, 'utf8')) as Meta;
  const folders = new Set(Object.keys(meta.inputs).map((f) => f.split('/')[0]));
  for (const forbidden of ['collector', 'webhook', 'controller', 'lab', 'bench', 'test']) t.notOk(folders.has(forbidden), `nothing from ${forbidden}/`);
  const packages = new Set(Object.values(meta.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)));
  for (const forbidden of ['zod', 'fastify', '@kubernetes/client-node', '@bufbuild/cel', 'yaml', 'fast-json-patch']) t.notOk(packages.has(forbidden), `${forbidden} not imported`);
  // The workload CSR is written in DER by hand (certs/der.ts): no ASN.1 library in every pod.
  t.notOk(packages.has('node-forge'), 'node-forge not imported');
  // /metrics is written by lib/prom/ (prom-client's own weight and its default metrics' timers).
  t.notOk(packages.has('prom-client'), 'prom-client not imported');
  // The CA and membership messages are read and written by hand (record/ca-wire.ts, membership-wire.ts).
  for (const reflection of ['@grpc/proto-loader', 'protobufjs']) t.notOk(packages.has(reflection), `${reflection} not imported`);
  // The pod's gRPC client is its own, over node:http2 (lib/grpc-client/).
  t.notOk(packages.has('@grpc/grpc-js'), '@grpc/grpc-js not imported');
  // The worker's packages, through the chunks it shares with the entry.
  const workerPackages = new Set<string>();
  const seen = new Set<string>();
  const walk = (output: string): void => {
    if (seen.has(output)) return;
    seen.add(output);
    for (const i of meta.outputs[output].imports) {
      if (i.external) workerPackages.add(i.path);
      else walk(i.path);
    }
  };
  walk('dist/capture-worker.js');
  t.notOk(workerPackages.has('@grpc/grpc-js'), 'the capture worker ships its records without grpc-js');
  // It frames batches and reads acks by hand: no .proto parsing, no reflection.
  for (const heavy of ['zod', 'prom-client', 'node-forge', 'protobufjs', '@grpc/proto-loader', '@bufbuild/re2']) t.notOk(workerPackages.has(heavy), `the capture worker does not load ${heavy}`);
});

void t.test('the compiled commands run', async (t) => {
  const sidecar = await run(NODE, [podEntry(), 'sidecar', '--help']);
  t.match(sidecar.stdout, /usage: meshtap sidecar/);
  const init = await run(NODE, [podEntry(), 'init', '--help']);
  t.match(init.stdout, /usage: meshtap init/);
  const unknown = await run(NODE, [podEntry(), 'collector']).catch((err: { code: number; stderr: string }) => err);
  t.equal((unknown as { code: number }).code, 2, 'only the pod commands are in it');
  t.equal(
    (unknown as { stderr: string }).stderr,
    'meshtap: CLI_ERR_USAGE: unknown command "collector" (init, sidecar, wait-ready)\nRun "meshtap --help" for the commands.\n',
    'in the shape of every usage error',
  );
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) t.equal((await run(NODE, [podEntry(), flag])).stdout, `meshtap ${version}\n`, flag);
  // The version is compiled in: a copy of dist/ with no package.json near it says the same.
  const elsewhere = mkdtempSync(join(tmpdir(), 'meshtap-dist-'));
  t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }));
  cpSync(DIST, join(elsewhere, 'dist'), { recursive: true });
  t.equal((await run(NODE, [join(elsewhere, 'dist', 'meshtap-pod.js'), '--version'], { cwd: elsewhere })).stdout, `meshtap ${version}\n`, 'without package.json');
});

void t.test("the sidecar's V8 flags: accepted by the pinned Node, and the image's launcher passes the same ones", async (t) => {
  t.ok(SIDECAR_NODE_FLAGS.includes('--no-maglev'), 'the sidecar runs without the mid-tier compiler');
  t.same(podCommandFlags('init'), [], 'init and wait-ready run with Node as it is');
  t.same(podCommandFlags('wait-ready'), []);
  // An unknown V8 flag makes node exit with "bad option": the sidecar would never start.
  const sidecar = await run(NODE, [...podCommandFlags('sidecar'), podEntry(), 'sidecar', '--help']);
  t.match(sidecar.stdout, /usage: meshtap sidecar/, 'the sidecar runs with them');
  // The launcher, with a `node` on PATH that prints what it was given.
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-launcher-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'node'), '#!/bin/sh\nprintf "%s\\n" "$@"\n');
  chmodSync(join(dir, 'node'), 0o755);
  const launcher = fileURLToPath(new URL('../../scripts/meshtap-launcher.sh', import.meta.url));
  const argvOf = async (...args: string[]): Promise<string[]> =>
    (await run('sh', [launcher, ...args], { env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` } })).stdout.trimEnd().split('\n');
  t.same(await argvOf('sidecar', '--log-level', 'info'), [...podCommandFlags('sidecar'), '/opt/meshtap/dist/meshtap-pod.js', 'sidecar', '--log-level', 'info'], 'sidecar');
  t.same(await argvOf('init', '--cleanup'), ['/opt/meshtap/dist/meshtap-pod.js', 'init', '--cleanup'], 'init');
  t.same(await argvOf('wait-ready'), ['/opt/meshtap/dist/meshtap-pod.js', 'wait-ready'], 'wait-ready');
  t.same(await argvOf('collector'), ['/opt/meshtap/bin/meshtap.ts', 'collector'], 'the other commands from the sources');
});

void t.test('the compiled sidecar starts with no collector reachable, listens, and drains on SIGTERM', async (t) => {
  const { spawn } = await import('node:child_process');
  const { createServer } = await import('node:net');
  // Three free ports (the sidecar's listeners take fixed ports).
  const ports: number[] = [];
  for (let i = 0; i < 3; i++) {
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    ports.push((server.address() as { port: number }).port);
    server.close();
  }
  const child = spawn(NODE, [podEntry(), 'sidecar'], {
    env: {
      PATH: process.env.PATH,
      POD_NAME: 'entry-test',
      POD_NAMESPACE: 'test',
      POD_IP: '127.0.0.1',
      MESHTAP_INBOUND_PORT: String(ports[0]),
      MESHTAP_OUTBOUND_PORT: String(ports[1]),
      MESHTAP_ADMIN_PORT: String(ports[2]),
      // Nothing listens there: the sidecar must stay up and count records as undeliverable.
      MESHTAP_COLLECTOR_ADDR: '127.0.0.1:1',
      MESHTAP_COLLECTOR_TLS: 'off',
      MESHTAP_PROXY_UID: String(process.getuid?.() ?? 0),
      MESHTAP_PROXY_GID: String(process.getgid?.() ?? 0),
    },
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!out.includes('"msg":"listening"') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  t.match(out, /"msg":"listening"/, 'listening (the capture worker started)');
  await new Promise((r) => setTimeout(r, 500));
  t.equal(child.exitCode, null, 'still running with the collector unreachable');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'drained and exited 0');
  t.match(out, /"msg":"stopped"/);
});
