/**
 * Publishes the trust bundle as ConfigMap `meshtap-trust-bundle` (key `ca.crt`) in every
 * namespace labelled `meshtap.io/inject=enabled`: injected sidecars mount it (optionally, so a
 * missing ConfigMap never blocks a pod) to verify the controller and their mTLS peers.
 *
 * Only labelled namespaces: a pod that opted in by its own label in an unlabelled namespace
 * gets no ConfigMap from here (label the namespace, or create the ConfigMap by hand). This
 * keeps the controller from writing into every namespace of the cluster. A namespace that
 * loses the label keeps its ConfigMap: pods there may still mount it.
 *
 * Runs on namespace changes (from the inventory's namespace informer), on a periodic resync
 * (which also repairs a deleted or edited ConfigMap) and when the bundle changes (root
 * rotation). Writes only what differs; updates carry the resourceVersion they read, so two
 * replicas cannot clobber each other. Failures are logged and retried with backoff.
 */
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { createBackoff } from '../lib/backoff.ts';
import { silentLogger, type Logger } from '../lib/log.ts';

export const TRUST_BUNDLE_CONFIGMAP = 'meshtap-trust-bundle';
export const TRUST_BUNDLE_KEY = 'ca.crt';
export const INJECT_LABEL = 'meshtap.io/inject';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'meshtap-controller', 'app.kubernetes.io/part-of': 'meshtap' } as const;

/** The three ConfigMap calls used; `read` answers undefined for 404. Errors carry `code` (HTTP status). */
export interface ConfigMapApi {
  read(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  create(namespace: string, body: V1ConfigMap): Promise<void>;
  replace(namespace: string, name: string, body: V1ConfigMap): Promise<void>;
}

function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export function createKubeConfigMapApi(kc: KubeConfig): ConfigMapApi {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async read(namespace, name) {
      try {
        return await core.readNamespacedConfigMap({ namespace, name });
      } catch (err) {
        if (httpStatus(err) === 404) return undefined;
        throw err;
      }
    },
    async create(namespace, body) {
      await core.createNamespacedConfigMap({ namespace, body });
    },
    async replace(namespace, name, body) {
      await core.replaceNamespacedConfigMap({ namespace, name, body });
    },
  };
}

export interface NamespaceView {
  /** Namespaces with their labels; undefined until the first list arrived. */
  list(): readonly { name: string; labels: Readonly<Record<string, string>> }[] | undefined;
  onChange(listener: () => void): () => void;
}

export type PublishOutcome = 'created' | 'updated' | 'unchanged';

/** Decides what to write for one namespace: the pure part of `ensure`. */
export function planTrustBundleConfigMap(namespace: string, existing: V1ConfigMap | undefined, bundle: string): { action: PublishOutcome; body?: V1ConfigMap } {
  if (!existing) {
    return {
      action: 'created',
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: TRUST_BUNDLE_CONFIGMAP, namespace, labels: { ...MANAGED_BY } }, data: { [TRUST_BUNDLE_KEY]: bundle } },
    };
  }
  if (existing.data?.[TRUST_BUNDLE_KEY] === bundle) return { action: 'unchanged' };
  // Keep everything else on the object (other keys, labels, annotations someone added).
  return {
    action: 'updated',
    body: { ...existing, apiVersion: 'v1', kind: 'ConfigMap', data: { ...(existing.data ?? {}), [TRUST_BUNDLE_KEY]: bundle } },
  };
}

export interface TrustBundlePublisherOptions {
  readonly api: ConfigMapApi;
  readonly namespaces: NamespaceView;
  readonly bundle: string;
  readonly log?: Logger;
  /** Every namespace is checked again this often. Default 10 min. */
  readonly resyncMs?: number;
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  readonly random?: () => number;
}

export interface TrustBundlePublisher {
  start(): void;
  stop(): Promise<void>;
  /** A new bundle (root rotation): every labelled namespace is written again. */
  setBundle(pem: string): void;
  /** Resolves when nothing is queued or in progress (tests). */
  idle(): Promise<void>;
  /** Namespace → the outcome of its last successful check (`unchanged` after a resync that found it right). */
  results(): ReadonlyMap<string, PublishOutcome>;
}

export function createTrustBundlePublisher(options: TrustBundlePublisherOptions): TrustBundlePublisher {
  const { api, namespaces } = options;
  const log = options.log ?? silentLogger;
  const resyncMs = options.resyncMs ?? 10 * 60_000;
  const random = options.random ?? Math.random;
  let bundle = options.bundle;
  /** Namespace → the bundle last confirmed there. */
  const done = new Map<string, string>();
  const outcomes = new Map<string, PublishOutcome>();
  const queue = new Set<string>();
  const retries = new Map<string, NodeJS.Timeout>();
  const backoffs = new Map<string, ReturnType<typeof createBackoff>>();
  let running: Promise<void> | undefined;
  let inFlight: string | undefined;
  let stopped = false;
  let resyncTimer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;
  let idleWaiters: (() => void)[] = [];

  const labelled = (): string[] | undefined => namespaces.list()?.filter((ns) => ns.labels[INJECT_LABEL] === 'enabled').map((ns) => ns.name);

  const ensure = async (namespace: string): Promise<PublishOutcome> => {
    for (let attempt = 1; ; attempt++) {
      const existing = await api.read(namespace, TRUST_BUNDLE_CONFIGMAP);
      const plan = planTrustBundleConfigMap(namespace, existing, bundle);
      try {
        if (plan.action === 'created') await api.create(namespace, plan.body!);
        else if (plan.action === 'updated') await api.replace(namespace, TRUST_BUNDLE_CONFIGMAP, plan.body!);
        return plan.action;
      } catch (err) {
        // 409: created meanwhile, or changed since read (another replica): read again.
        if (httpStatus(err) !== 409 || attempt >= 3) throw err;
      }
    }
  };

  const drain = async (): Promise<void> => {
    while (queue.size > 0 && !stopped) {
      const [namespace] = queue;
      queue.delete(namespace);
      const target = bundle;
      inFlight = namespace;
      try {
        const outcome = await ensure(namespace);
        inFlight = undefined;
        done.set(namespace, target);
        // The bundle changed while this write was on its way: write again.
        if (target !== bundle) queue.add(namespace);
        outcomes.set(namespace, outcome);
        backoffs.delete(namespace);
        const level = outcome === 'unchanged' ? 'debug' : 'info';
        (log[level] ?? log.info).call(log, { event: 'trust-bundle-published', namespace, outcome }, `trust bundle ${outcome} in ${namespace}`);
      } catch (err) {
        inFlight = undefined;
        let b = backoffs.get(namespace);
        if (!b) backoffs.set(namespace, (b = createBackoff({ baseMs: options.retryInitialMs ?? 1000, capMs: options.retryMaxMs ?? 60_000, random })));
        const wait = Math.max(b.next(), 50);
        log.warn({ event: 'trust-bundle-publish-failed', namespace, status: httpStatus(err), error: (err as Error).message, retryInMs: wait }, `cannot publish the trust bundle in ${namespace}`);
        const timer = setTimeout(() => {
          retries.delete(namespace);
          enqueue([namespace]);
        }, wait);
        timer.unref?.();
        retries.set(namespace, timer);
      }
    }
  };

  const kick = (): void => {
    if (running || stopped) return;
    running = drain().finally(() => {
      running = undefined;
      if (queue.size > 0 && !stopped) kick();
      else {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    });
  };

  function enqueue(names: readonly string[]): void {
    // A namespace being written now is re-queued by `drain` itself if the bundle moved meanwhile.
    for (const n of names) if (!retries.has(n) && n !== inFlight) queue.add(n);
    kick();
  }

  /** Newly labelled namespaces, or ones not confirmed with the current bundle. */
  const onNamespaces = (): void => {
    const names = labelled();
    if (!names) return;
    enqueue(names.filter((n) => done.get(n) !== bundle));
  };

  return {
    start() {
      unsubscribe = namespaces.onChange(onNamespaces);
      onNamespaces();
      resyncTimer = setInterval(() => {
        done.clear();
        onNamespaces();
      }, resyncMs);
      resyncTimer.unref?.();
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      clearInterval(resyncTimer);
      for (const timer of retries.values()) clearTimeout(timer);
      retries.clear();
      queue.clear();
      await running;
    },
    setBundle(pem) {
      if (pem === bundle) return;
      bundle = pem;
      onNamespaces();
    },
    idle() {
      if (!running && queue.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    results: () => outcomes,
  };
}

/** Namespaces from an inventory index (its namespace informer), polled for changes. */
export function namespaceViewFromInventory(
  inventory: { index: { changeCount: number; liveObjects(): { namespaces: readonly { name: string; labels: Readonly<Record<string, string>> }[] } }; stats(): { resources?: Partial<Record<string, { synced: boolean }>> } },
  pollMs = 200,
): NamespaceView & { stop(): void } {
  const listeners = new Set<() => void>();
  let seen = -1;
  const synced = () => inventory.stats().resources?.namespaces?.synced === true;
  const timer = setInterval(() => {
    if (!synced()) return;
    const count = inventory.index.changeCount;
    if (count === seen) return;
    seen = count;
    for (const fn of [...listeners]) fn();
  }, pollMs);
  timer.unref?.();
  return {
    list: () => (synced() ? inventory.index.liveObjects().namespaces : undefined),
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stop: () => clearInterval(timer),
  };
}
