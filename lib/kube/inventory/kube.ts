/**
 * The Kubernetes inventory: one informer (list, then watch from the list's resourceVersion)
 * per resource, feeding the pure index.
 *
 * The client's `ListWatch` relists by itself when a watch ends with 410 Gone (an ERROR event
 * with code 410, or a 410 response) and reconnects when the server closes a watch normally.
 * On any other error (a failed list, a dropped connection) it calls its error handlers and
 * stops for good; this file restarts it with exponential backoff. A restarted informer
 * watches on from the last resourceVersion it saw, and relists when that is too old.
 *
 * `ListWatch` is built here rather than through `makeInformer` (which builds the same thing)
 * to put a thin watch in front of it: it asks for bookmarks, timestamps every event for the
 * staleness metric, trims objects before they are cached, and refuses to open new watches
 * once the inventory is stopped (the client would otherwise reconnect after `stop()`).
 */
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  ListWatch,
  Watch,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { MeshtapError, describeError } from '../../errors.ts';
import { withTimeout } from '../../with-timeout.ts';
import { silentLogger, type Logger } from '../../log.ts';
import { resolveKubeInventoryOptions, type KubeInventoryConfig, type KubeInventoryOptions } from './config.ts';
import { COL_ERR_INVENTORY_KUBECONFIG, COL_ERR_INVENTORY_LIST_TIMEOUT } from './errors.ts';
import { loadKubeconfigFiles } from '../kubeconfig-files.ts';
import { InventoryIndex } from './index.ts';
import type { Inventory, InventoryResource, InventoryStats, NodeInfo, PodInfo, ResourceState, ServiceMatch, ServiceWorkload } from './inventory.ts';
import { trimObject, type KubeObject } from './kube-objects.ts';
import { createInventoryMetrics, type InventoryMetrics } from './metrics.ts';

export interface KubeInventoryDeps {
  /** A ready client configuration; otherwise built from the options (kubeconfig file or in-cluster). */
  readonly kubeConfig?: KubeConfig;
  /** Where the inventory's metrics go; a private registry when absent. */
  readonly registry?: Registry;
  /** ns since the Unix epoch. */
  readonly clock?: () => bigint;
  readonly log?: Logger;
  readonly random?: () => number;
}

export interface KubeInventory extends Inventory {
  readonly index: InventoryIndex;
  readonly registry: Registry;
  /** Resolves true once every resource has listed successfully, false after `timeoutMs`. */
  waitForSync(timeoutMs: number): Promise<boolean>;
}

interface ListParams {
  limit?: number;
  _continue?: string;
}

interface Apis {
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  discovery: DiscoveryV1Api;
}

type ListFn = (apis: Apis, params: ListParams) => Promise<KubernetesListObject<KubernetesObject>>;

const SOURCES: Record<InventoryResource, { path: string; list: ListFn }> = {
  pods: { path: '/api/v1/pods', list: (a, p) => a.core.listPodForAllNamespaces(p) },
  services: { path: '/api/v1/services', list: (a, p) => a.core.listServiceForAllNamespaces(p) },
  endpointslices: { path: '/apis/discovery.k8s.io/v1/endpointslices', list: (a, p) => a.discovery.listEndpointSliceForAllNamespaces(p) },
  replicasets: { path: '/apis/apps/v1/replicasets', list: (a, p) => a.apps.listReplicaSetForAllNamespaces(p) },
  jobs: { path: '/apis/batch/v1/jobs', list: (a, p) => a.batch.listJobForAllNamespaces(p) },
  nodes: { path: '/api/v1/nodes', list: (a, p) => a.core.listNode(p) },
  namespaces: { path: '/api/v1/namespaces', list: (a, p) => a.core.listNamespace(p) },
};

const OBJECT_EVENTS = new Set(['ADDED', 'MODIFIED', 'DELETED']);
const NS_PER_MS = 1_000_000n;

function wallClockNs(): bigint {
  return BigInt(Date.now()) * NS_PER_MS;
}

/** The client configuration the options describe: a kubeconfig file, else the pod's service account. */
export function loadKubeConfig(config: Pick<KubeInventoryConfig, 'kubeconfig' | 'context'>, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (config.kubeconfig !== undefined) {
      loadKubeconfigFiles(kc, config.kubeconfig);
      if (config.context !== undefined) kc.setCurrentContext(config.context);
      if (!kc.getCurrentCluster()) throw new Error('no current cluster in the kubeconfig');
    } else {
      if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
        throw new Error('not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset); give a kubeconfig');
      }
      kc.loadFromCluster();
    }
  } catch (err) {
    throw new MeshtapError(COL_ERR_INVENTORY_KUBECONFIG, `cannot configure the Kubernetes client: ${describeError(err)}`, { cause: err });
  }
  return kc;
}

/** The watch in front of one informer (see the file comment). */
class InventoryWatch extends Watch {
  readonly #resource: InventoryResource;
  readonly #onEvent: (type: string) => void;
  #closed = false;

  constructor(config: KubeConfig, resource: InventoryResource, onEvent: (type: string) => void) {
    super(config);
    this.#resource = resource;
    this.#onEvent = onEvent;
  }

  close(): void {
    this.#closed = true;
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    // Never called back: the informer stays idle for good.
    if (this.#closed) return new AbortController();
    const params = { ...queryParams, allowWatchBookmarks: true };
    try {
      return await super.watch(
        path,
        params,
        (phase, obj: KubeObject, raw) => {
          this.#onEvent(phase);
          callback(phase, OBJECT_EVENTS.has(phase) && obj ? trimObject(this.#resource, obj) : obj, raw);
        },
        done,
      );
    } catch (err) {
      // E.g. credentials that cannot be read: report it the way a failed watch is reported.
      done(err);
      return new AbortController();
    }
  }
}

class Source {
  readonly resource: InventoryResource;
  readonly watch: InventoryWatch;
  readonly informer: ListWatch<KubernetesObject>;
  synced = false;
  restarts = 0;
  lastEventAt: bigint | undefined;
  delayMs: number;
  startedAt = 0n;
  restartTimer: NodeJS.Timeout | undefined;
  readonly #owner: KubeInventoryImpl;

  constructor(owner: KubeInventoryImpl, resource: InventoryResource, kc: KubeConfig, apis: Apis) {
    this.#owner = owner;
    this.resource = resource;
    this.delayMs = owner.config.restartInitialMs;
    this.watch = new InventoryWatch(kc, resource, () => this.#seen());
    const source = SOURCES[resource];
    this.informer = new ListWatch(source.path, this.watch, () => this.#list(source.list, apis), false, undefined, undefined, {
      delayFn: (ms) => owner.sleep(ms),
    });
    const index = owner.index;
    const clock = owner.clock;
    this.informer.on('add', (obj) => index.apply(resource, obj as KubeObject, clock()));
    this.informer.on('update', (obj) => index.apply(resource, obj as KubeObject, clock()));
    this.informer.on('delete', (obj) => index.remove(resource, obj as KubeObject, clock()));
    this.informer.on('error', (err) => this.#failed(err));
  }

  state(): ResourceState {
    const state: { -readonly [K in keyof ResourceState]: ResourceState[K] } = { synced: this.synced, restarts: this.restarts };
    if (this.lastEventAt !== undefined) state.lastEventAt = this.lastEventAt;
    return state;
  }

  async run(): Promise<void> {
    if (this.#owner.stopped) return;
    this.startedAt = this.#owner.clock();
    try {
      await this.informer.start();
    } catch (err) {
      this.#failed(err);
    }
  }

  cancelRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  #seen(): void {
    this.lastEventAt = this.#owner.clock();
    this.#owner.metrics.lastEvent.set({ resource: this.resource }, Number(this.lastEventAt / NS_PER_MS) / 1000);
  }

  /** Every page of the list, trimmed; the list's resourceVersion is the first page's (pages share one snapshot). */
  async #list(list: ListFn, apis: Apis): Promise<KubernetesListObject<KubernetesObject>> {
    const { listPageSize, listTimeoutMs } = this.#owner.config;
    const items: KubernetesObject[] = [];
    let resourceVersion: string | undefined;
    let cont: string | undefined;
    do {
      const params: ListParams = {};
      if (listPageSize > 0) params.limit = listPageSize;
      if (cont !== undefined) params._continue = cont;
      const page = await this.#owner.withTimeout(list(apis, params), listTimeoutMs, `list ${this.resource}`);
      if (this.#owner.stopped) throw new Error('inventory stopped');
      resourceVersion ??= page.metadata?.resourceVersion;
      for (const item of page.items ?? []) items.push(trimObject(this.resource, item as KubeObject) as KubernetesObject);
      cont = page.metadata?._continue || undefined;
    } while (cont !== undefined);
    this.#seen();
    this.synced = true;
    this.#owner.metrics.synced.set({ resource: this.resource }, 1);
    this.#owner.syncProgress();
    return { metadata: { resourceVersion }, items };
  }

  #failed(err: unknown): void {
    if (this.#owner.stopped || this.restartTimer) return;
    const { restartInitialMs, restartMaxMs, restartResetAfterMs } = this.#owner.config;
    const now = this.#owner.clock();
    if (now - this.startedAt >= BigInt(restartResetAfterMs) * NS_PER_MS) this.delayMs = restartInitialMs;
    const wait = Math.round(this.delayMs * (1 + 0.2 * this.#owner.random()));
    this.delayMs = Math.min(Math.max(this.delayMs * 2, 1), restartMaxMs);
    this.restarts++;
    this.#owner.metrics.restarts.inc({ resource: this.resource });
    this.#owner.log.warn({ resource: this.resource, error: describeError(err), retryInMs: wait, restarts: this.restarts }, 'inventory informer failed; restarting');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.run();
    }, wait);
  }
}

class KubeInventoryImpl implements KubeInventory {
  readonly config: KubeInventoryConfig;
  readonly index: InventoryIndex;
  readonly registry: Registry;
  readonly metrics: InventoryMetrics;
  readonly clock: () => bigint;
  readonly log: Logger;
  readonly random: () => number;
  stopped = false;
  readonly #sources: Source[];
  readonly #sleeps = new Set<() => void>();
  readonly #syncWaiters = new Set<() => void>();
  #started: Promise<void> | undefined;

  constructor(config: KubeInventoryConfig, deps: KubeInventoryDeps) {
    this.config = config;
    this.clock = deps.clock ?? wallClockNs;
    this.log = deps.log ?? silentLogger;
    this.random = deps.random ?? Math.random;
    this.index = new InventoryIndex({ historyRetentionMs: config.historyRetentionMs, lookupGraceMs: config.lookupGraceMs });
    this.registry = deps.registry ?? new Registry();
    this.metrics = createInventoryMetrics(this.registry, config.resources, () => this.index.counts());
    const kc = deps.kubeConfig ?? loadKubeConfig(config);
    const apis: Apis = {
      core: kc.makeApiClient(CoreV1Api),
      apps: kc.makeApiClient(AppsV1Api),
      batch: kc.makeApiClient(BatchV1Api),
      discovery: kc.makeApiClient(DiscoveryV1Api),
    };
    this.#sources = config.resources.map((resource) => new Source(this, resource, kc, apis));
  }

  start(): Promise<void> {
    this.#started ??= Promise.all(this.#sources.map((s) => s.run())).then(() => {
      this.log.info({ synced: this.#sources.filter((s) => s.synced).map((s) => s.resource) }, 'inventory started');
    });
    return this.#started;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const wake of this.#sleeps) wake();
    this.#sleeps.clear();
    for (const wake of this.#syncWaiters) wake();
    this.#syncWaiters.clear();
    for (const source of this.#sources) {
      source.cancelRestart();
      source.watch.close();
    }
    await Promise.all(this.#sources.map((s) => s.informer.stop()));
  }

  waitForSync(timeoutMs: number): Promise<boolean> {
    const synced = () => this.#sources.every((s) => s.synced);
    if (synced()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!synced() && !this.stopped) return;
        clearTimeout(timer);
        this.#syncWaiters.delete(check);
        resolve(synced());
      };
      const timer = setTimeout(() => {
        this.#syncWaiters.delete(check);
        resolve(synced());
      }, timeoutMs);
      this.#syncWaiters.add(check);
    });
  }

  syncProgress(): void {
    for (const check of [...this.#syncWaiters]) check();
  }

  /** The informer's reconnect delay, cut short by `stop()`. */
  sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleeps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleeps.add(wake);
    });
  }

  withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    return withTimeout(promise, ms, () => new MeshtapError(COL_ERR_INVENTORY_LIST_TIMEOUT, `${what}: no answer within ${ms} ms`));
  }

  lookupIp(ip: string, at: bigint): PodInfo | undefined {
    return this.index.lookupIp(ip, at);
  }

  lookupPod(namespace: string, name: string, at: bigint): PodInfo | undefined {
    return this.index.lookupPod(namespace, name, at);
  }

  lookupService(ip: string, port: number, at: bigint): ServiceMatch | undefined {
    return this.index.lookupService(ip, port, at);
  }

  lookupNode(ip: string): NodeInfo | undefined {
    return this.index.lookupNode(ip);
  }

  workloadPods(namespace: string, workload: string): PodInfo[] {
    return this.index.workloadPods(namespace, workload);
  }

  serviceWorkload(namespace: string, service: string, at: bigint): ServiceWorkload | undefined {
    return this.index.serviceWorkload(namespace, service, at);
  }

  servicesForPod(pod: PodInfo): string[] {
    return this.index.servicesForPod(pod);
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.index.namespaceLabels(namespace);
  }

  stats(): InventoryStats {
    const resources: Partial<Record<InventoryResource, ResourceState>> = {};
    for (const source of this.#sources) resources[source.resource] = source.state();
    return { ...this.index.stats(), resources };
  }
}

/** Informers on the configured resources; nothing is contacted before `start()`. */
export function createKubeInventory(options: KubeInventoryOptions = {}, deps: KubeInventoryDeps = {}): KubeInventory {
  return new KubeInventoryImpl(resolveKubeInventoryOptions(options), deps);
}
