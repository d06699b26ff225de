/**
 * An inventory read from a file of Kubernetes objects — how the lab (which has no API server)
 * tells the collector and the controller who is who. The file is a Kubernetes `List`
 * (`{"kind":"List","items":[...]}`) of Pods, Services, EndpointSlices, ReplicaSets, Jobs, Nodes
 * and Namespaces, exactly as the API server would return them. It is re-read whenever it changes
 * and diffed into the same time-aware index the informers feed, so lookups keep their history.
 * A file that cannot be read or parsed is logged (once, until the problem changes) and the last
 * good state is kept. Only a regular file of at most `MAX_INVENTORY_BYTES` is read (a device or
 * FIFO given by mistake — `/dev/zero` — would otherwise be read without end), and the poll reads
 * it only when its size, time or inode changed.
 */
import { readFile, stat } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { silentLogger, type Logger } from '../../lib/log.ts';
import type { Inventory, InventoryResource, InventoryStats } from '../../lib/kube/inventory/inventory.ts';
import { createInventoryIndex, type InventoryIndex } from '../../lib/kube/inventory/index.ts';
import type { KubeObject } from '../../lib/kube/inventory/kube-objects.ts';

const RESOURCE_BY_KIND: Readonly<Record<string, InventoryResource>> = {
  Pod: 'pods',
  Service: 'services',
  EndpointSlice: 'endpointslices',
  ReplicaSet: 'replicasets',
  Job: 'jobs',
  Node: 'nodes',
  Namespace: 'namespaces',
};

export interface FileInventoryOptions {
  path: string;
  /** Also re-checked this often (ms), for filesystems where watching misses renames. */
  pollMs?: number;
  now?: () => bigint;
  log?: Logger;
}

export interface FileInventory extends Inventory {
  readonly index: InventoryIndex;
  /** Reads the file now; resolves after the index reflects it (or the failure was logged). */
  reload(): Promise<void>;
  /** Successful loads so far. */
  readonly loads: number;
}

type Keyed = { resource: InventoryResource; obj: KubeObject };

/** Largest inventory file read: a cluster of 50 000 pods as the API server writes them is about a quarter of this. */
export const MAX_INVENTORY_BYTES = 512 * 1024 * 1024;

function keyOf(resource: InventoryResource, obj: KubeObject): string | undefined {
  const name = obj.metadata?.name;
  if (!name) return undefined;
  return `${resource}/${obj.metadata?.namespace ?? ''}/${name}/${obj.metadata?.uid ?? ''}`;
}

/** Parses the file's text into keyed objects; throws with a clear message on a bad document. */
export function parseInventoryList(text: string, source: string): Map<string, Keyed> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  const items = (doc as { items?: unknown }).items;
  if (typeof doc !== 'object' || doc === null || !Array.isArray(items)) {
    throw new Error(`${source}: expected a Kubernetes List with an "items" array`);
  }
  const out = new Map<string, Keyed>();
  items.forEach((item: unknown, i) => {
    const kind = (item as { kind?: unknown })?.kind;
    const resource = typeof kind === 'string' ? RESOURCE_BY_KIND[kind] : undefined;
    if (!resource) return; // other kinds (Deployments…) are not needed: owner references name workloads
    const key = keyOf(resource, item as KubeObject);
    if (!key) throw new Error(`${source}: items[${i}] (${String(kind)}) has no metadata.name`);
    out.set(key, { resource, obj: item as KubeObject });
  });
  return out;
}

export function createFileInventory(options: FileInventoryOptions): FileInventory {
  const index = createInventoryIndex();
  const now = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  const log = options.log ?? silentLogger;
  let current = new Map<string, Keyed>();
  let lastText: string | undefined;
  let loads = 0;
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let pending: Promise<void> | undefined;
  let again = false;
  /** The problem last logged, so a poll does not log it again every second. */
  let lastProblem: string | undefined;
  /** Size, modification time and inode of the file as last read, for the poll. */
  let lastSeen: string | undefined;

  const problem = (message: string, detail: string): void => {
    if (`${message}\u0000${detail}` === lastProblem) return;
    lastProblem = `${message}\u0000${detail}`;
    log.warn({ path: options.path, detail }, `${message}; ${kept()}`);
  };

  /** What a file that cannot be used leaves the collector with. */
  const kept = (): string => (loads > 0 ? 'keeping the last good state' : 'no names until it can be read (it is read again when it changes)');

  async function load(): Promise<void> {
    let text: string;
    try {
      const s = await stat(options.path);
      if (!s.isFile()) {
        problem('inventory file unreadable', 'not a regular file (a Kubernetes List in JSON is expected)');
        return;
      }
      if (s.size > MAX_INVENTORY_BYTES) {
        problem('inventory file unreadable', `${s.size} bytes, more than the ${MAX_INVENTORY_BYTES} read`);
        return;
      }
      lastSeen = `${s.size}:${s.mtimeMs}:${s.ino}`;
      text = await readFile(options.path, 'utf8');
    } catch (err) {
      problem('inventory file unreadable', (err as Error).message);
      return;
    }
    if (text === lastText) return;
    let next: Map<string, Keyed>;
    try {
      next = parseInventoryList(text, options.path);
    } catch (err) {
      problem('inventory file invalid', (err as Error).message);
      lastText = text;
      return;
    }
    lastProblem = undefined;
    const at = now();
    for (const [key, { resource, obj }] of current) if (!next.has(key)) index.remove(resource, obj, at);
    for (const { resource, obj } of next.values()) index.apply(resource, obj, at);
    current = next;
    lastText = text;
    loads++;
  }

  /** Serialises loads: a change during a load triggers one more. */
  function reload(): Promise<void> {
    if (pending) {
      again = true;
      return pending;
    }
    pending = (async () => {
      do {
        again = false;
        await load();
      } while (again);
    })().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  const lookups = {
    lookupIp: index.lookupIp.bind(index),
    lookupPod: index.lookupPod.bind(index),
    lookupService: index.lookupService.bind(index),
    lookupNode: index.lookupNode.bind(index),
    servicesForPod: index.servicesForPod.bind(index),
    serviceWorkload: index.serviceWorkload.bind(index),
    workloadPods: index.workloadPods.bind(index),
    namespaceLabels: index.namespaceLabels.bind(index),
  };

  return {
    ...lookups,
    index,
    reload,
    get loads() {
      return loads;
    },
    stats(): InventoryStats {
      return index.stats();
    },
    async start() {
      await reload();
      // Watch the directory: the lab replaces the file by rename, which a file watch would miss.
      try {
        watcher = watch(dirname(options.path), (_event, name) => {
          if (name === null || name === basename(options.path)) void reload();
        });
        watcher.on('error', () => undefined);
      } catch {
        // no watching here: the poll below still notices changes
      }
      timer = setInterval(() => {
        void stat(options.path).then(
          (s) => {
            if (`${s.size}:${s.mtimeMs}:${s.ino}` !== lastSeen) return reload();
          },
          () => undefined,
        );
      }, options.pollMs ?? 1000);
      timer.unref();
    },
    async stop() {
      watcher?.close();
      if (timer) clearInterval(timer);
      await pending;
    },
  };
}
