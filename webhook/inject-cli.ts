import { readFile } from 'node:fs/promises';
import { isDocument, parseAllDocuments, type Document } from 'yaml';
import { CLI_ERR_USAGE, parseCommandArgs, type CommandIO } from '../lib/cli.ts';
import { describeError, isMeshtapError } from '../lib/errors.ts';
import { INJECT_LABEL } from './annotations.ts';
import { INJ_ERR_CONFIG, INJ_ERR_PARSE, INJ_ERR_READ, MeshtapError } from './errors.ts';
import { resolveInjectorConfig, type InjectorConfig, type InjectorOptions } from './injector-config.ts';
import { describeObject, injectObject, type ObjectInjection } from './inject-workloads.ts';
import { formatSkipReasons } from './reasons.ts';

const USAGE = `usage: meshtap inject -f FILE|- [options]

Adds the meshtap init container and sidecar to the pods in Kubernetes YAML or JSON and writes
every document to stdout, in order (pipe it to "kubectl apply -f -"). Pods, Deployments,
StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs and CronJobs are injected
(List items too); other kinds and skipped pods pass through unchanged. One line per object
on stderr says what happened.

options:
  -f, --filename FILE|-        the input file, or - for stdin (required)
  -n, --namespace NS           namespace of objects that name none
  --namespace-labels K=V,...   the namespace's labels (default: ${INJECT_LABEL}=enabled)
  --image IMAGE                the meshtap image
  --collector-addr HOST:PORT   where sidecars send records
  --native-sidecar true|false  run the proxy as a native sidecar (default: true)
  --mtls-mode permissive|strict
  -h, --help                   show this help
`;

const OPTIONS = {
  filename: { type: 'string', short: 'f' },
  namespace: { type: 'string', short: 'n' },
  'namespace-labels': { type: 'string' },
  image: { type: 'string' },
  'collector-addr': { type: 'string' },
  'native-sidecar': { type: 'string' },
  'mtls-mode': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usageError(message: string): MeshtapError {
  return new MeshtapError(CLI_ERR_USAGE, `meshtap inject: ${message}`);
}

export function parseLabelList(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usageError(`--namespace-labels: "${item}" is not KEY=VALUE`);
    labels[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return labels;
}

function parseBoolFlag(name: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw usageError(`--${name} must be "true" or "false", got "${value}"`);
}

async function readInput(filename: string, stdin: NodeJS.ReadableStream): Promise<string> {
  try {
    if (filename !== '-') return await readFile(filename, 'utf8');
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    throw new MeshtapError(INJ_ERR_READ, `cannot read ${filename === '-' ? 'stdin' : filename}: ${(err as Error).message}`, { cause: err });
  }
}

interface Reporter {
  (injection: ObjectInjection): void;
}

function reporter(stderr: NodeJS.WritableStream): Reporter {
  return (r) => {
    const who = describeObject(r.object);
    if (r.outcome === 'not-a-workload') stderr.write(`${who}: unchanged (no pod template)\n`);
    else if (r.outcome === 'injected') stderr.write(`${who}: injected\n`);
    else stderr.write(`${who}: skipped (${formatSkipReasons(r.decision.reasons, r.decision.details)})\n`);
  };
}

interface Injector {
  (object: unknown): ObjectInjection;
}

/** JSON in, JSON out: one value, a single object or a List. */
function processJson(value: unknown, inject: Injector): string {
  if (isList(value)) {
    const items = value.items.map((item) => inject(item).object);
    return `${JSON.stringify({ ...value, items }, null, 2)}\n`;
  }
  return `${JSON.stringify(inject(value).object, null, 2)}\n`;
}

function isList(value: unknown): value is { kind: string; items: unknown[] } {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as { kind?: unknown }).kind === 'List' &&
    Array.isArray((value as { items?: unknown }).items)
  );
}

/**
 * Writes the injected pod back into the YAML document at its path, replacing only the
 * pod's `metadata` and `spec` nodes so comments elsewhere in the document survive.
 */
function writeBack(doc: Document, base: readonly (string | number)[], r: ObjectInjection): void {
  if (r.outcome !== 'injected') return;
  const pod = r.decision.pod;
  doc.setIn([...base, ...r.path, 'metadata'], doc.createNode(pod.metadata));
  doc.setIn([...base, ...r.path, 'spec'], doc.createNode(pod.spec));
}

function processYaml(text: string, inject: Injector): string {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) return '';
  docs.forEach((doc, i) => {
    const error = doc.errors[0];
    if (error) {
      throw new MeshtapError(INJ_ERR_PARSE, `document ${i + 1} of the input is not valid YAML: ${error.message}`, { cause: error });
    }
  });
  const out: string[] = [];
  for (const doc of docs) {
    if (!isDocument(doc)) continue;
    const value: unknown = doc.toJS({ maxAliasCount: 1000 });
    // An empty document (a stray `---`) carries nothing to apply.
    if (value === null || value === undefined) continue;
    if (isList(value)) {
      value.items.forEach((item, i) => writeBack(doc, ['items', i], inject(item)));
    } else {
      writeBack(doc, [], inject(value));
    }
    out.push(doc.toString({ lineWidth: 0 }));
  }
  return out.map((d) => (d.startsWith('---') ? d : `---\n${d}`)).join('').replace(/^---\n/, '');
}

function looksLikeJson(text: string): unknown {
  const t = text.trimStart();
  if (!t.startsWith('{') && !t.startsWith('[')) return undefined;
  try {
    return { value: JSON.parse(t) as unknown };
  } catch {
    return undefined;
  }
}

function buildOptions(values: Record<string, string | boolean | undefined>): InjectorOptions {
  const options: InjectorOptions = {};
  if (typeof values.image === 'string') options.image = values.image;
  if (typeof values['collector-addr'] === 'string') options.collectorAddr = values['collector-addr'];
  if (typeof values['native-sidecar'] === 'string') options.nativeSidecar = parseBoolFlag('native-sidecar', values['native-sidecar']);
  if (typeof values['mtls-mode'] === 'string') options.mtlsMode = values['mtls-mode'] as InjectorOptions['mtlsMode'];
  return options;
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  let config: InjectorConfig;
  let filename: string;
  let namespace: string | undefined;
  let namespaceLabels: Record<string, string>;
  try {
    const { values, positionals } = parseCommandArgs('inject', argv, OPTIONS, true);
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}" (give the input with -f FILE or -f -)`);
    if (values.filename === undefined || values.filename === '') throw usageError('-f FILE or -f - (stdin) is required');
    filename = values.filename;
    namespace = values.namespace === '' ? undefined : values.namespace;
    namespaceLabels =
      values['namespace-labels'] === undefined ? { [INJECT_LABEL]: 'enabled' } : parseLabelList(values['namespace-labels']);
    try {
      config = resolveInjectorConfig(buildOptions(values));
    } catch (err) {
      if (isMeshtapError(err, INJ_ERR_CONFIG)) throw usageError(err.message);
      throw err;
    }
  } catch (err) {
    const hint = isMeshtapError(err, CLI_ERR_USAGE) ? 'Run "meshtap inject --help" for usage.\n' : '';
    io.stderr.write(`${describeError(err)}\n${hint}`);
    return isMeshtapError(err, CLI_ERR_USAGE) ? 2 : 1;
  }

  try {
    const text = await readInput(filename, io.stdin);
    const report = reporter(io.stderr);
    const inject: Injector = (object) => {
      const r = injectObject(object, { namespace, namespaceLabels, config });
      if (object !== null && typeof object === 'object') report(r);
      return r;
    };
    const json = looksLikeJson(text) as { value: unknown } | undefined;
    const output = json ? processJson(json.value, inject) : processYaml(text, inject);
    io.stdout.write(output);
    return 0;
  } catch (err) {
    io.stderr.write(`meshtap inject: ${describeError(err)}\n`);
    return 1;
  }
}
