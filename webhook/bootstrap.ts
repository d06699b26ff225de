/**
 * Start-time provisioning of the webhook configuration's `caBundle`: the API server must trust
 * the serving certificate, whose CA is created at install time and never stored in git.
 *
 * Guarded: only a MutatingWebhookConfiguration labelled `meshtap.io/ca-bundle: managed` is
 * touched, so a configuration whose caBundle is managed by something else (cert-manager's
 * CA injector, a GitOps tool) is left alone. Nothing is sent when every webhook already has
 * the right value, so restarts and several replicas do not generate writes.
 */
import type { Operation } from 'fast-json-patch';
import type { KubeObject } from './admission.ts';
import { KubeApiError, type KubeClient } from '../lib/kube/kube-client.ts';

export const CA_BUNDLE_LABEL = 'meshtap.io/ca-bundle';
export const CA_BUNDLE_MANAGED = 'managed';

export type CaBundleSyncResult =
  | { status: 'patched'; webhooks: string[] }
  | { status: 'unchanged'; webhooks: string[] }
  | { status: 'not-managed' }
  | { status: 'not-found' };

export interface CaBundleSyncOptions {
  client: Pick<KubeClient, 'getMutatingWebhookConfiguration' | 'patchMutatingWebhookConfiguration'>;
  /** Name of the MutatingWebhookConfiguration. */
  name: string;
  /** PEM CA certificate(s) the serving certificate chains to (the `ca.crt` file). */
  caPem: string;
  /** Attempts when the object changed between read and patch. Default 3. */
  attempts?: number;
}

interface WebhookEntry {
  name?: unknown;
  clientConfig?: { caBundle?: unknown };
}

/** The JSON Patch setting every webhook's caBundle to `caBundle`; empty when nothing differs. */
export function planCaBundlePatch(config: KubeObject, caBundle: string): { patch: Operation[]; webhooks: string[] } {
  const webhooks = Array.isArray(config.webhooks) ? (config.webhooks as WebhookEntry[]) : [];
  const names = webhooks.map((w, i) => (typeof w?.name === 'string' ? w.name : `#${i}`));
  const ops: Operation[] = [];
  webhooks.forEach((w, i) => {
    if (w?.clientConfig?.caBundle === caBundle) return;
    if (!w?.clientConfig) ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig`, value: { caBundle } });
    else ops.push({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle });
  });
  if (ops.length === 0) return { patch: [], webhooks: names };
  // Indexes are only valid for the version we read: make the API server refuse a patch
  // against a newer one (another replica, or someone editing the webhook list).
  const rv = config.metadata?.resourceVersion;
  const guard: Operation[] = typeof rv === 'string' ? [{ op: 'test', path: '/metadata/resourceVersion', value: rv }] : [];
  return { patch: [...guard, ...ops], webhooks: names };
}

export async function syncWebhookCaBundle(options: CaBundleSyncOptions): Promise<CaBundleSyncResult> {
  const caBundle = Buffer.from(options.caPem, 'utf8').toString('base64');
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    let config: KubeObject;
    try {
      config = await options.client.getMutatingWebhookConfiguration(options.name);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return { status: 'not-found' };
      throw err;
    }
    const labels = (config.metadata?.labels ?? {}) as Record<string, unknown>;
    if (labels[CA_BUNDLE_LABEL] !== CA_BUNDLE_MANAGED) return { status: 'not-managed' };
    const { patch, webhooks } = planCaBundlePatch(config, caBundle);
    if (patch.length === 0) return { status: 'unchanged', webhooks };
    try {
      await options.client.patchMutatingWebhookConfiguration(options.name, patch);
      return { status: 'patched', webhooks };
    } catch (err) {
      // 409/422: the object moved on (failed `test`); read it again and re-plan.
      const conflict = err instanceof KubeApiError && (err.status === 409 || err.status === 422);
      if (!conflict || attempt >= attempts) throw err;
    }
  }
}
