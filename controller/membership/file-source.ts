/**
 * The lab's membership source: a JSON file the lab rewrites as it creates and removes pods.
 *
 * ```json
 * {
 *   "pods": [{ "name": "frontend-1", "namespace": "shop", "ip": "10.244.0.5",
 *              "serviceAccount": "frontend", "meshed": true }],
 *   "services": [{ "name": "payment", "namespace": "shop", "vip": "10.96.0.20",
 *                  "ports": [{ "port": 80, "targetPort": 8080, "protocol": "TCP", "name": "http" }],
 *                  "endpoints": [{ "ip": "10.244.0.7", "port": 8080 }] }]
 * }
 * ```
 *
 * `meshed` says the pod runs a sidecar (in a cluster: the `meshtap.io/status` annotation and
 * phase Pending or Running, with an IP). A pod may give `ips` (dual stack) instead of `ip`; `serviceAccount`
 * defaults to `default`. A port may be a bare number; `targetPort` defaults to `port`. An
 * endpoint without `port` serves every port of the service (at each port's `targetPort`).
 * Unknown keys are ignored, so the lab can keep its own notes in the file.
 *
 * The file is watched with `fs.watch` on its directory (a file replaced by rename — how it
 * should be written — is a new inode that a watch on the old one would miss) and, because
 * `fs.watch` is not reliable everywhere (network and overlay filesystems), also polled with
 * `stat`. A file that is missing, unreadable or invalid is logged and the last good state is
 * kept; before a first good file the source has no state (sidecars get no snapshot yet).
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { z } from 'zod';
import type { MembershipEndpointInput, MembershipInput, MembershipServicePortInput } from './build.ts';
import { silentLogger, type Logger } from '../../lib/log.ts';
import { createListeners, type MembershipSource } from './source.ts';

const port = z.number().int().min(1).max(65535);

const PortSchema = z.union([
  port,
  z.object({
    port,
    targetPort: z.union([port, z.string().min(1)]).optional(),
    protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
    name: z.string().optional(),
  }),
]);


/** Largest inventory file read (a cluster's worth of pods and services is a small part of this). */
export const MAX_MEMBERSHIP_FILE_BYTES = 256 * 1024 * 1024;

export const InventoryFileSchema = z.object({
  pods: z
    .array(
      z
        .object({
          name: z.string().min(1),
          namespace: z.string().min(1),
          ip: z.string().min(1).optional(),
          ips: z.array(z.string().min(1)).optional(),
          serviceAccount: z.string().min(1).optional(),
          meshed: z.boolean(),
          /** The pod's sidecar runs in strict mTLS mode. */
          strict: z.boolean().optional(),
        })
        .refine((p) => p.ip !== undefined || p.ips !== undefined, { message: 'a pod needs "ip" (or "ips")' }),
    )
    .default([]),
  services: z
    .array(
      z.object({
        name: z.string().min(1),
        namespace: z.string().min(1),
        vip: z.string().optional(),
        vips: z.array(z.string()).optional(),
        ports: z.array(PortSchema).default([]),
        endpoints: z.array(z.object({ ip: z.string().min(1), port: port.optional() })).default([]),
      }),
    )
    .default([]),
});

export type InventoryFile = z.input<typeof InventoryFileSchema>;

/** Parses the file's text into the builder's input; throws an Error naming the problem. */
export function parseInventoryFile(text: string): MembershipInput {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = InventoryFileSchema.safeParse(doc);
  if (!parsed.success) {
    throw new Error(parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; '));
  }
  const file = parsed.data;
  return {
    pods: file.pods.map((p) => ({
      name: p.name,
      namespace: p.namespace,
      ips: p.ips ?? (p.ip !== undefined ? [p.ip] : []),
      serviceAccount: p.serviceAccount,
      injected: p.meshed,
      ...(p.strict === true ? { strict: true } : {}),
    })),
    services: file.services.map((s) => {
      const ports: MembershipServicePortInput[] = s.ports.map((p) => (typeof p === 'number' ? { port: p } : p));
      const endpoints: MembershipEndpointInput[] = s.endpoints.flatMap((e) => {
        if (e.port !== undefined) return [{ ip: e.ip, port: e.port }];
        return ports.map((p) => ({ ip: e.ip, port: typeof p.targetPort === 'number' ? p.targetPort : p.port, portName: p.name ?? '' }));
      });
      return { name: s.name, namespace: s.namespace, vips: s.vips ?? (s.vip ? [s.vip] : []), ports, endpoints };
    }),
  };
}

export interface FileSourceOptions {
  readonly file: string;
  /** `stat` polling period. Default 1000 ms. */
  readonly pollMs?: number;
  /** Quiet time after a change notice before reading (writers may take several writes). Default 50 ms. */
  readonly settleMs?: number;
  readonly log?: Logger;
}

export interface FileSource extends MembershipSource {
  /** Reads the file now (also what every change notice leads to); resolves once done. */
  reload(): Promise<void>;
}

export function createFileSource(options: FileSourceOptions): FileSource {
  const { file } = options;
  const log = options.log ?? silentLogger;
  const pollMs = options.pollMs ?? 1000;
  const settleMs = options.settleMs ?? 50;
  const listeners = createListeners(log);
  let state: MembershipInput | undefined;
  let lastText: string | undefined;
  let lastProblem: string | undefined;
  let lastStat: string | undefined;
  let watcher: FSWatcher | undefined;
  let poller: NodeJS.Timeout | undefined;
  let settle: NodeJS.Timeout | undefined;
  let stopped = false;
  let loading: Promise<void> = Promise.resolve();

  const problem = (why: string): void => {
    // The same problem is logged once, not once per poll.
    if (why === lastProblem) return;
    lastProblem = why;
    log.warn(
      { event: 'inventory-file-rejected', file, error: why, keepingLastGood: state !== undefined },
      state !== undefined ? 'inventory file not usable; keeping the last good state' : 'inventory file not usable; no membership until it is (it is read again when it changes)',
    );
  };

  const load = async (): Promise<void> => {
    let text: string;
    try {
      // A device or FIFO given by mistake would be read without end.
      const s = await stat(file);
      if (!s.isFile()) {
        problem('not a regular file (the inventory JSON is expected)');
        return;
      }
      if (s.size > MAX_MEMBERSHIP_FILE_BYTES) {
        problem(`${s.size} bytes, more than the ${MAX_MEMBERSHIP_FILE_BYTES} read`);
        return;
      }
      text = await readFile(file, 'utf8');
    } catch (err) {
      problem((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (err as Error).message);
      return;
    }
    if (stopped) return;
    if (text === lastText) {
      lastProblem = undefined;
      return;
    }
    let next: MembershipInput;
    try {
      next = parseInventoryFile(text);
    } catch (err) {
      problem((err as Error).message);
      return;
    }
    lastText = text;
    lastProblem = undefined;
    state = next;
    log.info({ event: 'inventory-file-loaded', file, pods: next.pods.length, services: next.services.length }, 'inventory file loaded');
    listeners.fire();
  };

  const reload = (): Promise<void> => {
    loading = loading.then(load, load);
    return loading;
  };

  const soon = (): void => {
    if (stopped) return;
    clearTimeout(settle);
    settle = setTimeout(() => void reload(), settleMs);
    settle.unref?.();
  };

  const poll = async (): Promise<void> => {
    try {
      const s = await stat(file);
      const key = `${s.ino}:${s.size}:${s.mtimeMs}`;
      if (key !== lastStat) {
        lastStat = key;
        soon();
      }
    } catch {
      if (lastStat !== 'missing') {
        lastStat = 'missing';
        soon();
      }
    }
  };

  return {
    kind: 'file',
    async start() {
      const name = basename(file);
      try {
        watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
          if (changed === null || changed === name || String(changed) === name) soon();
        });
        watcher.on('error', (err) => log.warn({ file, error: err.message }, 'stopped watching the inventory file; polling only'));
      } catch (err) {
        log.warn({ file, error: (err as Error).message }, 'cannot watch the inventory file; polling only');
      }
      poller = setInterval(() => void poll(), pollMs);
      poller.unref?.();
      await poll();
      await reload();
    },
    async stop() {
      stopped = true;
      clearTimeout(settle);
      clearInterval(poller);
      watcher?.close();
      await loading;
    },
    read: () => state,
    onChange: (fn) => listeners.add(fn),
    reload,
  };
}
