import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { run } from '../../webhook/inject-cli.ts';
import type { PodLike } from '../../webhook/inject-types.ts';
import { podProblems } from './inject-helpers.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'inject', 'cli');
const mixed = join(fixtures, 'mixed.yaml');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function spawnMeshtap(args: string[], stdin?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['meshtap', ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

async function runInProcess(args: string[], stdin = ''): Promise<Result> {
  const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {} };
  let stdout = '';
  let stderr = '';
  io.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  io.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  io.stdin.end(stdin);
  const code = await run(args, io);
  return { code, stdout, stderr };
}

function docs(text: string): unknown[] {
  return parseAllDocuments(text).map((d) => (d as { toJS(): unknown }).toJS());
}

function inputDocs(): unknown[] {
  return docs(readFileSync(mixed, 'utf8')).filter((d) => d !== null);
}

type Obj = Record<string, any>;

function checkMixedOutput(t: Test, r: Result) {
  t.equal(r.code, 0, 'exit 0');
  t.same(r.stderr.trim().split('\n'), [
    'service/web: unchanged (no pod template)',
    'deployment/web: injected',
    'pod/node-agent: skipped (host-network: spec.hostNetwork is true)',
    'configmap/settings: unchanged (no pod template)',
    'cronjob/nightly: injected',
  ]);
  const input = inputDocs() as Obj[];
  const output = docs(r.stdout) as Obj[];
  t.equal(output.length, 4, 'one output document per input document, empty ones dropped');
  t.same(output[0], input[0], 'the Service passes through');
  t.ok(r.stdout.startsWith("# The shop's web tier.\n"), 'comments of untouched documents survive');
  t.same(output[2], input[2], 'the skipped pod passes through unchanged');
  t.same(output[1].spec.selector, input[1].spec.selector, 'the selector is untouched');
  t.same(output[1].spec.template.metadata.labels, input[1].spec.template.metadata.labels, 'template labels are untouched');
  const template = output[1].spec.template as PodLike;
  t.same(template.spec!.initContainers!.map((c) => c.name), ['meshtap-init', 'meshtap-proxy']);
  t.same(podProblems(template), []);
  t.same(output[3].items[0], input[3].items[0], 'the ConfigMap list item passes through');
  const cron = output[3].items[1].spec.jobTemplate.spec.template as PodLike;
  t.same(cron.spec!.initContainers!.map((c) => c.name), ['meshtap-init', 'meshtap-proxy']);
  t.same(podProblems(cron), []);
  t.ok(r.stdout.split('\n').filter((l) => l === '---').length === 3, 'documents are ---separated');
}

void t.test('npx meshtap inject -f FILE', async (t) => {
  checkMixedOutput(t, await spawnMeshtap(['inject', '-f', 'test/fixtures/inject/cli/mixed.yaml']));
});

void t.test('npx meshtap inject -f - (stdin) gives the same output', async (t) => {
  const [viaStdin, viaFile] = await Promise.all([
    spawnMeshtap(['inject', '-f', '-'], readFileSync(mixed, 'utf8')),
    runInProcess(['-f', mixed]),
  ]);
  checkMixedOutput(t, viaStdin);
  t.equal(viaStdin.stdout, viaFile.stdout);
});

void t.test('npx: unparseable YAML names the document and exits 1; usage errors exit 2', async (t) => {
  const broken = await spawnMeshtap(['inject', '-f', 'test/fixtures/inject/cli/broken.yaml']);
  t.equal(broken.code, 1);
  t.match(broken.stderr, /INJ_ERR_PARSE: document 2 of the input is not valid YAML/);
  t.equal(broken.stdout, '', 'nothing half-written');
  const usage = await spawnMeshtap(['inject']);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /-f FILE or -f - \(stdin\) is required/);
});

void t.test('usage and flag errors', async (t) => {
  const help = await runInProcess(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /usage: meshtap inject -f FILE\|-/);
  for (const args of [
    ['-f', mixed, '--bogus'],
    ['-f', mixed, 'extra'],
    ['-f', mixed, '--native-sidecar=maybe'],
    ['-f', mixed, '--namespace-labels', 'novalue'],
    ['-f', mixed, '--collector-addr', 'nohostport'],
    ['-f', mixed, '--mtls-mode', 'off'],
  ]) {
    const r = await runInProcess(args);
    t.equal(r.code, 2, args.slice(2).join(' '));
    t.equal(r.stdout, '');
  }
  const missing = await runInProcess(['-f', join(fixtures, 'does-not-exist.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /INJ_ERR_READ: cannot read/);
});

void t.test('--namespace-labels decides for the namespace', async (t) => {
  const r = await runInProcess(['-f', mixed, '--namespace-labels', 'team=web']);
  t.equal(r.code, 0);
  t.match(r.stderr, /deployment\/web: skipped \(namespace-not-enabled: namespace "shop" has no meshtap.io\/inject=enabled label/);
  t.same(docs(r.stdout), inputDocs(), 'everything passes through unchanged');
  const optIn = await runInProcess(['-f', '-'], 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {meshtap.io/inject: "true"}\nspec:\n  containers: [{name: a, image: b}]\n');
  t.match(optIn.stderr, /pod\/p: injected/, 'the default treats the namespace as enabled');
});

void t.test('overrides reach the injected pod', async (t) => {
  const r = await runInProcess([
    '-f', mixed, '--image', 'registry.example.com/meshtap:dev', '--collector-addr', 'collector.obs:9400', '--native-sidecar=false', '--mtls-mode', 'strict',
  ]);
  t.equal(r.code, 0);
  const template = (docs(r.stdout)[1] as Obj).spec.template as PodLike;
  const proxy = template.spec!.containers![0];
  t.equal(proxy.name, 'meshtap-proxy');
  t.equal(proxy.image, 'registry.example.com/meshtap:dev');
  const env = Object.fromEntries((proxy.env as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]));
  t.equal(env.MESHTAP_COLLECTOR_ADDR, 'collector.obs:9400');
  t.equal(env.MESHTAP_MTLS_MODE, 'strict');
  t.same(template.spec!.initContainers!.map((c) => c.name), ['meshtap-init']);
});

void t.test('JSON in, JSON out; namespace default; kube-system', async (t) => {
  const r = await runInProcess(['-f', join(fixtures, 'single.json')]);
  t.equal(r.code, 0);
  t.equal(r.stderr, 'statefulset/db: injected\n');
  const out = JSON.parse(r.stdout) as Obj;
  t.equal(out.kind, 'StatefulSet');
  t.same(podProblems(out.spec.template), []);

  const list = await runInProcess(['-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'x-' }, spec: { containers: [{ name: 'a', image: 'b' }] } }] }));
  t.equal(list.stderr, 'pod/x-*: injected\n', 'List items are injected; generated names end in *');
  t.equal((JSON.parse(list.stdout) as Obj).items[0].spec.initContainers.length, 2);

  const sys = await runInProcess(['-f', '-', '-n', 'kube-system'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a, image: b}]\n');
  t.equal(sys.stderr, 'pod/p: skipped (system-namespace: namespace "kube-system" is a system namespace)\n');
  t.same(parse(sys.stdout), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'b' }] } });
});
