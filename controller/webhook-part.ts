/**
 * The webhook as the controller runs it. The controller composes the webhook, the CA and the
 * membership feed into one process but does not import the webhook: `bin/meshtap.ts` hands
 * it `webhook/cli.ts`'s functions through this shape, so the import graph keeps one direction
 * (components import `lib/` and `record/`, and the command wires components together).
 */
import type { Logger } from '../lib/log.ts';

/** A PEM certificate chain and its key. */
export interface ServingCertificate {
  cert: string;
  key: string;
}

export interface WebhookStartOptions {
  certDir: string;
  /** The flag that gave `certDir`, which errors about its files name (the webhook's own is `--cert-dir`). */
  certDirFlag?: string;
  port: number;
  host: string;
  configFile?: string;
  namespacesFile?: string;
  /** The MutatingWebhookConfiguration whose caBundle to patch, if any. */
  patchWebhookConfig?: string;
  strictNamespaceLabels: boolean;
  serviceAccountDir: string;
  drainSeconds: number;
  logLevel: string;
}

/** The webhook's fastify logger, which the controller's own logs go through. */
export interface ChildableLogger extends Logger {
  child(bindings: Record<string, unknown>): Logger;
}

export interface StartedWebhook {
  app: { log: ChildableLogger };
  port: number;
  close(): Promise<void>;
}

export interface WebhookPart {
  startWebhook(opts: WebhookStartOptions, io: { stdout: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<StartedWebhook>;
  /** `flag`: the flag that gave `dir`, which errors about its files name. */
  loadServingCertificate(dir: string, flag?: string): Promise<ServingCertificate>;
}
