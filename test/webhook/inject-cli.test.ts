import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  t.match(broken.stderr, /INJ_ERR_PARSE: document 2 of test\/fixtures\/inject\/cli\/broken.yaml is not valid YAML/);
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
    ['-f', mixed, '-n', 'Bad_NS'],
    ['-f', mixed, '-n', ''],
    ['-f', mixed, '-n', 'x'.repeat(64)],
  ]) {
    const r = await runInProcess(args);
    t.equal(r.code, 2, args.slice(2).join(' '));
    t.equal(r.stdout, '');
  }
  t.match((await runInProcess(['-f', mixed, '-n', 'Bad_NS'])).stderr, /--namespace: "Bad_NS" is not a namespace name/);
  const hint = 'Run "meshtap inject --help" for its options.\n';
  // Each flag the injector's options check is named as typed, with what it got and what it takes.
  for (const [args, said] of [
    [['--mtls-mode', 'off'], '--mtls-mode must be one of permissive, strict; got "off"'],
    [['--native-sidecar=maybe'], '--native-sidecar must be true or false; got "maybe"'],
    [['--image', 'my image'], '--image must be an image reference without spaces; got "my image"'],
    [['--collector-addr', 'nohostport'], '--collector-addr must be "host:port" (a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1-65535): the ":port" is missing; got "nohostport"'],
    [['--mtls-mode', 'off', '--image', 'a b'], '--image must be an image reference without spaces; got "a b"; --mtls-mode must be one of permissive, strict; got "off"'],
    // A flag given empty needs a value, as every command's flags.
    [['--mtls-mode', ''], '--mtls-mode needs a value (one of permissive, strict), got ""'],
    [['--image', ' '], '--image needs a value (an image reference without spaces), got " "'],
    [['--native-sidecar', ''], '--native-sidecar needs a value (true or false), got ""'],
    [['--collector-addr', ''], '--collector-addr needs a value ("host:port" (a DNS name, an IPv4 address or a bracketed IPv6 address, and a port 1-65535)), got ""'],
  ] as const) {
    const r = await runInProcess(['-f', mixed, ...args]);
    t.equal(r.code, 2, args.join(' '));
    t.equal(r.stderr, `meshtap inject: CLI_ERR_USAGE: ${said}\n${hint}`, args.join(' '));
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

void t.test('a Namespace in the input decides for its namespace, as the webhook would find it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-inject-ns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const namespaces = join(dir, 'namespaces.yaml');
  writeFileSync(
    namespaces,
    [
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: legacy\n',
      'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: shop\n    labels: {meshtap.io/inject: enabled}\n    annotations: {meshtap.io/mtls-mode: strict}\n',
    ].join('---\n'),
  );
  const deployment = (name: string, ns?: string) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n${ns ? `  namespace: ${ns}\n` : ''}spec:\n  selector: {matchLabels: {app: ${name}}}\n  template:\n    metadata: {labels: {app: ${name}}}\n    spec:\n      containers: [{name: app, image: app}]\n`;
  const workloads = join(dir, 'workloads.yaml');
  writeFileSync(workloads, [deployment('legacy-client', 'legacy'), deployment('web', 'shop'), deployment('other', 'elsewhere'), deployment('unnamed')].join('---\n'));
  const r = await runInProcess(['-f', namespaces, '-f', workloads, '-n', 'legacy']);
  t.equal(r.code, 0);
  t.match(r.stderr, /deployment\/legacy-client: skipped \(namespace-not-enabled: namespace "legacy" has no meshtap.io\/inject=enabled label/, 'the input\'s Namespace has no label: skipped, not injected by the default');
  t.match(r.stderr, /deployment\/web: injected/);
  t.match(r.stderr, /deployment\/other: injected/, 'a namespace the input does not define: the default labels');
  t.match(r.stderr, /deployment\/unnamed: skipped \(namespace-not-enabled/, '-n names the namespace of an object that names none, and the input defines it');
  const web = (docs(r.stdout).find((d) => (d as Obj).metadata && ((d as Obj).metadata as Obj).name === 'web') as Obj).spec as Obj;
  const spec = (web.template as PodLike).spec!;
  const proxy = [...(spec.initContainers ?? []), ...(spec.containers ?? [])].find((c) => c.name === 'meshtap-proxy')!;
  const env = Object.fromEntries((proxy.env as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]));
  t.equal(env.MESHTAP_MTLS_MODE, 'strict', 'and its annotations count too');
});

void t.test('YAML 1.1 tags (!!binary, !!set) are read as the JSON they stand for; no memory of the process reaches the output', async (t) => {
  const r = await runInProcess(['-f', '-'], 'kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b, args: [!!binary AAAA, !!set {x}]}]}\n');
  t.equal(r.code, 0);
  t.match(r.stderr, /pod\/p: injected/);
  t.ok(r.stdout.length < 20_000, `the output is the pod, not 64 KiB of a buffer pool (${r.stdout.length} bytes)`);
  t.notMatch(r.stdout, /!!binary/);
  const pod = docs(r.stdout)[0] as PodLike;
  const app = pod.spec!.containers!.find((c) => c.name === 'a')!;
  t.same(app.args, ['AAAA', { x: null }], 'as kubectl would send them: the text, the mapping');
});

void t.test('YAML is read and written as kubectl reads it (YAML 1.1): strings that look like booleans or numbers stay strings', async (t) => {
  const input = [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata: {name: web, labels: {enabled: "yes"}}',
    'spec:',
    '  template:',
    '    metadata: {labels: {tier: "yes", legacy: "on"}}',
    '    spec:',
    '      containers:',
    '      - name: app',
    '        image: x',
    '        args: ["--verbose", "off"]',
    '        env: [{name: A, value: "yes"}, {name: B, value: "off"}, {name: D, value: "1_000"}, {name: E, value: "1:20"}, {name: F, value: "NO"}, {name: G, value: "2001-12-14"}, {name: H, value: "y"}]',
    '',
  ].join('\n');
  const r = await runInProcess(['-f', '-'], input);
  t.equal(r.code, 0);
  t.match(r.stderr, /deployment\/web: injected/);
  // As a YAML 1.1 reader (kubectl's) sees the output, every default tag included.
  const [doc] = parseAllDocuments(r.stdout, { version: '1.1' });
  const out = doc.toJS() as Obj;
  const pod = out.spec.template as Obj;
  t.same(pod.metadata.labels, { tier: 'yes', legacy: 'on' });
  const app = pod.spec.containers.find((c: Obj) => c.name === 'app');
  t.same(app.args, ['--verbose', 'off']);
  t.same(
    app.env.map((e: Obj) => e.value),
    ['yes', 'off', '1_000', '1:20', 'NO', '2001-12-14', 'y'],
  );
  const sidecar = [...pod.spec.initContainers, ...pod.spec.containers].find((c: Obj) => c.name === 'meshtap-proxy');
  const tls = sidecar.env.find((e: Obj) => e.name === 'MESHTAP_COLLECTOR_TLS');
  t.equal(tls.value, 'on', 'the sidecar\'s own setting is a string for kubectl too');
  t.equal(out.metadata.labels.enabled, 'yes', 'an untouched part keeps its quotes');

  const unquoted = await runInProcess(['-f', '-'], 'kind: Pod\nmetadata: {name: hn}\nspec:\n  hostNetwork: yes\n  containers: [{name: a, image: b}]\n');
  t.match(unquoted.stderr, /pod\/hn: skipped \(host-network/, 'hostNetwork: yes is true, as kubectl reads it');
  const base60 = await runInProcess(['-f', '-'], 'kind: Pod\nmetadata: {name: t}\nspec: {containers: [{name: a, image: b, args: [1:20, 2001-12-14]}]}\n');
  const args = ((docs(base60.stdout)[0] as PodLike).spec!.containers!.find((c) => c.name === 'a') as Obj).args;
  t.same(args, ['1:20', '2001-12-14'], 'base-60 numbers and dates stay text, as kubectl reads them');
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

const podJson = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'a', image: 'b' }] } });

function tempFiles(t: Test, files: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-inject-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return Object.fromEntries(Object.entries(files).map(([name, text]) => {
    writeFileSync(join(dir, name), text);
    return [name, join(dir, name)];
  }));
}

const initNames = (pod: Obj) => (pod.spec.initContainers as Obj[] | undefined)?.map((c) => c.name);

void t.test('npx: a top-level JSON array or YAML sequence is injected item by item and stays a sequence', async (t) => {
  const files = tempFiles(t, {
    'arr.json': JSON.stringify([podJson('a'), 42, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }]),
    'seq.yaml': '# pods\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: seq}\n  spec:\n    containers: [{name: a, image: b}]\n',
  });
  const [json, yaml] = await Promise.all([spawnMeshtap(['inject', '-f', files['arr.json']]), spawnMeshtap(['inject', '-f', files['seq.yaml']])]);
  t.equal(json.code, 0);
  t.same(json.stderr.trim().split('\n'), [
    'pod/a: injected',
    'document 1 at [1]: unchanged (not a Kubernetes object: a number)',
    'configmap/c: unchanged (no pod template)',
  ]);
  const out = JSON.parse(json.stdout) as Obj[];
  t.ok(Array.isArray(out) && out.length === 3, 'still a JSON array of three');
  t.same(initNames(out[0]), ['meshtap-init', 'meshtap-proxy']);
  t.same(podProblems(out[0] as PodLike), []);
  t.same(out.slice(1), [42, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }], 'the rest passes through');

  t.equal(yaml.code, 0);
  t.equal(yaml.stderr, 'pod/seq: injected\n');
  t.ok(yaml.stdout.startsWith('# pods\n'), 'comments survive');
  const seq = parse(yaml.stdout) as Obj[];
  t.ok(Array.isArray(seq) && seq.length === 1, 'still a YAML sequence');
  t.same(initNames(seq[0]), ['meshtap-init', 'meshtap-proxy']);
});

void t.test('npx: the items of any *List kind (PodList, DeploymentList) are injected', async (t) => {
  const podList = 'apiVersion: v1\nkind: PodList\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n  spec:\n    containers: [{name: a, image: b}]\n';
  const deploymentList = JSON.stringify({
    apiVersion: 'apps/v1',
    kind: 'DeploymentList',
    items: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: { template: { spec: { containers: [{ name: 'a', image: 'b' }] } } } }],
  });
  const [yaml, json] = await Promise.all([spawnMeshtap(['inject', '-f', '-'], podList), spawnMeshtap(['inject', '-f', '-'], deploymentList)]);
  t.equal(yaml.code, 0);
  t.equal(yaml.stderr, 'pod/p: injected\n');
  const list = parse(yaml.stdout) as Obj;
  t.equal(list.kind, 'PodList');
  t.same(initNames(list.items[0]), ['meshtap-init', 'meshtap-proxy']);
  t.equal(json.code, 0);
  t.equal(json.stderr, 'deployment/d: injected\n');
  t.same(initNames((JSON.parse(json.stdout) as Obj).items[0].spec.template), ['meshtap-init', 'meshtap-proxy']);
  // A kind that merely ends in List without items is an ordinary object.
  const notAList = await runInProcess(['-f', '-'], 'apiVersion: v1\nkind: List\nmetadata: {name: l}\n');
  t.equal(notAList.stderr, 'list/l: unchanged (no pod template)\n');
});

void t.test('npx: empty input and scalar documents are reported, exit 0 and pass through', async (t) => {
  const [devNull, emptyStdin, scalars] = await Promise.all([
    spawnMeshtap(['inject', '-f', '/dev/null']),
    spawnMeshtap(['inject', '-f', '-'], ''),
    spawnMeshtap(['inject', '-f', '-'], '42\n---\n"just a string"\n---\n' + 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n'),
  ]);
  t.same([devNull.code, devNull.stdout, devNull.stderr], [0, '', 'no Kubernetes objects in /dev/null: nothing to inject\n']);
  t.same([emptyStdin.code, emptyStdin.stdout, emptyStdin.stderr], [0, '', 'no Kubernetes objects in stdin: nothing to inject\n']);
  t.equal(scalars.code, 0, 'unchanged documents are not errors');
  t.same(scalars.stderr.trim().split('\n'), [
    'document 1: unchanged (not a Kubernetes object: a number)',
    'document 2: unchanged (not a Kubernetes object: a string)',
    'configmap/c: unchanged (no pod template)',
  ]);
  t.same(docs(scalars.stdout), [42, 'just a string', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }]);
  const onlySeparators = await runInProcess(['-f', '-'], '---\n# nothing\n---\n');
  t.equal(onlySeparators.stderr, 'no Kubernetes objects in stdin: nothing to inject\n');
});

void t.test('npx: several -f are processed in order into one stream', async (t) => {
  const files = tempFiles(t, { 'arr.json': JSON.stringify([podJson('a')]), 'empty.yaml': '' });
  const r = await spawnMeshtap(['inject', '-f', files['arr.json'], '-f', mixed, '-f', files['empty.yaml'], '-f', '-'], JSON.stringify(podJson('z')));
  t.equal(r.code, 0);
  t.same(r.stderr.trim().split('\n'), [
    'pod/a: injected',
    'service/web: unchanged (no pod template)',
    'deployment/web: injected',
    'pod/node-agent: skipped (host-network: spec.hostNetwork is true)',
    'configmap/settings: unchanged (no pod template)',
    'cronjob/nightly: injected',
    `no Kubernetes objects in ${files['empty.yaml']}: nothing to inject`,
    'pod/z: injected',
  ]);
  const out = docs(r.stdout) as Obj[];
  t.equal(out.length, 6, 'the array, the four documents of mixed.yaml, the stdin pod');
  t.ok(Array.isArray(out[0]) && initNames((out[0] as Obj[])[0])?.length === 2, 'the JSON array first');
  t.same(out.slice(1, 5).map((d) => d.kind), ['Service', 'Deployment', 'Pod', 'List']);
  t.equal(out[5].metadata.name, 'z');
  t.same(podProblems(out[5] as PodLike), []);
  t.match(r.stdout, /^\[\n/, 'a JSON input stays JSON text in the stream');
  t.match(r.stdout, /\n---\n# The shop's web tier\.\n/, 'YAML comments survive');

  const twice = await runInProcess(['-f', '-', '-f', '-']);
  t.equal(twice.code, 2);
  t.match(twice.stderr, /-f - \(stdin\) can be given only once/);
  const badSecond = await runInProcess(['-f', mixed, '-f', join(fixtures, 'broken.yaml')]);
  t.equal(badSecond.code, 1);
  t.match(badSecond.stderr, /INJ_ERR_PARSE: document 2 of .*broken\.yaml is not valid YAML/, 'names the file when there are several');
  t.equal(badSecond.stdout, '', 'nothing half-written');
  t.notMatch(badSecond.stderr, /injected/, 'nothing is injected before every input parsed');
});

void t.test('npx: bad JSON is reported as JSON with its position; a cross-document alias is a parse error', async (t) => {
  const [two, cut, alias] = await Promise.all([
    spawnMeshtap(['inject', '-f', '-'], '{"a":1}{"b":2}'),
    spawnMeshtap(['inject', '-f', '-'], '{"a":'),
    spawnMeshtap(['inject', '-f', '-'], 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: &n c}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: *n}\n'),
  ]);
  t.equal(two.code, 1);
  t.equal(two.stderr, 'meshtap inject: INJ_ERR_PARSE: document 1 of stdin is not valid JSON: Unexpected non-whitespace character after JSON at line 1, column 8\n');
  t.equal(cut.code, 1);
  t.match(cut.stderr, /^meshtap inject: INJ_ERR_PARSE: document 1 of stdin is not valid JSON: Unexpected end of JSON input at line 1, column 6\n$/);
  t.equal(alias.code, 1, 'the same exit code as other parse errors');
  t.match(alias.stderr, /^meshtap inject: INJ_ERR_PARSE: document 2 of stdin is not valid YAML: Unresolved alias .*: n/);
  t.same([two.stdout, cut.stdout, alias.stdout], ['', '', '']);

  const inStream = await runInProcess(['-f', '-'], 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n{"kind": "Pod",\n "metadata": {"name": "p"}}}\n');
  t.equal(inStream.code, 1);
  t.match(inStream.stderr, /document 2 of stdin is not valid JSON: .* at line 6, column 28/, 'the position is in the whole input');
  // V8 gives no position for an unexpected token: where the YAML parser stopped, the same character.
  const token = await runInProcess(['-f', '-'], '{"kind": "Pod", "metadata": {"name": "x"},\n "spec": {"containers": [}\n}');
  t.match(token.stderr, /document 1 of stdin is not valid JSON: Unexpected token '\}'[\s\S]* at line 2, column 26\n$/);
  const flowYaml = await runInProcess(['-f', '-'], '{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n');
  t.equal(flowYaml.code, 0, 'YAML flow style that is not JSON is still YAML');
  t.equal(flowYaml.stderr, 'configmap/c: unchanged (no pod template)\n');
});

void t.test('npx: --collector-addr must be a real host:port', async (t) => {
  const results = await Promise.all(
    ['h:99999', 'h:0', 'h:00080', 'a..b:80'].map((addr) => spawnMeshtap(['inject', '-f', '/dev/null', '--collector-addr', addr])),
  );
  for (const [i, addr] of ['h:99999', 'h:0', 'h:00080', 'a..b:80'].entries()) {
    t.equal(results[i].code, 2, addr);
    t.match(results[i].stderr, `--collector-addr must be "host:port"`);
    t.match(results[i].stderr, `; got "${addr}"\n`);
    t.equal(results[i].stdout, '');
  }
  for (const addr of ['[::1]:9400', '10.0.0.1:1', 'collector.obs.svc:65535']) {
    const r = await runInProcess(['-f', '/dev/null', '--collector-addr', addr]);
    t.equal(r.code, 0, addr);
  }
});

void t.test('--config takes the webhook\'s injector options file; a flag wins over it; its problems name the key and the file', async (t) => {
  const files = tempFiles(t, {
    'cfg.yaml': 'collectorTls: off\nproxyUid: 1500\nimage: example/meshtap:9\n',
    'typo.yaml': 'collectorAdr: x:1\n',
    'bad.yaml': 'proxyUid: -3\n',
    'list.yaml': '- a\n',
  });
  const pod = 'kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: b}]}\n';
  const sidecarOf = (stdout: string): Obj => {
    const out = docs(stdout)[0] as Obj;
    return [...out.spec.initContainers, ...out.spec.containers].find((c: Obj) => c.name === 'meshtap-proxy');
  };
  const r = await runInProcess(['-f', '-', '--config', files['cfg.yaml']], pod);
  t.equal(r.code, 0);
  const sidecar = sidecarOf(r.stdout);
  t.equal(sidecar.image, 'example/meshtap:9');
  t.equal(sidecar.env.find((e: Obj) => e.name === 'MESHTAP_COLLECTOR_TLS').value, 'off', 'read as meshtap\'s own config: off is the word');
  t.equal(sidecar.securityContext.runAsUser, 1500);
  const flag = await runInProcess(['-f', '-', '--config', files['cfg.yaml'], '--image', 'other/x:1'], pod);
  t.equal(sidecarOf(flag.stdout).image, 'other/x:1', 'the flag wins');
  for (const [name, message] of [
    ['typo.yaml', /collectorAdr \(--config .*typo\.yaml\) is not an option/],
    ['bad.yaml', /proxyUid \(--config .*bad\.yaml\) must be a user id/],
    ['list.yaml', /--config .*list\.yaml must be a YAML mapping of injector options/],
    ['missing.yaml', /cannot read --config .*missing\.yaml/],
  ] as const) {
    const bad = await runInProcess(['-f', '-', '--config', name === 'missing.yaml' ? join(dirname(files['cfg.yaml']), name) : files[name]], pod);
    t.equal(bad.code, 2, `${name}: a usage error`);
    t.match(bad.stderr, message);
    t.equal(bad.stdout, '');
  }
});
