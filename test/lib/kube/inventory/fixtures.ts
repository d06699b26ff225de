import { readFileSync } from 'node:fs';
import { waitFor as sharedWaitFor } from '../../../helpers/wait-for.ts';
import type { InventoryResource } from '../../../../lib/kube/inventory/inventory.ts';
import { InventoryIndex, type InventoryIndexOptions } from '../../../../lib/kube/inventory/index.ts';

type Json = Record<string, any>;

const FIXTURES = new URL('../../../fixtures/k8s/', import.meta.url);

/** Collection paths of the API, as the informers use them. */
export const PATHS: Record<InventoryResource, string> = {
  pods: '/api/v1/pods',
  services: '/api/v1/services',
  endpointslices: '/apis/discovery.k8s.io/v1/endpointslices',
  replicasets: '/apis/apps/v1/replicasets',
  jobs: '/apis/batch/v1/jobs',
  nodes: '/api/v1/nodes',
  namespaces: '/api/v1/namespaces',
};

/** A fresh copy of one fixture list (`pods.json` → PodList …). */
export function loadList(resource: InventoryResource): Json {
  return JSON.parse(readFileSync(new URL(`${resource}.json`, FIXTURES), 'utf8')) as Json;
}

/** One item of a fixture list by name. */
export function fixtureItem(resource: InventoryResource, name: string): Json {
  const item = (loadList(resource).items as Json[]).find((i) => i.metadata.name === name);
  if (!item) throw new Error(`no ${resource} named ${name} in the fixtures`);
  return item;
}

/** RFC 3339 → ns epoch. */
export function ns(iso: string): bigint {
  return BigInt(Date.parse(iso)) * 1_000_000n;
}

export const SECOND = 1_000_000_000n;

/** When the fixtures are "listed" in unit tests. */
export const LISTED_AT = ns('2025-05-01T12:00:00Z');

/** Every fixture applied, in the order given (default: pods before their owners, as an informer race may deliver them). */
export function seededIndex(
  options: InventoryIndexOptions = {},
  order: InventoryResource[] = ['namespaces', 'nodes', 'pods', 'replicasets', 'jobs', 'services', 'endpointslices'],
): InventoryIndex {
  const index = new InventoryIndex(options);
  for (const resource of order) for (const item of loadList(resource).items as Json[]) index.apply(resource, item, LISTED_AT);
  return index;
}

export const waitFor = (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> => sharedWaitFor(what, cond, timeoutMs);
