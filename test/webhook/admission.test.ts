import { readFileSync } from 'node:fs';
import t from 'tap';
import { isMeshtapError } from '../../lib/errors.ts';
import {
  assumedOptedInLabels,
  buildAdmissionResponse,
  classifyAdmissionRequest,
  describePodName,
  MAX_DETAIL_CHARS,
  MAX_WARNING_CHARS,
  parseAdmissionReview,
  reviewPod,
  skipWarnings,
} from '../../webhook/admission.ts';

const fixture = (name: string): any => JSON.parse(readFileSync(new URL(`../fixtures/admission/${name}`, import.meta.url), 'utf8'));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isMeshtapError(err) ? err.code : `not a MeshtapError: ${String(err)}`;
  }
  return undefined;
}

void t.test('parses a real pod CREATE review from text, bytes or a parsed object', async (t) => {
  const doc = fixture('pod-create.json');
  const text = JSON.stringify(doc);
  for (const input of [text, Buffer.from(text), doc]) {
    const req = parseAdmissionReview(input);
    t.equal(req.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
    t.same(req.kind, { group: '', version: 'v1', kind: 'Pod' });
    t.same(req.resource, { group: '', version: 'v1', resource: 'pods' });
    t.equal(req.operation, 'CREATE');
    t.equal(req.namespace, 'demo');
    t.equal(req.name, 'web-7d9f8c6b5-abcde');
    t.equal(req.dryRun, false);
    t.equal(req.subResource, '');
    t.equal((req.object?.spec as any).containers[0].name, 'web');
  }
  t.equal(parseAdmissionReview(fixture('pod-dry-run.json')).dryRun, true);
});

void t.test('rejects malformed reviews with a stable code and a message that says what is expected', async (t) => {
  const base = fixture('pod-create.json');
  const mutate = (f: (d: any) => void) => {
    const d = structuredClone(base);
    f(d);
    return d;
  };
  const cases: [string, unknown, string][] = [
    ['not JSON', '{"kind":', 'WH_ERR_BAD_JSON'],
    ['empty', '  \n', 'WH_ERR_EMPTY_BODY'],
    ['null', 'null', 'WH_ERR_BAD_JSON'],
    ['a string', '"AdmissionReview"', 'WH_ERR_BAD_JSON'],
    ['v1beta1', fixture('invalid-api-version.json'), 'WH_ERR_BAD_API_VERSION'],
    ['no apiVersion', mutate((d) => delete d.apiVersion), 'WH_ERR_BAD_API_VERSION'],
    ['wrong kind', fixture('invalid-kind.json'), 'WH_ERR_BAD_KIND'],
    ['no request', fixture('invalid-missing-request.json'), 'WH_ERR_NO_REQUEST'],
    ['request is an array', mutate((d) => (d.request = [])), 'WH_ERR_NO_REQUEST'],
    ['no uid', fixture('invalid-missing-uid.json'), 'WH_ERR_NO_UID'],
    ['empty uid', mutate((d) => (d.request.uid = ' ')), 'WH_ERR_NO_UID'],
    ['numeric uid', mutate((d) => (d.request.uid = 42)), 'WH_ERR_NO_UID'],
    ['no object on CREATE', fixture('invalid-missing-object.json'), 'WH_ERR_NO_OBJECT'],
    ['object is a string', mutate((d) => (d.request.object = 'pod')), 'WH_ERR_NO_OBJECT'],
    ['metadata is a list', mutate((d) => (d.request.object.metadata = [])), 'WH_ERR_NO_OBJECT'],
    ['no kind', mutate((d) => delete d.request.kind), 'WH_ERR_BAD_REQUEST_FIELD'],
    ['no resource name', mutate((d) => (d.request.resource = { group: '', version: 'v1' })), 'WH_ERR_BAD_REQUEST_FIELD'],
    ['bad operation', mutate((d) => (d.request.operation = 'PATCH')), 'WH_ERR_BAD_REQUEST_FIELD'],
    ['bad dryRun', mutate((d) => (d.request.dryRun = 'yes')), 'WH_ERR_BAD_REQUEST_FIELD'],
    ['bad namespace', mutate((d) => (d.request.namespace = 7)), 'WH_ERR_BAD_REQUEST_FIELD'],
  ];
  for (const [name, input, code] of cases) {
    t.equal(codeOf(() => parseAdmissionReview(typeof input === 'string' ? input : JSON.stringify(input))), code, name);
  }
  t.throws(() => parseAdmissionReview(fixture('invalid-api-version.json')), {
    message: /apiVersion must be "admission\.k8s\.io\/v1", got "admission\.k8s\.io\/v1beta1".*admissionReviewVersions/,
  });
  t.throws(() => parseAdmissionReview(fixture('invalid-missing-object.json')), { message: /request\.object is missing: a CREATE review/ });
  // A missing field reads as missing, never as "got a undefined".
  for (const field of ['kind', 'resource']) {
    const review = JSON.stringify(mutate((d) => delete d.request[field]));
    t.throws(() => parseAdmissionReview(review), { code: 'WH_ERR_BAD_REQUEST_FIELD', message: new RegExp(`^request\\.${field} is missing: it must be an object like`) }, `no ${field}`);
    const error = (() => {
      try {
        parseAdmissionReview(review);
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    t.notMatch(error, /undefined/, `no ${field}: the message does not say undefined`);
  }
  t.throws(() => parseAdmissionReview(JSON.stringify(mutate((d) => (d.request.kind = 'Pod')))), { message: /request\.kind must be an object like .*, got a string$/ });
  t.throws(() => parseAdmissionReview(JSON.stringify(mutate((d) => (d.request.kind = null)))), { message: /request\.kind must be an object like .*, got null$/ }, 'a null kind is not called missing');
  // DELETE reviews legitimately carry no object.
  const del = mutate((d) => {
    d.request.operation = 'DELETE';
    d.request.oldObject = d.request.object;
    delete d.request.object;
  });
  t.equal(parseAdmissionReview(del).object, undefined);
});

void t.test('a missing field is called missing; a null, or a value of the wrong type, is named', async (t) => {
  const base = fixture('pod-create.json');
  const messageOf = (f: (d: any) => void): string => {
    const d = structuredClone(base);
    f(d);
    try {
      parseAdmissionReview(JSON.stringify(d));
    } catch (err) {
      return (err as Error).message;
    }
    return '';
  };
  const cases: [string, (d: any) => void, RegExp][] = [
    ['no apiVersion', (d) => delete d.apiVersion, /^apiVersion is missing: expected "admission\.k8s\.io\/v1" \(the webhook configuration must list admissionReviewVersions: \[v1\]\)$/],
    ['null apiVersion', (d) => (d.apiVersion = null), /^apiVersion must be "admission\.k8s\.io\/v1", got null /],
    ['numeric apiVersion', (d) => (d.apiVersion = 1), /^apiVersion must be "admission\.k8s\.io\/v1", got 1 /],
    ['object apiVersion', (d) => (d.apiVersion = { v: 1 }), /^apiVersion must be "admission\.k8s\.io\/v1", got an object /],
    ['no kind', (d) => delete d.kind, /^kind is missing: expected "AdmissionReview"$/],
    ['null kind', (d) => (d.kind = null), /^kind must be "AdmissionReview", got null$/],
    ['no uid', (d) => delete d.request.uid, /^AdmissionReview request\.uid is missing: it must be echoed/],
    ['null uid', (d) => (d.request.uid = null), /^AdmissionReview request\.uid must be a string, got null:/],
    ['numeric uid', (d) => (d.request.uid = 42), /^AdmissionReview request\.uid must be a string, got 42:/],
    ['blank uid', (d) => (d.request.uid = ' '), /^AdmissionReview request\.uid is empty:/],
    ['no operation', (d) => delete d.request.operation, /^request\.operation is missing: expected one of CREATE, UPDATE, DELETE, CONNECT$/],
    ['null operation', (d) => (d.request.operation = null), /^request\.operation must be one of CREATE, UPDATE, DELETE, CONNECT, got null$/],
    ['no kind.kind', (d) => delete d.request.kind.kind, /^request\.kind\.kind is missing: expected a non-empty string$/],
    ['empty kind.kind', (d) => (d.request.kind.kind = ''), /^request\.kind\.kind must be a non-empty string, got ""$/],
    ['null resource.resource', (d) => (d.request.resource.resource = null), /^request\.resource\.resource must be a non-empty string, got null$/],
    ['null object on CREATE', (d) => (d.request.object = null), /^request\.object is null: a CREATE review/],
  ];
  for (const [name, f, message] of cases) t.match(messageOf(f), message, name);
  t.match(messageOf((d) => (d.apiVersion = 'x'.repeat(10_000))), /got "x{64}…" /, 'a long value is cut, not echoed whole');
});

void t.test('classifies pod CREATEs apart from everything else', async (t) => {
  const pod = parseAdmissionReview(fixture('pod-create.json'));
  t.match(classifyAdmissionRequest(pod), { type: 'pod-create', namespace: 'demo' });
  t.same(classifyAdmissionRequest(parseAdmissionReview(fixture('deployment-create.json'))), { type: 'pass', reason: 'not-a-pod' });
  t.same(classifyAdmissionRequest({ ...pod, subResource: 'ephemeralcontainers' }), { type: 'pass', reason: 'subresource' });
  t.same(classifyAdmissionRequest({ ...pod, operation: 'UPDATE' }), { type: 'pass', reason: 'not-create' });
  t.same(classifyAdmissionRequest({ ...pod, kind: { group: 'example.com', version: 'v1', kind: 'Pod' } }), { type: 'pass', reason: 'not-a-pod' });
  // generateName pods have no metadata.namespace: request.namespace is authoritative.
  const gen = parseAdmissionReview(fixture('pod-generate-name.json'));
  t.match(classifyAdmissionRequest(gen), { type: 'pod-create', namespace: 'demo' });
  t.equal(codeOf(() => classifyAdmissionRequest({ ...gen, namespace: '' })), 'WH_ERR_BAD_REQUEST_FIELD');
  t.same(describePodName(gen.object), { generateName: 'web-7d9f8c6b5-' });
  t.same(describePodName(pod.object), { name: 'web-7d9f8c6b5-abcde' });
});

void t.test('builds responses: patch only when there is one, base64 JSON Patch', async (t) => {
  t.same(buildAdmissionResponse('u1'), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u1', allowed: true } });
  t.same(buildAdmissionResponse('u1', []).response, { uid: 'u1', allowed: true });
  const ops = [{ op: 'add' as const, path: '/metadata/labels/x', value: 'é' }];
  const res = buildAdmissionResponse('u2', ops).response;
  t.equal(res.patchType, 'JSONPatch');
  t.same(JSON.parse(Buffer.from(res.patch!, 'base64').toString('utf8')), ops);
});

void t.test('reviewPod maps injector decisions and never lets an exception through', async (t) => {
  const input = { pod: { metadata: {} }, namespace: 'demo', namespaceLabels: assumedOptedInLabels('demo') };
  t.same(assumedOptedInLabels('demo'), { 'kubernetes.io/metadata.name': 'demo', 'meshtap.io/inject': 'enabled' });
  const ops = [{ op: 'add' as const, path: '/metadata/annotations', value: {} }];
  t.match(reviewPod('a', input, () => ({ inject: true, reasons: [], patch: ops })), { outcome: 'injected', reasons: [], review: { response: { patchType: 'JSONPatch' } } });
  const skipped = reviewPod('b', input, () => ({ inject: false, reasons: ['host-network', 'pod-opted-out'], patch: [] }));
  t.same(skipped, { outcome: 'skipped', reasons: ['host-network', 'pod-opted-out'], review: buildAdmissionResponse('b') });
  t.match(reviewPod('c', input, () => ({ inject: true, reasons: [], patch: [] })), { outcome: 'allowed', reasons: ['no-change'] });
  const thrown = reviewPod('d', input, () => {
    throw new TypeError('bad pod');
  });
  t.equal(thrown.outcome, 'error');
  t.same(thrown.review, buildAdmissionResponse('d'));
  t.match(thrown.error, { message: 'bad pod' });
  t.match(reviewPod('e', input, () => undefined as never), { outcome: 'error', reasons: ['injector-error'] });
});

void t.test('a skip carries the injector\'s details and warns when the pod was meant to be injected', async (t) => {
  const input = { pod: { metadata: {} }, namespace: 'demo', namespaceLabels: assumedOptedInLabels('demo') };
  const detail = 'pod annotation meshtap.io/exclude-inbound-ports: "http" is not a port number 1-65535';
  const skipped = reviewPod('f', input, () => ({ inject: false, reasons: ['invalid-annotation'], details: { 'invalid-annotation': detail }, patch: [] }));
  t.same(skipped, {
    outcome: 'skipped',
    reasons: ['invalid-annotation'],
    details: { 'invalid-annotation': detail },
    review: buildAdmissionResponse('f', [], [`meshtap did not inject the pod: invalid-annotation: ${detail}`]),
  });
  t.equal(skipped.review.response.allowed, true, 'a skip never blocks the pod');

  // Details of reasons the decision does not give, and values that are not text, are dropped.
  const odd = reviewPod('g', input, () => ({ inject: false, reasons: ['port-conflict'], details: { 'port-conflict': 7, 'name-collision': 'x' } as never, patch: [] }));
  t.notOk('details' in odd);
  t.same(odd.review.response.warnings, ['meshtap did not inject the pod: port-conflict: a container of the pod declares a port the meshtap proxy listens on'], 'the generic description when no detail');

  const long = reviewPod('h', input, () => ({ inject: false, reasons: ['invalid-annotation'], details: { 'invalid-annotation': `"${'9'.repeat(5000)}"` }, patch: [] }));
  t.equal(long.details!['invalid-annotation'].length, MAX_DETAIL_CHARS);
  t.match(long.details!['invalid-annotation'], /…$/);
  t.equal(Array.from(long.review.response.warnings![0]).length, MAX_WARNING_CHARS);
});

void t.test('skipWarnings: none for pods not meant to be injected, control characters escaped', async (t) => {
  t.same(skipWarnings([]), []);
  for (const quiet of ['system-namespace', 'namespace-not-enabled', 'pod-opted-out', 'host-network', 'already-injected']) {
    t.same(skipWarnings([quiet, 'invalid-annotation'], { 'invalid-annotation': 'bad' }), [], quiet);
  }
  t.same(skipWarnings(['port-conflict', 'uid-conflict'], { 'port-conflict': 'container "a" declares port 15006', 'uid-conflict': 'container "b" runs as UID 1337' }), [
    'meshtap did not inject the pod: port-conflict: container "a" declares port 15006',
    'meshtap did not inject the pod: uid-conflict: container "b" runs as UID 1337',
  ]);
  const [warning] = skipWarnings(['invalid-annotation'], { 'invalid-annotation': 'pod annotation meshtap.io/mtls-mode: "strict\nx\u007f" is not one of permissive, strict' });
  t.equal(warning, 'meshtap did not inject the pod: invalid-annotation: pod annotation meshtap.io/mtls-mode: "strict\\nx\\u007f" is not one of permissive, strict');
  t.notMatch(warning, /\p{Cc}/u, 'no control character reaches the API server');
  const [multibyte] = skipWarnings(['invalid-pod'], { 'invalid-pod': '€'.repeat(400) });
  t.equal(Array.from(multibyte).length, MAX_WARNING_CHARS, 'counted in characters, as the API server does');
});
