/**
 * The flags the webhook and the controller both take (the controller embeds the webhook),
 * validated in one place so both commands accept the same values and word their usage
 * errors the same way: `meshtap <command>: <flag> ...`, code `CLI_ERR_USAGE` (exit 2). Pure.
 */
import { CLI_ERR_USAGE, parsePort } from './cli.ts';
import { MeshtapError, isMeshtapError } from './errors.ts';

/** The log levels of fastify's logger (pino), which both commands log with. */
export const SERVER_LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** parseArgs options of the shared flags; each command spreads them into its own. */
export const SERVER_FLAGS = {
  host: { type: 'string' },
  config: { type: 'string' },
  namespaces: { type: 'string' },
  'patch-webhook-config': { type: 'string' },
  'strict-namespace-labels': { type: 'boolean' },
  'service-account-dir': { type: 'string' },
  'drain-seconds': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Longest drain a command accepts: beyond that the kubelet's grace period has long run out. */
const MAX_DRAIN_SECONDS = 300;
/** A Kubernetes object name (RFC 1123 subdomain, without the length limit). */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export type ServerFlagValues = {
  [K in Exclude<keyof typeof SERVER_FLAGS, 'help'>]?: (typeof SERVER_FLAGS)[K]['type'] extends 'boolean' ? boolean : string;
};

export interface ServerFlags {
  host: string;
  configFile?: string;
  namespacesFile?: string;
  patchWebhookConfig?: string;
  strictNamespaceLabels: boolean;
  /** Undefined when not given: the caller knows its default. */
  serviceAccountDir?: string;
  drainSeconds: number;
  logLevel: string;
}

/** A usage error naming the command. */
export function commandUsageError(command: string, message: string): MeshtapError {
  return new MeshtapError(CLI_ERR_USAGE, `meshtap ${command}: ${message}`);
}

/** A flag that must be given; `what` tells the user what it points at. */
export function requireFlag(command: string, flag: string, value: string | undefined, what: string): string {
  if (!value) throw commandUsageError(command, `${flag} is required (${what})`);
  return value;
}

/** `parsePort` with the command named in the error. */
export function commandPort(command: string, flag: string, value: string | undefined, fallback: number): number {
  try {
    return parsePort(flag, value, fallback);
  } catch (err) {
    throw isMeshtapError(err, CLI_ERR_USAGE) ? commandUsageError(command, err.message) : err;
  }
}

/** Validates the shared flags: every bad one is named, in one usage error, in a fixed order. */
export function resolveServerFlags(command: string, values: ServerFlagValues): ServerFlags {
  const problems: string[] = [];
  const drain = values['drain-seconds'] ?? '0';
  if (!/^\d+$/.test(drain) || Number(drain) > MAX_DRAIN_SECONDS) problems.push(`--drain-seconds must be a whole number 0-${MAX_DRAIN_SECONDS}, got "${drain}"`);
  const logLevel = values['log-level'] ?? 'info';
  if (!SERVER_LOG_LEVELS.includes(logLevel)) problems.push(`--log-level must be one of ${SERVER_LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const name = values['patch-webhook-config'];
  if (name !== undefined && !OBJECT_NAME.test(name)) problems.push(`--patch-webhook-config must be a Kubernetes object name, got "${name}"`);
  // A flag given empty is a mistake to name, not "not given" (an empty --config served the defaults).
  for (const flag of ['host', 'config', 'namespaces', 'service-account-dir'] as const) {
    const value = values[flag];
    if (value !== undefined && value.trim() === '') problems.push(`--${flag} needs a value, got ""`);
  }
  if (problems.length > 0) throw commandUsageError(command, problems.join('; '));
  return {
    host: values.host ?? '0.0.0.0',
    configFile: values.config,
    namespacesFile: values.namespaces,
    patchWebhookConfig: name,
    strictNamespaceLabels: values['strict-namespace-labels'] ?? false,
    serviceAccountDir: values['service-account-dir'],
    drainSeconds: Number(drain),
    logLevel,
  };
}
