import { Counter, Gauge, type Registry } from 'prom-client';
import type { InventoryResource } from './inventory.ts';

export interface InventoryMetrics {
  lastEvent: Gauge<'resource'>;
  restarts: Counter<'resource'>;
  synced: Gauge<'resource'>;
}

/**
 * The inventory's staleness signals. `objects` is read from the index at scrape time.
 * Register one inventory per registry: the names are fixed.
 */
export function createInventoryMetrics(registry: Registry, resources: readonly InventoryResource[], objects: () => Record<InventoryResource, number>): InventoryMetrics {
  const registers = [registry];
  const lastEvent = new Gauge({
    name: 'meshtap_inventory_last_event_seconds',
    help: 'Unix time of the last list or watch event (bookmarks included), by resource; now minus this is how stale the view may be.',
    labelNames: ['resource'] as const,
    registers,
  });
  const restarts = new Counter({
    name: 'meshtap_inventory_restarts_total',
    help: 'Informer restarts after an error (failed list, broken watch), by resource.',
    labelNames: ['resource'] as const,
    registers,
  });
  const synced = new Gauge({
    name: 'meshtap_inventory_synced',
    help: '1 once the first list of the resource succeeded.',
    labelNames: ['resource'] as const,
    registers,
  });
  new Gauge({
    name: 'meshtap_inventory_objects',
    help: 'Live objects held by the inventory, by resource.',
    labelNames: ['resource'] as const,
    registers,
    collect() {
      const counts = objects();
      for (const resource of resources) this.set({ resource }, counts[resource]);
    },
  });
  for (const resource of resources) {
    restarts.inc({ resource }, 0);
    synced.set({ resource }, 0);
  }
  return { lastEvent, restarts, synced };
}
