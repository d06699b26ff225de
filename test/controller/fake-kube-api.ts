/**
 * A loopback HTTP server with the few Kubernetes API routes the trust-bundle and collector
 * certificate publishers use: namespaces (list and watch, newline-delimited JSON events with
 * resourceVersions) and namespaced ConfigMaps and Secrets (get, create, replace with optimistic
 * concurrency), answering with real object and Status JSON.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type Json = Record<string, any>;

export interface Call {
  method: string;
  path: string;
  status: number;
}

function status(code: number, reason: string, message: string): Json {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class FakeKubeApi {
  readonly calls: Call[] = [];
  readonly configMaps = new Map<string, Json>();
  readonly secrets = new Map<string, Json>();
  readonly #namespaces = new Map<string, Json>();
  readonly #watchers = new Set<http.ServerResponse>();
  readonly #server = http.createServer((req, res) => this.#handle(req, res));
  readonly #failures: { method: string; status: number }[] = [];
  #rv = 100;

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    for (const w of this.#watchers) w.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Adds or changes a namespace; watchers see ADDED or MODIFIED. */
  namespace(name: string, labels: Record<string, string> = {}): void {
    const type = this.#namespaces.has(name) ? 'MODIFIED' : 'ADDED';
    const obj = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, uid: `uid-${name}`, resourceVersion: String(++this.#rv), creationTimestamp: '2025-05-01T10:00:00Z', labels: { 'kubernetes.io/metadata.name': name, ...labels } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    };
    this.#namespaces.set(name, obj);
    for (const w of this.#watchers) w.write(`${JSON.stringify({ type, object: obj })}\n`);
  }

  /** Puts a ConfigMap in place without going through the API (as if someone else created it). */
  seedConfigMap(namespace: string, name: string, data: Record<string, string>, labels: Record<string, string> = {}): void {
    this.configMaps.set(`${namespace}/${name}`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace, uid: `cm-${namespace}`, resourceVersion: String(++this.#rv), creationTimestamp: '2025-05-01T10:00:00Z', labels },
      data,
    });
  }

  /** The next request with `method` answers `status`. */
  failNext(method: string, code: number): void {
    this.#failures.push({ method, status: code });
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const call: Call = { method, path: url.pathname, status: 200 };
    this.calls.push(call);
    const reply = (code: number, body: Json) => {
      call.status = code;
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const failure = this.#failures.findIndex((f) => f.method === method && /\/(configmaps|secrets)/.test(url.pathname));
      if (failure >= 0) {
        const { status: code } = this.#failures.splice(failure, 1)[0];
        reply(code, status(code, code === 409 ? 'Conflict' : 'InternalError', 'injected failure'));
        return;
      }
      if (url.pathname === '/api/v1/namespaces' && method === 'GET') {
        if (url.searchParams.get('watch') === 'true') {
          res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
          res.flushHeaders();
          this.#watchers.add(res);
          res.on('close', () => this.#watchers.delete(res));
          return;
        }
        reply(200, { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: String(this.#rv) }, items: [...this.#namespaces.values()] });
        return;
      }
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/(configmaps|secrets)(?:\/([^/]+))?$/.exec(url.pathname);
      if (!m) {
        reply(404, status(404, 'NotFound', 'the server could not find the requested resource'));
        return;
      }
      const [, ns, resource, name] = m;
      const objects = resource === 'secrets' ? this.secrets : this.configMaps;
      if (!this.#namespaces.has(ns)) {
        reply(404, status(404, 'NotFound', `namespaces "${ns}" not found`));
        return;
      }
      const key = `${ns}/${name}`;
      if (method === 'GET' && name) {
        const cm = objects.get(key);
        if (cm) reply(200, cm);
        else reply(404, status(404, 'NotFound', `${resource} "${name}" not found`));
        return;
      }
      const body = text ? (JSON.parse(text) as Json) : {};
      if (method === 'POST' && !name) {
        const k = `${ns}/${body.metadata?.name}`;
        if (objects.has(k)) {
          reply(409, status(409, 'AlreadyExists', `${resource} "${body.metadata?.name}" already exists`));
          return;
        }
        const created = { ...body, metadata: { ...body.metadata, namespace: ns, uid: `${resource}-${ns}-${body.metadata?.name}`, resourceVersion: String(++this.#rv) } };
        objects.set(k, created);
        reply(201, created);
        return;
      }
      if (method === 'PUT' && name) {
        const existing = objects.get(key);
        if (!existing) {
          reply(404, status(404, 'NotFound', `${resource} "${name}" not found`));
          return;
        }
        if (body.metadata?.resourceVersion !== existing.metadata.resourceVersion) {
          reply(409, status(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again'));
          return;
        }
        const replaced = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.#rv) } };
        objects.set(key, replaced);
        reply(200, replaced);
        return;
      }
      reply(405, status(405, 'MethodNotAllowed', `${method} is not allowed here`));
    });
  }
}
