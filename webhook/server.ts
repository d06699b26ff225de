/**
 * The admission webhook's HTTPS shell: `POST /mutate` (AdmissionReview admission.k8s.io/v1),
 * `GET /healthz`, `GET /metrics`. Decisions are made by the pure code in `admission.ts` and
 * the injector passed in; this file owns the IO around them: body limits, timeouts, content
 * types, the namespace-label lookup, logs and metrics.
 *
 * Whatever happens after a review has been parsed, the answer is "allowed" (with or without
 * a patch): meshtap must never be the reason a pod cannot be created, even though the webhook
 * configuration's `failurePolicy: Ignore` would cover a failure too. Only input that is not a
 * valid AdmissionReview gets a 4xx, with the body `{ "error": { "code", "message" } }`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { MeshtapError } from '../lib/errors.ts';
import { withTimeout } from '../lib/with-timeout.ts';
import { pinoJsonOptions } from '../lib/log.ts';
import {
  assumedOptedInLabels,
  classifyAdmissionRequest,
  describePodName,
  parseAdmissionReview,
  passReview,
  reviewPod,
  buildAdmissionResponse,
  skipWarnings,
  type AdmissionRequest,
  type InjectFn,
  type ReviewResult,
} from './admission.ts';
import { MTLS_MODE_ANNOTATION } from './annotations.ts';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.ts';
import {
  WH_ERR_BODY_TOO_LARGE,
  WH_ERR_EMPTY_BODY,
  WH_ERR_HTTP,
  WH_ERR_INTERNAL,
  WH_ERR_METHOD_NOT_ALLOWED,
  WH_ERR_NOT_FOUND,
  WH_ERR_UNSUPPORTED_MEDIA_TYPE,
  buildErrorBody,
  httpStatusForCode,
} from './server-errors.ts';

export const DEFAULT_BODY_LIMIT = 3 * 1024 * 1024;

/** Reads a namespace's labels (from the Kubernetes API in a cluster). */
export type NamespaceLabelLookup = (name: string) => Promise<Record<string, string>>;

export interface ServingCertificate {
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
}

/** What fastify's own pino logger is given: its level and where its lines go (stdout). */
export interface PinoSettings {
  level?: string;
  stream?: NodeJS.WritableStream;
}

export interface WebhookServerOptions {
  tls: ServingCertificate;
  /** The injector with its configuration bound (`(input) => injectPod({ ...input, config })`). */
  inject: InjectFn;
  /**
   * How to learn the labels of the pod's namespace; the AdmissionReview does not carry them.
   * Without a lookup, see `assumeNamespaceOptedIn`.
   */
  namespaceLabels?: NamespaceLabelLookup;
  /**
   * Optional: the namespace's annotations (namespace-wide defaults such as the mTLS mode).
   * A failure here only drops the defaults; it never changes the decision to inject.
   */
  namespaceAnnotations?: NamespaceLabelLookup;
  /**
   * When the namespace's labels cannot be known (no lookup given, or the lookup failed), treat
   * the namespace as opted in (`meshtap.io/inject=enabled`). Safe by construction: the API
   * server only sends reviews matching the webhook configuration's namespaceSelector /
   * objectSelector, i.e. from an opted-in namespace or for an opted-in pod. The injector still
   * applies every other rule (system namespaces, hostNetwork, pod opt-out, existing proxies).
   * Set false to skip injection instead (reason `namespace-labels-unknown`). Default true.
   */
  assumeNamespaceOptedIn?: boolean;
  /** Bound on one namespace lookup, so the API server's webhook timeout (5 s) is never hit. Default 2000. */
  namespaceLookupTimeoutMs?: number;
  /**
   * A pino-compatible logger, options for fastify's own pino (level, destination stream: its
   * lines shaped as every meshtap component's, `pinoJsonOptions`), or false for none. Default:
   * pino at level info on stdout.
   */
  logger?: FastifyBaseLogger | boolean | PinoSettings;
  metrics?: WebhookMetrics;
  /** Largest accepted body in bytes; larger → 413. Default 3 MiB (the API server's own request limit). */
  bodyLimit?: number;
  /** Whole-request receive deadline (Node's `server.requestTimeout`). Default 10 s. */
  requestTimeoutMs?: number;
  /** Idle socket timeout. Default 30 s. */
  connectionTimeoutMs?: number;
  /** Keep-alive idle timeout; the API server reuses connections. Default 65 s. */
  keepAliveTimeoutMs?: number;
  /** Monotonic clock in seconds, for the duration histogram. */
  now?: () => number;
}

export type WebhookServer = FastifyInstance<HttpsServer, IncomingMessage, ServerResponse, FastifyBaseLogger>;

type LabelSource = 'api' | 'assumed' | 'assumed-after-error' | 'unknown';

function monotonicSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

function lookupTimedOut(what: string, ms: number): Error {
  return new Error(`${what} timed out after ${ms} ms`);
}

/** Fastify's `logger` option for what `options.logger` gives when it is no logger instance. */
function fastifyLogger(logger: boolean | PinoSettings | undefined): boolean | ReturnType<typeof pinoJsonOptions> {
  if (logger === undefined) return pinoJsonOptions('info');
  return typeof logger === 'object' ? pinoJsonOptions(logger.level ?? 'info', logger.stream) : logger;
}

function isLogger(v: unknown): v is FastifyBaseLogger {
  return typeof v === 'object' && v !== null && typeof (v as FastifyBaseLogger).info === 'function';
}

/** Replaces the serving certificate of a running server; new TLS handshakes use it. */
export function setServingCertificate(app: WebhookServer, tls: ServingCertificate): void {
  app.server.setSecureContext({ key: tls.key, cert: tls.cert });
}

/** Maps any error reaching fastify's error handler onto our catalog. */
function toWebhookError(err: FastifyError | MeshtapError, bodyLimit: number, contentType: string | undefined): MeshtapError {
  if (err instanceof MeshtapError) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new MeshtapError(
        WH_ERR_UNSUPPORTED_MEDIA_TYPE,
        `Content-Type must be application/json, got ${contentType ? JSON.stringify(contentType) : 'none'}`,
        { cause: err },
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new MeshtapError(WH_ERR_BODY_TOO_LARGE, `request body is larger than the limit of ${bodyLimit} bytes`, { cause: err });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new MeshtapError(WH_ERR_EMPTY_BODY, 'request body is empty: expected an AdmissionReview JSON document', { cause: err });
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return new MeshtapError(WH_ERR_HTTP, err.message, { cause: err });
  return new MeshtapError(WH_ERR_INTERNAL, 'internal error while handling the request', { cause: err });
}

/** Builds the fastify instance (not listening yet): `await app.listen({ port, host })`. */
export function buildWebhookServer(options: WebhookServerOptions): WebhookServer {
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const metrics = options.metrics ?? createWebhookMetrics();
  const now = options.now ?? monotonicSeconds;
  const assumeOptedIn = options.assumeNamespaceOptedIn ?? true;
  const lookupTimeoutMs = options.namespaceLookupTimeoutMs ?? 2000;
  const inject = options.inject;
  const lookup = options.namespaceLabels;

  const common = {
    https: { key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' as const },
    bodyLimit,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    connectionTimeout: options.connectionTimeoutMs ?? 30_000,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 65_000,
    // One structured line per review is logged below; fastify's per-request lines would double it.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  };
  const app = (
    isLogger(options.logger)
      ? Fastify({ ...common, loggerInstance: options.logger })
      : Fastify({ ...common, logger: fastifyLogger(options.logger as boolean | PinoSettings | undefined) })
  ) as unknown as WebhookServer;

  // We parse the AdmissionReview ourselves so that malformed JSON gets our error code and message.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));

  async function namespaceLabelsFor(
    namespace: string,
    log: FastifyBaseLogger,
  ): Promise<{ labels: Record<string, string> | undefined; source: LabelSource }> {
    if (!lookup) {
      return assumeOptedIn ? { labels: assumedOptedInLabels(namespace), source: 'assumed' } : { labels: undefined, source: 'unknown' };
    }
    try {
      return { labels: await withTimeout(lookup(namespace), lookupTimeoutMs, () => lookupTimedOut(`labels of namespace ${namespace}`, lookupTimeoutMs)), source: 'api' };
    } catch (err) {
      log.warn({ err, namespace }, 'namespace label lookup failed');
      return assumeOptedIn
        ? { labels: assumedOptedInLabels(namespace), source: 'assumed-after-error' }
        : { labels: undefined, source: 'unknown' };
    }
  }

  async function review(req: AdmissionRequest, log: FastifyBaseLogger): Promise<{ result: ReviewResult; labelSource?: LabelSource }> {
    const target = classifyAdmissionRequest(req);
    if (target.type === 'pass') return { result: passReview(req.uid, target.reason) };
    const { labels, source } = await namespaceLabelsFor(target.namespace, log);
    if (!labels) {
      const detail = `the labels of namespace "${target.namespace}" could not be read, and the webhook does not assume it opted in`;
      return {
        result: {
          outcome: 'skipped',
          reasons: ['namespace-labels-unknown'],
          details: { 'namespace-labels-unknown': detail },
          // The pod may have been meant to be injected: whoever created it is told, as for other skips.
          review: buildAdmissionResponse(req.uid, [], skipWarnings(['namespace-labels-unknown'], { 'namespace-labels-unknown': detail })),
        },
        labelSource: source,
      };
    }
    let namespaceAnnotations: Record<string, string> | undefined;
    // A namespace may ask for strict mTLS. When its settings could not be read, guessing the
    // permissive default would silently open a strict namespace, so the pod gets strict.
    const failClosed = { [MTLS_MODE_ANNOTATION]: 'strict' };
    if (source === 'assumed-after-error') {
      namespaceAnnotations = failClosed;
      log.warn({ namespace: target.namespace }, 'namespace unknown after a failed lookup; injecting with strict mTLS');
    } else if (options.namespaceAnnotations && source === 'api') {
      try {
        namespaceAnnotations = await withTimeout(options.namespaceAnnotations(target.namespace), lookupTimeoutMs, () =>
          lookupTimedOut(`annotations of namespace ${target.namespace}`, lookupTimeoutMs),
        );
      } catch (err) {
        namespaceAnnotations = failClosed;
        log.warn({ err, namespace: target.namespace }, 'namespace annotation lookup failed; injecting with strict mTLS');
      }
    }
    const input = { pod: target.pod, namespace: target.namespace, namespaceLabels: labels, ...(namespaceAnnotations ? { namespaceAnnotations } : {}) };
    return { result: reviewPod(req.uid, input, inject), labelSource: source };
  }

  app.post('/mutate', async (request: FastifyRequest, reply: FastifyReply) => {
    const started = now();
    if (request.body === undefined || request.body === null) {
      throw new MeshtapError(WH_ERR_EMPTY_BODY, 'request body is empty: expected an AdmissionReview (admission.k8s.io/v1) JSON document');
    }
    const req = parseAdmissionReview(request.body as Buffer);
    const pod = req.kind.kind === 'Pod' ? describePodName(req.object) : {};
    const fields = {
      uid: req.uid,
      kind: req.kind.kind,
      operation: req.operation,
      namespace: req.namespace || undefined,
      name: req.name || pod.name,
      generateName: pod.generateName,
      dryRun: req.dryRun,
    };
    let result: ReviewResult;
    let labelSource: LabelSource | undefined;
    try {
      ({ result, labelSource } = await review(req, request.log));
    } catch (err) {
      if (err instanceof MeshtapError) throw err; // a request we cannot interpret: 400
      result = { outcome: 'error', reasons: ['internal-error'], review: buildAdmissionResponse(req.uid), error: err };
    }
    const seconds = now() - started;
    metrics.recordReview(result.outcome, result.reasons, seconds);
    const line = {
      ...fields,
      outcome: result.outcome,
      reasons: result.reasons,
      details: result.details,
      namespaceLabels: labelSource,
      durationMs: Math.round(seconds * 1e6) / 1e3,
    };
    if (result.outcome === 'error') {
      request.log.error({ ...line, err: result.error }, 'admission review failed; pod admitted unchanged');
    } else {
      request.log.info(line, 'admission review');
    }
    return reply.code(200).send(result.review);
  });

  app.route({
    method: ['GET', 'PUT', 'PATCH', 'DELETE'],
    url: '/mutate',
    handler: async () => {
      throw new MeshtapError(WH_ERR_METHOD_NOT_ALLOWED, '/mutate only accepts POST with an AdmissionReview JSON body');
    },
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });

  app.setNotFoundHandler(async (request) => {
    throw new MeshtapError(
      WH_ERR_NOT_FOUND,
      `no route for ${request.method} ${request.url.split('?')[0]}: this server answers POST /mutate, GET /healthz, GET /metrics`,
    );
  });

  app.setErrorHandler(async (raw: FastifyError | MeshtapError, request, reply) => {
    const err = toWebhookError(raw, bodyLimit, request.headers['content-type']);
    const status = httpStatusForCode(err.code);
    // Whatever the path or method: a webhook configuration pointing at the wrong path sends
    // its reviews to the 404, and this counter is how that shows.
    metrics.recordReview('bad_request', [err.code], 0);
    if (status >= 500) {
      request.log.error({ err: raw, url: request.url }, 'request failed');
    } else {
      request.log.warn({ code: err.code, status, method: request.method, url: request.url, error: err.message }, 'rejected request');
    }
    // An oversized or unread body must not be parsed as the next request on this connection.
    if (status === 413) reply.header('connection', 'close');
    return reply.code(status).send(buildErrorBody(err));
  });

  return app;
}
