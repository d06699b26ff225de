/**
 * The AdmissionReview (`admission.k8s.io/v1`) side of the webhook, kept pure: parsing and
 * validating what the API server sends, deciding what to answer for one request given the
 * injector and the namespace's labels, and building the response document. The HTTPS shell
 * (`server.ts`) does the IO: reading the body, looking namespace labels up, logging, metrics.
 */
import type { Operation } from 'fast-json-patch';
import { MeshtapError } from '../lib/errors.ts';
import type { KubeObject } from '../lib/kube/kube-client.ts';
import { describeSkipReason, isSkipReason, type SkipReason } from './reasons.ts';
import {
  WH_ERR_BAD_API_VERSION,
  WH_ERR_BAD_JSON,
  WH_ERR_BAD_KIND,
  WH_ERR_BAD_REQUEST_FIELD,
  WH_ERR_EMPTY_BODY,
  WH_ERR_NO_OBJECT,
  WH_ERR_NO_REQUEST,
  WH_ERR_NO_UID,
} from './server-errors.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_KIND = 'AdmissionReview';

/** Label the opt-in contract is written in (namespace: `enabled`; pod: `true`/`false`). */
export const INJECT_LABEL = 'meshtap.io/inject';
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** A Kubernetes object as JSON; the injector owns the precise Pod shape. */
export type { KubeObject };

/** The validated fields of `AdmissionReview.request` the webhook uses. */
export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource: string;
  operation: AdmissionOperation;
  /** Empty for cluster-scoped objects. */
  namespace: string;
  /** Empty when the object is created with `metadata.generateName`. */
  name: string;
  object: KubeObject | undefined;
  dryRun: boolean;
}

const OPERATIONS: ReadonlySet<string> = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeJsonType(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * A value for a message: text and numbers as JSON, anything else by its type (never a whole
 * object, which could be the size of the body). Only for values that are present: an absent
 * field is "missing", not "got null".
 */
function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(bounded(v, 65));
  if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  return describeJsonType(v);
}

function badField(message: string): MeshtapError {
  return new MeshtapError(WH_ERR_BAD_REQUEST_FIELD, message);
}

function optionalString(obj: Record<string, unknown>, key: string, where: string): string {
  const v = obj[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw badField(`${where}.${key} must be a string, got ${describeJsonType(v)}`);
  return v;
}

function readGroupVersion<K extends 'kind' | 'resource'>(
  request: Record<string, unknown>,
  field: 'kind' | 'resource',
  nameKey: K,
): Record<'group' | 'version' | K, string> {
  const v = request[field];
  if (v === undefined) {
    throw badField(`request.${field} is missing: it must be an object like {"group":"","version":"v1","${nameKey}":"..."}`);
  }
  if (!isObject(v)) {
    throw badField(`request.${field} must be an object like {"group":"","version":"v1","${nameKey}":"..."}, got ${describeJsonType(v)}`);
  }
  const name = v[nameKey];
  if (name === undefined) throw badField(`request.${field}.${nameKey} is missing: expected a non-empty string`);
  if (typeof name !== 'string' || name === '') {
    throw badField(`request.${field}.${nameKey} must be a non-empty string, got ${describeValue(name)}`);
  }
  return {
    group: optionalString(v, 'group', `request.${field}`),
    version: optionalString(v, 'version', `request.${field}`),
    [nameKey]: name,
  } as Record<'group' | 'version' | K, string>;
}

/**
 * Parses an AdmissionReview body (raw text, or JSON already parsed) and validates what the
 * webhook relies on. Throws a `MeshtapError` with a `WH_ERR_*` code (all map to HTTP 400)
 * whose message says what was wrong and what was expected.
 */
export function parseAdmissionReview(body: string | Uint8Array | unknown): AdmissionRequest {
  let doc: unknown = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
    if (text.trim() === '') {
      throw new MeshtapError(WH_ERR_EMPTY_BODY, 'request body is empty: expected an AdmissionReview (admission.k8s.io/v1) JSON document');
    }
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new MeshtapError(WH_ERR_BAD_JSON, `request body is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!isObject(doc)) {
    throw new MeshtapError(WH_ERR_BAD_JSON, `request body must be a JSON object (an AdmissionReview), got ${describeJsonType(doc)}`);
  }
  if (doc.apiVersion !== ADMISSION_API_VERSION) {
    throw new MeshtapError(
      WH_ERR_BAD_API_VERSION,
      (doc.apiVersion === undefined
        ? `apiVersion is missing: expected "${ADMISSION_API_VERSION}" `
        : `apiVersion must be "${ADMISSION_API_VERSION}", got ${describeValue(doc.apiVersion)} `) +
        '(the webhook configuration must list admissionReviewVersions: [v1])',
    );
  }
  if (doc.kind !== ADMISSION_KIND) {
    throw new MeshtapError(
      WH_ERR_BAD_KIND,
      doc.kind === undefined ? `kind is missing: expected "${ADMISSION_KIND}"` : `kind must be "${ADMISSION_KIND}", got ${describeValue(doc.kind)}`,
    );
  }
  const request = doc.request;
  if (!isObject(request)) {
    throw new MeshtapError(
      WH_ERR_NO_REQUEST,
      request === undefined
        ? 'AdmissionReview has no "request": the API server always sends one to a webhook'
        : `AdmissionReview "request" must be an object, got ${describeJsonType(request)}`,
    );
  }
  const uid = request.uid;
  if (typeof uid !== 'string' || uid.trim() === '') {
    const problem = uid === undefined ? 'is missing' : typeof uid === 'string' ? 'is empty' : `must be a string, got ${describeValue(uid)}`;
    throw new MeshtapError(WH_ERR_NO_UID, `AdmissionReview request.uid ${problem}: it must be echoed in the response`);
  }
  const kind = readGroupVersion(request, 'kind', 'kind');
  const resource = readGroupVersion(request, 'resource', 'resource');
  const operation = request.operation;
  if (typeof operation !== 'string' || !OPERATIONS.has(operation)) {
    throw badField(
      operation === undefined
        ? 'request.operation is missing: expected one of CREATE, UPDATE, DELETE, CONNECT'
        : `request.operation must be one of CREATE, UPDATE, DELETE, CONNECT, got ${describeValue(operation)}`,
    );
  }
  const object = request.object;
  if (object !== undefined && object !== null && !isObject(object)) {
    throw new MeshtapError(WH_ERR_NO_OBJECT, `request.object must be a JSON object, got ${describeJsonType(object)}`);
  }
  if (operation === 'CREATE' && !isObject(object)) {
    throw new MeshtapError(WH_ERR_NO_OBJECT, `request.object is ${object === null ? 'null' : 'missing'}: a CREATE review must carry the object being created`);
  }
  if (object && object.metadata !== undefined && !isObject(object.metadata)) {
    throw new MeshtapError(WH_ERR_NO_OBJECT, `request.object.metadata must be an object, got ${describeJsonType(object.metadata)}`);
  }
  const dryRun = request.dryRun;
  if (dryRun !== undefined && dryRun !== null && typeof dryRun !== 'boolean') {
    throw badField(`request.dryRun must be a boolean, got ${describeJsonType(dryRun)}`);
  }
  return {
    uid,
    kind,
    resource,
    subResource: optionalString(request, 'subResource', 'request'),
    operation: operation as AdmissionOperation,
    namespace: optionalString(request, 'namespace', 'request'),
    name: optionalString(request, 'name', 'request'),
    object: isObject(object) ? (object as KubeObject) : undefined,
    dryRun: dryRun === true,
  };
}

/** Why a review is answered "allowed, unchanged" without asking the injector. */
export type PassReason = 'not-a-pod' | 'not-create' | 'subresource';

export type AdmissionTarget =
  | { type: 'pod-create'; pod: KubeObject; namespace: string }
  | { type: 'pass'; reason: PassReason };

/** Sorts a validated request into "a pod being created" and everything else. */
export function classifyAdmissionRequest(req: AdmissionRequest): AdmissionTarget {
  const isPod = req.kind.group === '' && req.kind.kind === 'Pod' && req.resource.group === '' && req.resource.resource === 'pods';
  if (!isPod) return { type: 'pass', reason: 'not-a-pod' };
  if (req.subResource !== '') return { type: 'pass', reason: 'subresource' };
  if (req.operation !== 'CREATE' || !req.object) return { type: 'pass', reason: 'not-create' };
  const metaNs = req.object.metadata?.namespace;
  const namespace = req.namespace || (typeof metaNs === 'string' ? metaNs : '');
  if (namespace === '') throw badField('request.namespace is missing for a Pod: pods are namespaced');
  return { type: 'pod-create', pod: req.object, namespace };
}

/** `metadata.name` / `metadata.generateName` of a pod, for logs (either may be absent). */
export function describePodName(pod: KubeObject | undefined): { name?: string; generateName?: string } {
  const meta = pod?.metadata ?? {};
  const out: { name?: string; generateName?: string } = {};
  if (typeof meta.name === 'string' && meta.name !== '') out.name = meta.name;
  if (typeof meta.generateName === 'string' && meta.generateName !== '') out.generateName = meta.generateName;
  return out;
}

/**
 * The labels to assume for a namespace whose real labels are unknown (no cluster access, or
 * the lookup failed). A request only reaches the webhook when the API server's
 * `namespaceSelector`/`objectSelector` matched, i.e. the namespace is opted in or the pod is
 * (`meshtap.io/inject=true` in an unlabelled namespace, which the injector accepts either way).
 */
export function assumedOptedInLabels(namespace: string): Record<string, string> {
  return { [NAMESPACE_NAME_LABEL]: namespace, [INJECT_LABEL]: 'enabled' };
}

/** What the injector returns, as far as the webhook needs it (a subset of `InjectDecision`). */
export interface InjectDecisionLike {
  inject: boolean;
  reasons: readonly string[];
  /** Per skip reason, what about this pod: which annotation and why, where its shape is wrong. */
  details?: Readonly<Partial<Record<string, string>>>;
  patch: readonly Operation[];
}

export interface InjectInput {
  pod: KubeObject;
  namespace: string;
  namespaceLabels: Record<string, string>;
  /** Namespace-wide defaults some annotations provide; absent when unknown. */
  namespaceAnnotations?: Record<string, string>;
}

/** The injector with its config already bound. */
export type InjectFn = (input: InjectInput) => InjectDecisionLike;

export interface AdmissionResponse {
  uid: string;
  allowed: true;
  patchType?: 'JSONPatch';
  patch?: string;
  /** Shown to the client that created the object (kubectl prints them as `Warning: ...`). */
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: typeof ADMISSION_KIND;
  response: AdmissionResponse;
}

/**
 * The answer to a review: always allowed (meshtap never blocks a pod); a base64 JSON Patch
 * only when there is something to change; warnings only when there are some.
 */
export function buildAdmissionResponse(uid: string, patch: readonly Operation[] = [], warnings: readonly string[] = []): AdmissionReviewResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch), 'utf8').toString('base64');
  }
  if (warnings.length > 0) response.warnings = [...warnings];
  return { apiVersion: ADMISSION_API_VERSION, kind: ADMISSION_KIND, response };
}

/**
 * A detail quotes what the pod's author wrote (an annotation's value), which may be as long as
 * the annotation; the log keeps one bounded line per review.
 */
export const MAX_DETAIL_CHARS = 1024;

/** The API server truncates a longer warning and drops one holding a control character. */
export const MAX_WARNING_CHARS = 256;

/**
 * Skips that mean the pod was not meant to be injected: not asked for, opted out, already
 * injected (every reinvocation after an injection), or a kind of pod meshtap never injects.
 * Nothing there for whoever creates the pod to correct, so no warning, also not for other
 * reasons found along with them.
 */
const UNWARNED_SKIPS: ReadonlySet<string> = new Set<SkipReason>([
  'system-namespace',
  'namespace-not-enabled',
  'pod-opted-out',
  'host-network',
  'already-injected',
]);

function bounded(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** A control character (a newline in an annotation's value) would get the warning dropped: escaped as in JSON. */
function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, (c) => {
    const json = JSON.stringify(c).slice(1, -1);
    return json !== c ? json : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/**
 * The warnings for a skipped pod: one per reason, `code: detail` as `meshtap inject` prints
 * it, when the pod was meant to be injected and something about it prevented that.
 */
export function skipWarnings(reasons: readonly string[], details: Readonly<Partial<Record<string, string>>> = {}): string[] {
  if (reasons.some((r) => UNWARNED_SKIPS.has(r))) return [];
  return reasons.map((r) => {
    const detail = details[r] ?? (isSkipReason(r) ? describeSkipReason(r) : undefined);
    return bounded(printable(`meshtap did not inject the pod: ${r}${detail === undefined ? '' : `: ${detail}`}`), MAX_WARNING_CHARS);
  });
}

/** The decision's details of the reasons it gives, as text of bounded length. */
function detailsOf(decision: InjectDecisionLike, reasons: readonly string[]): Record<string, string> {
  const given = decision.details && typeof decision.details === 'object' ? decision.details : {};
  const out: Record<string, string> = {};
  for (const r of reasons) {
    const d = Object.hasOwn(given, r) ? given[r] : undefined;
    if (typeof d === 'string' && d !== '') out[r] = bounded(d, MAX_DETAIL_CHARS);
  }
  return out;
}

/** Metric/log outcome of one review. `bad_request` is decided by the server before this point. */
export type ReviewOutcome = 'injected' | 'skipped' | 'allowed' | 'error' | 'bad_request';

export interface ReviewResult {
  outcome: ReviewOutcome;
  /** Skip reason codes, a pass reason, or `injector-error`; empty when injected. */
  reasons: string[];
  /** Per reason code, what about this pod (skips); absent when there is nothing to add to the codes. */
  details?: Record<string, string>;
  review: AdmissionReviewResponse;
  /** The injector's exception, when `outcome` is `error`. */
  error?: unknown;
}

/** A review answered without consulting the injector (not a pod CREATE). */
export function passReview(uid: string, reason: PassReason): ReviewResult {
  return { outcome: 'allowed', reasons: [reason], review: buildAdmissionResponse(uid) };
}

/**
 * Runs the injector for one pod and turns its decision into a review result. An injector
 * exception never fails the pod: the answer is "allowed, unchanged" and the result carries
 * the error for the server to log and count. Dry-run requests are decided the same way:
 * the patch is what a real CREATE would get, and injection has no side effects.
 */
export function reviewPod(uid: string, input: InjectInput, inject: InjectFn): ReviewResult {
  let decision: InjectDecisionLike;
  try {
    decision = inject(input);
  } catch (error) {
    return { outcome: 'error', reasons: ['injector-error'], review: buildAdmissionResponse(uid), error };
  }
  if (!decision || typeof decision !== 'object' || !Array.isArray(decision.patch)) {
    const error = new Error('injector returned no decision with a patch array');
    return { outcome: 'error', reasons: ['injector-error'], review: buildAdmissionResponse(uid), error };
  }
  if (!decision.inject) {
    const reasons = [...(decision.reasons ?? [])];
    const details = detailsOf(decision, reasons);
    const review = buildAdmissionResponse(uid, [], skipWarnings(reasons, details));
    return Object.keys(details).length > 0 ? { outcome: 'skipped', reasons, details, review } : { outcome: 'skipped', reasons, review };
  }
  if (decision.patch.length === 0) {
    return { outcome: 'allowed', reasons: ['no-change'], review: buildAdmissionResponse(uid) };
  }
  return { outcome: 'injected', reasons: [], review: buildAdmissionResponse(uid, decision.patch) };
}
