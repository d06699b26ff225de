/**
 * A loopback HTTP server speaking the Kubernetes list/watch protocol for collection paths
 * (`/api/v1/pods`, `/apis/apps/v1/replicasets`…), seeded with real list JSON.
 *
 * Like the API server it keeps an event log with resourceVersions: a watch from version N
 * replays what happened after N and stays open (newline-delimited JSON events); a watch from a
 * version older than the log's start gets an ERROR event with a 410 Status and is closed.
 * Lists honour `limit`/`continue` over one snapshot. Tests can make lists fail, drop watch
 * connections, send bookmarks and compact the log.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type Json = Record<string, any>;

interface LoggedEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Json;
}

interface Collection {
  listKind: string;
  itemKind: string;
  apiVersion: string;
  items: Map<string, Json>;
  log: LoggedEvent[];
  /** Watches from a version below this get 410 Gone. */
  oldestRv: number;
  watchers: Set<http.ServerResponse>;
  listFailures: number;
}

export interface RequestSeen {
  path: string;
  watch: boolean;
  params: Record<string, string>;
  status: number;
  /** Date.now() when it arrived. */
  at: number;
}

function keyOf(obj: Json): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

export class FakeApiServer {
  readonly requests: RequestSeen[] = [];
  readonly #collections = new Map<string, Collection>();
  readonly #snapshots = new Map<string, { rv: string; items: Json[] }>();
  readonly #server: http.Server;
  #rv = 1000;
  #snapshotSeq = 0;

  constructor() {
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  get url(): string {
    const { port } = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    for (const c of this.#collections.values()) for (const w of c.watchers) w.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Serve `list` (a `…List` document as the API server returns it) at `path`. */
  seed(path: string, list: Json): void {
    const listKind = String(list.kind);
    const items = new Map<string, Json>();
    for (const item of list.items as Json[]) items.set(keyOf(item), clone(item));
    const listRv = Number(list.metadata?.resourceVersion ?? 0);
    if (listRv > this.#rv) this.#rv = listRv;
    this.#collections.set(path, {
      listKind,
      itemKind: listKind.replace(/List$/, ''),
      apiVersion: String(list.apiVersion),
      items,
      log: [],
      oldestRv: this.#rv,
      watchers: new Set(),
      listFailures: 0,
    });
  }

  add(path: string, obj: Json): Json {
    return this.#record(path, 'ADDED', obj);
  }

  modify(path: string, obj: Json): Json {
    return this.#record(path, 'MODIFIED', obj);
  }

  remove(path: string, namespace: string, name: string): Json {
    const c = this.#collection(path);
    const existing = c.items.get(`${namespace}/${name}`);
    if (!existing) throw new Error(`no ${namespace}/${name} at ${path}`);
    return this.#record(path, 'DELETED', existing);
  }

  /** Change state without telling any watcher (what a client misses across a compaction). */
  silently(path: string, change: (items: Map<string, Json>) => void): void {
    const c = this.#collection(path);
    change(c.items);
    this.#rv++;
  }

  /** A BOOKMARK carrying the current resourceVersion to every watcher of `path`. */
  bookmark(path: string): number {
    const c = this.#collection(path);
    this.#rv++;
    const event = { type: 'BOOKMARK', object: { kind: c.itemKind, apiVersion: c.apiVersion, metadata: { resourceVersion: String(this.#rv) } } };
    for (const w of c.watchers) w.write(`${JSON.stringify(event)}\n`);
    return this.#rv;
  }

  /**
   * The log before now is gone: every open watch of `path` gets ERROR 410 and is closed, and
   * any watch from an older version will get the same.
   */
  compact(path: string): void {
    const c = this.#collection(path);
    c.oldestRv = this.#rv;
    c.log = [];
    for (const w of [...c.watchers]) this.#gone(w, c, 0);
  }

  /** Cut every watch connection of `path` without a word (a network failure). */
  dropWatches(path: string): void {
    for (const w of this.#collection(path).watchers) w.socket?.destroy();
  }

  /** The next `count` lists of `path` answer 500. */
  failLists(path: string, count: number): void {
    this.#collection(path).listFailures = count;
  }

  watcherCount(path: string): number {
    return this.#collection(path).watchers.size;
  }

  lists(path: string): RequestSeen[] {
    return this.requests.filter((r) => r.path === path && !r.watch);
  }

  watches(path: string): RequestSeen[] {
    return this.requests.filter((r) => r.path === path && r.watch);
  }

  #collection(path: string): Collection {
    const c = this.#collections.get(path);
    if (!c) throw new Error(`nothing seeded at ${path}`);
    return c;
  }

  #record(path: string, type: LoggedEvent['type'], obj: Json): Json {
    const c = this.#collection(path);
    const object = clone(obj);
    this.#rv++;
    object.metadata.resourceVersion = String(this.#rv);
    if (type === 'DELETED') c.items.delete(keyOf(object));
    else c.items.set(keyOf(object), object);
    const event = { rv: this.#rv, type, object: { kind: c.itemKind, apiVersion: c.apiVersion, ...object } };
    c.log.push(event);
    const line = `${JSON.stringify({ type, object: event.object })}\n`;
    for (const w of c.watchers) w.write(line);
    return clone(object);
  }

  #gone(res: http.ServerResponse, c: Collection, asked: number): void {
    const status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `too old resource version: ${asked} (${c.oldestRv})`,
      reason: 'Expired',
      code: 410,
    };
    res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
    c.watchers.delete(res);
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const params = Object.fromEntries(url.searchParams);
    const watch = params.watch === 'true' || params.watch === '1';
    const seen: RequestSeen = { path: url.pathname, watch, params, status: 200, at: Date.now() };
    this.requests.push(seen);
    const c = this.#collections.get(url.pathname);
    const reply = (status: number, body: Json) => {
      seen.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || !c) {
      reply(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', code: 404 });
      return;
    }
    if (watch) {
      this.#watch(c, params, res);
      return;
    }
    if (c.listFailures > 0) {
      c.listFailures--;
      reply(500, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'etcdserver: request timed out', reason: 'InternalError', code: 500 });
      return;
    }
    let items: Json[];
    let rv: string;
    if (params.continue) {
      const snapshot = this.#snapshots.get(params.continue);
      if (!snapshot) {
        reply(410, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'continue token expired', reason: 'Expired', code: 410 });
        return;
      }
      this.#snapshots.delete(params.continue);
      rv = snapshot.rv;
      items = snapshot.items;
    } else {
      rv = String(this.#rv);
      items = [...c.items.values()].map(clone);
    }
    const limit = Number(params.limit ?? 0);
    const metadata: Json = { resourceVersion: rv };
    if (limit > 0 && items.length > limit) {
      const token = `snap-${++this.#snapshotSeq}`;
      const rest = items.slice(limit);
      this.#snapshots.set(token, { rv, items: rest });
      items = items.slice(0, limit);
      metadata.continue = token;
      metadata.remainingItemCount = rest.length;
    }
    reply(200, { kind: c.listKind, apiVersion: c.apiVersion, metadata, items });
  }

  #watch(c: Collection, params: Record<string, string>, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const from = Number(params.resourceVersion ?? 0);
    c.watchers.add(res);
    res.on('close', () => c.watchers.delete(res));
    if (!params.resourceVersion || from < c.oldestRv) {
      // A watch without a version would start with the current state; clients here always give one.
      this.#gone(res, c, from);
      return;
    }
    for (const e of c.log) if (e.rv > from) res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
  }
}
