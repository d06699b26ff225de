/**
 * The lab as the API server's admission step: one AdmissionReview (admission.k8s.io/v1,
 * CREATE) per pod, POSTed over HTTPS to the real webhook, trusting only the lab's CA; the
 * returned JSON Patch is applied to the pod as the API server would.
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:https';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { MeshtapError } from '../lib/errors.ts';
import { LAB_ERR_ADMISSION } from './errors.ts';
import type { Pod } from './scenario.ts';

export interface AdmissionResult {
  uid: string;
  pod: Pod;
  patch: Operation[];
}

export function buildAdmissionReview(uid: string, pod: Pod): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name: pod.metadata.name,
      namespace: pod.metadata.namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts', 'system:authenticated'] },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** Decodes the answer and applies its patch; anything unexpected is an error naming the pod. */
export function applyAdmissionResponse(uid: string, pod: Pod, body: unknown): AdmissionResult {
  const who = `${pod.metadata.namespace}/${pod.metadata.name}`;
  const response = (body as { response?: { uid?: unknown; allowed?: unknown; patch?: unknown; patchType?: unknown } } | undefined)?.response;
  if (!response || response.uid !== uid) throw new MeshtapError(LAB_ERR_ADMISSION, `the webhook's answer for ${who} does not carry request uid ${uid}`);
  if (response.allowed !== true) throw new MeshtapError(LAB_ERR_ADMISSION, `the webhook refused pod ${who}`);
  if (response.patch === undefined) return { uid, pod, patch: [] };
  if (response.patchType !== 'JSONPatch' || typeof response.patch !== 'string') {
    throw new MeshtapError(LAB_ERR_ADMISSION, `the webhook's patch for ${who} is not a base64 JSONPatch`);
  }
  const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
  const patched = fastJsonPatch.applyPatch(structuredClone(pod), patch, true, false).newDocument;
  return { uid, pod: patched, patch };
}

export interface AdmitOptions {
  /** `https://127.0.0.1:PORT` */
  url: string;
  caPem: string;
  timeoutMs?: number;
}

export async function admitPod(pod: Pod, options: AdmitOptions): Promise<AdmissionResult> {
  const uid = randomUUID();
  const payload = Buffer.from(JSON.stringify(buildAdmissionReview(uid, pod)));
  const url = new URL('/mutate?timeout=10s', options.url);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca: options.caPem,
        headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': String(payload.length) },
        timeout: options.timeoutMs ?? 10_000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within the timeout')));
    req.on('error', (err) => reject(new MeshtapError(LAB_ERR_ADMISSION, `admission review of ${pod.metadata.namespace}/${pod.metadata.name} failed: ${err.message}`, { cause: err })));
    req.end(payload);
  });
  if (status !== 200) {
    throw new MeshtapError(LAB_ERR_ADMISSION, `the webhook answered ${status} for ${pod.metadata.namespace}/${pod.metadata.name}: ${text.slice(0, 300)}`);
  }
  return applyAdmissionResponse(uid, pod, JSON.parse(text));
}
