import { z } from 'zod';
import { MeshtapError } from '../../errors.ts';
import { COL_ERR_INVENTORY_CONFIG } from './errors.ts';
import { DEFAULT_HISTORY_RETENTION_MS, DEFAULT_LOOKUP_GRACE_MS } from './index.ts';
import { INVENTORY_RESOURCES } from './inventory.ts';

const ms = () => z.number().int().nonnegative();

export const kubeInventoryOptionsSchema = z
  .strictObject({
    /** A kubeconfig file; absent → the in-cluster service account. */
    kubeconfig: z.string().min(1).optional(),
    /** Context inside `kubeconfig`; absent → its current context. */
    context: z.string().min(1).optional(),
    resources: z.array(z.enum(INVENTORY_RESOURCES)).min(1).default([...INVENTORY_RESOURCES]),
    historyRetentionMs: ms().default(DEFAULT_HISTORY_RETENTION_MS),
    lookupGraceMs: ms().default(DEFAULT_LOOKUP_GRACE_MS),
    /** First delay before restarting a failed informer; doubles up to `restartMaxMs`. */
    restartInitialMs: ms().default(500),
    restartMaxMs: ms().default(30_000),
    /** An informer that ran this long without failing restarts from `restartInitialMs` again. */
    restartResetAfterMs: ms().default(60_000),
    listTimeoutMs: z.number().int().positive().default(60_000),
    /** Items per list page (`limit`/`continue`); 0 lists everything in one response. */
    listPageSize: z.number().int().nonnegative().default(500),
  })
  .refine((o) => o.context === undefined || o.kubeconfig !== undefined, { message: 'context needs kubeconfig', path: ['context'] })
  .refine((o) => o.restartMaxMs >= o.restartInitialMs, { message: 'restartMaxMs must be at least restartInitialMs', path: ['restartMaxMs'] });

export type KubeInventoryOptions = z.input<typeof kubeInventoryOptionsSchema>;
export type KubeInventoryConfig = Readonly<z.output<typeof kubeInventoryOptionsSchema>>;

export function resolveKubeInventoryOptions(options: KubeInventoryOptions = {}): KubeInventoryConfig {
  const parsed = kubeInventoryOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(options)'}: ${i.message}`);
    throw new MeshtapError(COL_ERR_INVENTORY_CONFIG, `invalid inventory options: ${problems.join('; ')}`);
  }
  return Object.freeze({ ...parsed.data, resources: Object.freeze([...new Set(parsed.data.resources)]) as KubeInventoryConfig['resources'] });
}
