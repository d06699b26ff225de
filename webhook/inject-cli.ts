import { readFile } from 'node:fs/promises';
import { isDocument, parseAllDocuments, type Document } from 'yaml';
import { KUBERNETES_YAML_OPTIONS, kubernetesYaml } from '../lib/yaml-json.ts';
import { CLI_ERR_USAGE, flagValue, parseCommandArgs, reportFailure, type CommandIO } from '../lib/cli.ts';
import { isMeshtapError } from '../lib/errors.ts';
import { isRecord } from '../lib/validate.ts';
import { INJECT_LABEL } from './annotations.ts';
import { INJ_ERR_CONFIG, INJ_ERR_PARSE, INJ_ERR_READ, MeshtapError } from './errors.ts';
import { optionTakes, resolveInjectorConfig, type InjectorConfig, type InjectorOptions } from './injector-config.ts';
import { readInjectorOptionsFile } from './injector-config-file.ts';
import { describeObject, injectObject, type ObjectInjection } from './inject-workloads.ts';
import { formatSkipReasons } from './reasons.ts';

const USAGE = `usage: meshtap inject -f FILE|- [-f FILE ...] [options]

Adds the meshtap init container and sidecar to the pods in Kubernetes YAML or JSON and writes
every document to stdout, in order (pipe it to "kubectl apply -f -"). Pods, Deployments,
StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs and CronJobs are injected,
and so are the items of a List (kind List, PodList, DeploymentList, ...) and of a top-level
JSON array or YAML sequence, which keep their shape. Other kinds, documents that are not
objects (a number, a string) and skipped pods pass through unchanged. One line per object on
stderr says what happened; an input without any object says so.

Several -f are read in order and written as one stream, documents separated by "---"; a JSON
input stays JSON text inside it (JSON is YAML). A single JSON input gives plain JSON.

Exit status: 0 when every input was read and parsed, whether or not anything was injected
(unchanged and skipped documents, and empty input, are not errors); 1 when an input cannot be
read or is not valid YAML/JSON (nothing is written to stdout); 2 for usage errors.

options:
  -f, --filename FILE|-        an input file, or - for stdin (required; repeat for several)
  -n, --namespace NS           namespace of objects that name none
  --namespace-labels K=V,...   the labels of namespaces the input does not define (default:
                               ${INJECT_LABEL}=enabled); a Namespace in the input gives its own
  --image IMAGE                the meshtap image
  --collector-addr HOST:PORT   where sidecars send records (a DNS name, IPv4 or [IPv6], port 1-65535)
  --native-sidecar true|false  run the proxy as a native sidecar (default: true)
  --mtls-mode permissive|strict
  --config FILE                the webhook's injector options (its --config file: image, addresses,
                               ports, proxy UID, resources, ...); the flags above win over it;
                               every key: webhook/README.md, "Injector options"
  -h, --help                   show this help
`;

const OPTIONS = {
  filename: { type: 'string', short: 'f', multiple: true },
  namespace: { type: 'string', short: 'n' },
  'namespace-labels': { type: 'string' },
  image: { type: 'string' },
  'collector-addr': { type: 'string' },
  'native-sidecar': { type: 'string' },
  'mtls-mode': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usageError(message: string): MeshtapError {
  return new MeshtapError(CLI_ERR_USAGE, message);
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
  throw usageError(`${name} must be true or false; got ${JSON.stringify(value)}`);
}

/** One `-f`: where it came from (a path, or "stdin") and its text. */
interface Input {
  name: string;
  text: string;
}

async function readInput(filename: string, stdin: NodeJS.ReadableStream): Promise<Input> {
  const name = filename === '-' ? 'stdin' : filename;
  try {
    if (filename !== '-') return { name, text: await readFile(filename, 'utf8') };
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return { name, text: Buffer.concat(chunks).toString('utf8') };
  } catch (err) {
    throw new MeshtapError(INJ_ERR_READ, `cannot read ${name}: ${(err as Error).message}`, { cause: err });
  }
}

type Path = readonly (string | number)[];

/** A parsed input: one JSON value, or YAML documents (kept as `Document`s so comments survive). */
type ParsedInput =
  | { format: 'json'; value: unknown }
  | { format: 'yaml'; docs: Array<{ number: number; doc: Document; value: unknown }> };

/** "document 2 of b.yaml" (or "of stdin"): where a parse error is; "the input" only when no name is known. */
function documentName(number: number, input: string | undefined): string {
  return `document ${number} of ${input ?? 'the input'}`;
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

/**
 * V8's JSON.parse message with its position made absolute in the whole input
 * (`start` is where the document begins) as "line L, column C". Some of V8's messages carry no
 * position ("Unexpected token '}', …"): then where the YAML parser stopped (`fallback`, an
 * offset in the input), which for JSON text is the same character.
 */
function jsonErrorMessage(text: string, start: number, end: number, fallback: number | undefined): string | undefined {
  try {
    JSON.parse(text.slice(start, end));
    return undefined;
  } catch (err) {
    const message = (err as Error).message;
    const m = / at position (\d+)(?: \(line \d+ column \d+\))?/.exec(message);
    if (m) return `${message.slice(0, m.index)} at ${lineColumn(text, start + Number(m[1]))}`;
    const at = fallback !== undefined && fallback >= start && fallback <= end ? fallback : start + text.slice(start, end).trimEnd().length;
    return `${message} at ${lineColumn(text, at)}`;
  }
}

function looksLikeJson(text: string): boolean {
  const t = text.trimStart();
  return t.startsWith('{') || t.startsWith('[');
}

/**
 * Parses one input. A whole input that is one JSON value stays JSON; anything else is a YAML
 * stream (a JSON document inside it included). Throws `INJ_ERR_PARSE` naming the document:
 * as JSON when it looks like JSON (starts with `{` or `[`), as YAML otherwise.
 */
export function parseInput(text: string, inputName?: string): ParsedInput {
  if (looksLikeJson(text)) {
    try {
      return { format: 'json', value: JSON.parse(text) as unknown };
    } catch {
      // Not one JSON value: maybe a YAML stream, or YAML flow style; the YAML parser decides.
    }
  }
  const docs = parseAllDocuments(text, { prettyErrors: true, ...KUBERNETES_YAML_OPTIONS });
  if (!Array.isArray(docs)) return { format: 'yaml', docs: [] };
  docs.forEach((doc, i) => {
    const error = doc.errors[0];
    if (!error) return;
    const start = doc.contents?.range[0] ?? doc.range[0];
    const end = i + 1 < docs.length ? docs[i + 1].range[0] : text.length;
    const where = documentName(i + 1, inputName);
    if (looksLikeJson(text.slice(start, end))) {
      const json = jsonErrorMessage(text, start, end, error.pos?.[0]);
      if (json !== undefined) throw new MeshtapError(INJ_ERR_PARSE, `${where} is not valid JSON: ${json}`, { cause: error });
    }
    throw new MeshtapError(INJ_ERR_PARSE, `${where} is not valid YAML: ${error.message}`, { cause: error });
  });
  const out: Array<{ number: number; doc: Document; value: unknown }> = [];
  docs.forEach((doc, i) => {
    if (!isDocument(doc)) return;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      // An alias whose anchor is in another document (or too many aliases): a parse error too.
      const why = /Unresolved alias/.test((err as Error).message) ? ' (an anchor and its aliases must be in the same document)' : '';
      throw new MeshtapError(INJ_ERR_PARSE, `${documentName(i + 1, inputName)} is not valid YAML: ${(err as Error).message}${why}`, { cause: err });
    }
    // An empty document (a stray `---`) carries nothing to apply.
    if (value !== null && value !== undefined) out.push({ number: i + 1, doc, value });
  });
  return { format: 'yaml', docs: out };
}

/** `kind: List`, `PodList`, `DeploymentList`, ...: any kind ending in "List" with an `items` array. */
export function isList(value: unknown): value is { kind: string; items: unknown[] } {
  return isRecord(value) && typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items);
}

/** One place in a document that should hold a Kubernetes object. */
interface Slot {
  value: unknown;
  /** From the document's root: [] for the document itself, ['items', 2], [0], ... */
  path: Path;
}

/**
 * The objects a document holds: the items of a List (Lists in Lists too) and of a top-level
 * sequence, otherwise the document itself.
 */
export function slotsOf(value: unknown): Slot[] {
  const items = (list: unknown[], base: Path): Slot[] =>
    list.flatMap((item, i) => (isList(item) ? items(item.items, [...base, i, 'items']) : [{ value: item, path: [...base, i] }]));
  if (Array.isArray(value)) return items(value, []);
  if (isList(value)) return items(value.items, ['items']);
  return [{ value, path: [] }];
}

function formatPath(path: Path): string {
  return path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('').replace(/^\./, '');
}

function describeNonObject(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a sequence';
  return `a ${typeof value}`;
}

interface Injector {
  (object: unknown): ObjectInjection;
}

/** A namespace's labels and annotations, as the webhook would read them from the cluster. */
export interface NamespaceFacts {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

function stringMap(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/**
 * The Namespace objects among the inputs, by name: applied together with the workloads, they are
 * what the webhook would find, so their labels decide injection, not `--namespace-labels`. Pure.
 */
export function namespacesIn(inputs: readonly ParsedInput[]): Map<string, NamespaceFacts> {
  const found = new Map<string, NamespaceFacts>();
  const values = inputs.flatMap((p) => (p.format === 'json' ? [p.value] : p.docs.map((d) => d.value)));
  for (const value of values) {
    for (const { value: object } of slotsOf(value)) {
      if (!isRecord(object) || object.kind !== 'Namespace' || !isRecord(object.metadata)) continue;
      const name = object.metadata.name;
      if (typeof name !== 'string' || name === '') continue;
      found.set(name, { labels: stringMap(object.metadata.labels), annotations: stringMap(object.metadata.annotations) });
    }
  }
  return found;
}

/** What happened to one slot, for the stderr line. */
type SlotReport = { slot: string; value: unknown } | ObjectInjection;

function reportLine(r: SlotReport): string {
  if ('slot' in r) return `${r.slot}: unchanged (not a Kubernetes object: ${describeNonObject(r.value)})`;
  const who = describeObject(r.object);
  if (r.outcome === 'not-a-workload') return `${who}: unchanged (no pod template)`;
  if (r.outcome === 'injected') return `${who}: injected`;
  return `${who}: skipped (${formatSkipReasons(r.decision.reasons, r.decision.details)})`;
}

function setIn(root: unknown, path: Path, value: unknown): void {
  let parent = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  parent[path[path.length - 1]] = value;
}

/**
 * Writes the injected pod back into the YAML document at its path, replacing only the
 * pod's `metadata` and `spec` nodes so comments elsewhere in the document survive.
 */
function writeBack(doc: Document, base: Path, r: ObjectInjection): void {
  if (r.outcome !== 'injected') return;
  const pod = r.decision.pod;
  doc.setIn([...base, ...r.path, 'metadata'], doc.createNode(pod.metadata));
  doc.setIn([...base, ...r.path, 'spec'], doc.createNode(pod.spec));
}

/** The injected input: its output documents (text, in order) and one report per slot. */
export interface InjectedInput {
  documents: string[];
  reports: SlotReport[];
}

/**
 * Injects every object of a parsed input. Pure: `inject` decides for one object. JSON stays
 * one JSON text; YAML documents keep their comments.
 */
export function injectInput(parsed: ParsedInput, inject: Injector, inputName?: string): InjectedInput {
  const reports: SlotReport[] = [];
  const each = (number: number, value: unknown, apply: (slot: Slot, r: ObjectInjection) => void): void => {
    for (const slot of slotsOf(value)) {
      if (!isRecord(slot.value)) {
        const at = slot.path.length > 0 ? ` at ${formatPath(slot.path)}` : '';
        const where = inputName === undefined ? `document ${number}${at}` : `document ${number}${at} of ${inputName}`;
        reports.push({ slot: where, value: slot.value });
        continue;
      }
      const r = inject(slot.value);
      reports.push(r);
      apply(slot, r);
    }
  };
  if (parsed.format === 'json') {
    let out = parsed.value;
    let copied = false;
    each(1, parsed.value, (slot, r) => {
      if (r.outcome !== 'injected') return;
      if (slot.path.length === 0) {
        out = r.object;
        return;
      }
      if (!copied) {
        out = structuredClone(parsed.value);
        copied = true;
      }
      setIn(out, slot.path, r.object);
    });
    return { documents: [`${JSON.stringify(out, null, 2)}\n`], reports };
  }
  const documents = parsed.docs.map(({ number, doc, value }) => {
    each(number, value, (slot, r) => writeBack(doc, slot.path, r));
    return kubernetesYaml(doc);
  });
  return { documents, reports };
}

/** Documents from every input as one stream: `---` between documents, none before the first. */
export function joinDocuments(documents: readonly string[]): string {
  return documents
    .map((d) => (d.startsWith('---') ? d : `---\n${d}`))
    .join('')
    .replace(/^---\n/, '');
}

/** The flag behind each injector option the command sets, for error messages. */
const FLAG_OF = {
  image: '--image',
  collectorAddr: '--collector-addr',
  nativeSidecar: '--native-sidecar',
  mtlsMode: '--mtls-mode',
} as const satisfies Partial<Record<keyof InjectorOptions, string>>;

type FlagOption = keyof typeof FLAG_OF;

/**
 * The injector options the flags set. A flag given empty is a usage error ("needs a value");
 * the values themselves are checked by `resolveInjectorConfig`, which names the flag.
 */
function buildOptions(values: Record<string, string | boolean | string[] | undefined>): InjectorOptions {
  const given = (key: FlagOption): string | undefined => {
    const flag = FLAG_OF[key];
    const value = values[flag.slice(2)];
    return flagValue(flag, typeof value === 'string' ? value : undefined, optionTakes(key));
  };
  const options: InjectorOptions = {};
  const image = given('image');
  if (image !== undefined) options.image = image;
  const collectorAddr = given('collectorAddr');
  if (collectorAddr !== undefined) options.collectorAddr = collectorAddr;
  const nativeSidecar = given('nativeSidecar');
  if (nativeSidecar !== undefined) options.nativeSidecar = parseBoolFlag(FLAG_OF.nativeSidecar, nativeSidecar);
  // Checked by the schema, which names the flag when the value is not a mode.
  const mtlsMode = given('mtlsMode');
  if (mtlsMode !== undefined) options.mtlsMode = mtlsMode as InjectorOptions['mtlsMode'];
  return options;
}

/** The flag an injector option key came from, in `resolveInjectorConfig`'s messages. */
function flagOf(key: string): string {
  return Object.hasOwn(FLAG_OF, key) ? FLAG_OF[key as FlagOption] : key;
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  let config: InjectorConfig;
  let filenames: string[];
  let namespace: string | undefined;
  let namespaceLabels: Record<string, string>;
  try {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS, true);
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    if (positionals.length > 0) throw usageError(`unexpected argument "${positionals[0]}" (give the input with -f FILE or -f -)`);
    filenames = values.filename ?? [];
    if (filenames.length === 0) throw usageError('-f FILE or -f - (stdin) is required');
    if (filenames.includes('')) throw usageError('-f needs a file name, or - for stdin');
    if (filenames.filter((f) => f === '-').length > 1) throw usageError('-f - (stdin) can be given only once');
    namespace = values.namespace;
    if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
      throw usageError(`--namespace: ${JSON.stringify(namespace)} is not a namespace name (lower-case letters, digits and '-', 1-63 characters, a letter or digit at each end)`);
    }
    namespaceLabels =
      values['namespace-labels'] === undefined ? { [INJECT_LABEL]: 'enabled' } : parseLabelList(values['namespace-labels']);
    const flags = buildOptions(values);
    const configFile = flagValue('--config', values.config, 'a file');
    let fromFile: InjectorOptions = {};
    if (configFile !== undefined) {
      try {
        fromFile = await readInjectorOptionsFile(configFile);
      } catch (err) {
        throw usageError((err as Error).message);
      }
    }
    // A flag wins over the file; a problem is named by whichever gave the value.
    const keyName = (key: string): string => (Object.hasOwn(flags, key) ? flagOf(key) : `${key} (--config ${configFile})`);
    try {
      config = resolveInjectorConfig({ ...fromFile, ...flags }, { keyName });
    } catch (err) {
      if (isMeshtapError(err, INJ_ERR_CONFIG)) throw usageError(err.message);
      throw err;
    }
  } catch (err) {
    return reportFailure(io.stderr, 'inject', err);
  }

  try {
    // Every input is read and parsed before anything is injected: a bad one writes nothing.
    const several = filenames.length > 1;
    const parsed: Array<{ name: string; parsed: ParsedInput }> = [];
    for (const filename of filenames) {
      const input = await readInput(filename, io.stdin);
      parsed.push({ name: input.name, parsed: parseInput(input.text, input.name) });
    }
    const defined = namespacesIn(parsed.map((p) => p.parsed));
    const inject: Injector = (object) => {
      const own = isRecord(object) && isRecord(object.metadata) && typeof object.metadata.namespace === 'string' && object.metadata.namespace !== '' ? object.metadata.namespace : namespace;
      const facts = own === undefined ? undefined : defined.get(own);
      return injectObject(object, facts === undefined ? { namespace, namespaceLabels, config } : { namespace, namespaceLabels: facts.labels, namespaceAnnotations: facts.annotations, config });
    };
    const documents: string[] = [];
    const lines: string[] = [];
    for (const { name, parsed: p } of parsed) {
      const result = injectInput(p, inject, several ? name : undefined);
      documents.push(...result.documents);
      lines.push(...result.reports.map(reportLine));
      if (result.reports.length === 0) lines.push(`no Kubernetes objects in ${name}: nothing to inject`);
    }
    io.stderr.write(lines.map((l) => `${l}\n`).join(''));
    io.stdout.write(joinDocuments(documents));
    return 0;
  } catch (err) {
    return reportFailure(io.stderr, 'inject', err);
  }
}
