/**
 * A very small Kubernetes API client for the controller and the CA: the calls they need (read a
 * namespace, read and JSON-patch one MutatingWebhookConfiguration), in-cluster auth, and a
 * short-lived cache of namespace labels.
 *
 * Why not @kubernetes/client-node (the inventory's informers use it): for a few REST calls its
 * large tree (auth plugins, websockets, a generated model for every type) is loaded for nothing,
 * and its config loading is built around kubeconfig files. Node's `https` takes the
 * service-account CA directly (global `fetch` would need an undici dispatcher for that), and
 * every input here — server URL, CA, token source — is injectable, so tests point it at a
 * local HTTPS server.
 */
import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import type { Operation } from 'fast-json-patch';
import { MeshtapError } from '../errors.ts';
import { formatHostPort } from '../host-port.ts';
import { WH_ERR_KUBE_API, WH_ERR_KUBE_CONFIG } from './errors.ts';

/** An API object as JSON: only `metadata` is given a shape, callers narrow the rest. */
export type KubeObject = Record<string, unknown> & { metadata?: Record<string, unknown> };

export const DEFAULT_SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** An error answer (or no answer) from the API server; `status` is 0 when there was no HTTP response. */
export class KubeApiError extends MeshtapError {
  readonly status: number;
  readonly reason: string | undefined;
  constructor(message: string, status: number, reason?: string, options?: { cause?: unknown }) {
    super(WH_ERR_KUBE_API, message, options);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
  }
}

export interface KubeClientOptions {
  /** Base URL of the API server, e.g. `https://10.96.0.1:443`. */
  server: string;
  /** PEM CA bundle the API server's certificate chains to. */
  ca?: string;
  /** Bearer token source; called for every request so that rotated tokens are picked up. */
  token?: () => string | Promise<string>;
  /** Per-request deadline. Default 5000 ms. */
  timeoutMs?: number;
  userAgent?: string;
}

export interface KubeClient {
  request<T = KubeObject>(method: 'GET' | 'PATCH' | 'POST', path: string, body?: { contentType: string; data: unknown }): Promise<T>;
  getNamespace(name: string): Promise<KubeObject>;
  getMutatingWebhookConfiguration(name: string): Promise<KubeObject>;
  patchMutatingWebhookConfiguration(name: string, patch: readonly Operation[]): Promise<KubeObject>;
}

const MWC_PATH = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

export function createKubeClient(options: KubeClientOptions): KubeClient {
  const base = new URL(options.server);
  if (base.protocol !== 'https:') {
    throw new MeshtapError(WH_ERR_KUBE_CONFIG, `Kubernetes API server URL must be https, got ${options.server}`);
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  const userAgent = options.userAgent ?? 'meshtap-controller';

  async function request<T>(method: 'GET' | 'PATCH' | 'POST', path: string, body?: { contentType: string; data: unknown }): Promise<T> {
    const url = new URL(path, base);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': userAgent };
    const token = options.token ? await options.token() : '';
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: Buffer | undefined;
    if (body) {
      payload = Buffer.from(JSON.stringify(body.data), 'utf8');
      headers['content-type'] = body.contentType;
      headers['content-length'] = String(payload.length);
    }
    const what = `${method} ${url.pathname}`;
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpsRequest(url, { method, headers, ca: options.ca, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new KubeApiError(`Kubernetes API ${what} failed: ${err.message}`, 0, undefined, { cause: err })));
      req.end(payload);
    });
    let doc: unknown;
    try {
      doc = text === '' ? undefined : JSON.parse(text);
    } catch (err) {
      throw new KubeApiError(`Kubernetes API ${what} answered ${status} with a body that is not JSON`, status, undefined, { cause: err });
    }
    if (status < 200 || status >= 300) {
      // Errors come as a metav1.Status object; its message is the most useful thing to show.
      const st = (doc ?? {}) as { message?: unknown; reason?: unknown };
      const reason = typeof st.reason === 'string' ? st.reason : undefined;
      const message = typeof st.message === 'string' ? st.message : text.slice(0, 200);
      throw new KubeApiError(`Kubernetes API ${what} answered ${status}${reason ? ` ${reason}` : ''}: ${message}`, status, reason);
    }
    return doc as T;
  }

  return {
    request,
    getNamespace: (name) => request('GET', `/api/v1/namespaces/${encodeURIComponent(name)}`),
    getMutatingWebhookConfiguration: (name) => request('GET', `${MWC_PATH}/${encodeURIComponent(name)}`),
    patchMutatingWebhookConfiguration: (name, patch) =>
      request('PATCH', `${MWC_PATH}/${encodeURIComponent(name)}`, { contentType: 'application/json-patch+json', data: patch }),
  };
}

export interface InClusterOptions {
  env: NodeJS.ProcessEnv;
  /** Where the service-account token, CA and namespace are mounted. */
  serviceAccountDir?: string;
  /** How long a read token is reused before the file is read again. Default 60 s. */
  tokenTtlMs?: number;
  now?: () => number;
}

/** True when the environment looks like a pod with API access (the service env vars are set). */
export function isInCluster(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
}

/**
 * Client options for the API server as seen from inside a pod. The token is re-read
 * periodically because projected service-account tokens are rotated by the kubelet.
 */
export async function resolveInClusterKubeOptions(options: InClusterOptions): Promise<KubeClientOptions> {
  const { env } = options;
  const dir = options.serviceAccountDir ?? DEFAULT_SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new MeshtapError(WH_ERR_KUBE_CONFIG, 'not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set');
  }
  const readOrFail = async (file: string): Promise<string> => {
    try {
      return await readFile(`${dir}/${file}`, 'utf8');
    } catch (err) {
      throw new MeshtapError(WH_ERR_KUBE_CONFIG, `cannot read the service-account ${file} in ${dir}: ${(err as Error).message}`, { cause: err });
    }
  };
  const ca = await readOrFail('ca.crt');
  await readOrFail('token');
  const ttl = options.tokenTtlMs ?? 60_000;
  const now = options.now ?? Date.now;
  let cached: { value: string; at: number } | undefined;
  const token = async (): Promise<string> => {
    if (!cached || now() - cached.at >= ttl) cached = { value: (await readOrFail('token')).trim(), at: now() };
    return cached.value;
  };
  return { server: `https://${formatHostPort(host, port)}`, ca, token };
}

export interface NamespaceLookupOptions {
  /** How long a namespace is reused. Default 30 s: label changes are rare, pod bursts are not. */
  ttlMs?: number;
  now?: () => number;
}

export interface NamespaceMetadataLookup {
  labels(name: string): Promise<Record<string, string>>;
  annotations(name: string): Promise<Record<string, string>>;
}

function stringRecord(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') out[k] = v;
  }
  return out;
}

/**
 * Labels and annotations of namespaces over `GET /api/v1/namespaces/NAME`, with a short cache
 * shared by both; concurrent lookups of one namespace share a request. Failures are not cached.
 */
export function createNamespaceLookup(client: Pick<KubeClient, 'getNamespace'>, options: NamespaceLookupOptions = {}): NamespaceMetadataLookup {
  const ttl = options.ttlMs ?? 30_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; ns: Promise<KubeObject> }>();
  const get = (name: string): Promise<KubeObject> => {
    const hit = cache.get(name);
    if (hit && now() - hit.at < ttl) return hit.ns;
    const entry = { at: now(), ns: client.getNamespace(name) };
    cache.set(name, entry);
    entry.ns.catch(() => {
      if (cache.get(name) === entry) cache.delete(name);
    });
    return entry.ns;
  };
  return {
    labels: async (name) => stringRecord((await get(name)).metadata?.labels),
    annotations: async (name) => stringRecord((await get(name)).metadata?.annotations),
  };
}
