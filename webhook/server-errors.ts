/**
 * Error catalog of the admission server, its CLI and its Kubernetes API client.
 * Codes are stable: they appear in HTTP error bodies, logs and the `reason` label of
 * `meshtap_webhook_reviews_total{outcome="bad_request"}`.
 */
import { defineErrors, type MeshtapError } from '../lib/errors.ts';

const fixReview = 'Send an `admission.k8s.io/v1` AdmissionReview as the API server does; the message names the field.';

export const WH_ERR_BAD_JSON = 'WH_ERR_BAD_JSON';
export const WH_ERR_BAD_API_VERSION = 'WH_ERR_BAD_API_VERSION';
export const WH_ERR_BAD_KIND = 'WH_ERR_BAD_KIND';
export const WH_ERR_NO_REQUEST = 'WH_ERR_NO_REQUEST';
export const WH_ERR_NO_UID = 'WH_ERR_NO_UID';
export const WH_ERR_NO_OBJECT = 'WH_ERR_NO_OBJECT';
export const WH_ERR_BAD_REQUEST_FIELD = 'WH_ERR_BAD_REQUEST_FIELD';
export const WH_ERR_EMPTY_BODY = 'WH_ERR_EMPTY_BODY';
export const WH_ERR_BODY_TOO_LARGE = 'WH_ERR_BODY_TOO_LARGE';
export const WH_ERR_UNSUPPORTED_MEDIA_TYPE = 'WH_ERR_UNSUPPORTED_MEDIA_TYPE';
export const WH_ERR_NOT_FOUND = 'WH_ERR_NOT_FOUND';
export const WH_ERR_METHOD_NOT_ALLOWED = 'WH_ERR_METHOD_NOT_ALLOWED';
export const WH_ERR_HTTP = 'WH_ERR_HTTP';
export const WH_ERR_INTERNAL = 'WH_ERR_INTERNAL';
export const WH_ERR_TLS_FILES = 'WH_ERR_TLS_FILES';
export const WH_ERR_CONFIG = 'WH_ERR_CONFIG';
export const WH_ERR_LISTEN = 'WH_ERR_LISTEN';

export const webhookServerErrors = defineErrors(
  { component: 'webhook', title: 'the admission server and its CLI', prefix: 'WH_ERR_' },
  {
    [WH_ERR_BAD_JSON]: { summary: 'The request body is not valid JSON, or not a JSON object.', action: fixReview, httpStatus: 400 },
    [WH_ERR_BAD_API_VERSION]: {
      summary: 'The AdmissionReview\'s `apiVersion` is not `admission.k8s.io/v1`.',
      action: 'List only `v1` in the webhook configuration\'s `admissionReviewVersions`.',
      httpStatus: 400,
    },
    [WH_ERR_BAD_KIND]: { summary: 'The document\'s `kind` is not `AdmissionReview`.', action: fixReview, httpStatus: 400 },
    [WH_ERR_NO_REQUEST]: { summary: 'The AdmissionReview has no `request` object.', action: fixReview, httpStatus: 400 },
    [WH_ERR_NO_UID]: { summary: 'The review\'s `request.uid` is missing or empty (it must be echoed in the response).', action: fixReview, httpStatus: 400 },
    [WH_ERR_NO_OBJECT]: {
      summary: 'The review\'s `request.object` (or its `metadata`) is missing or not an object.',
      action: fixReview,
      httpStatus: 400,
    },
    [WH_ERR_BAD_REQUEST_FIELD]: { summary: 'A field of the review\'s `request` has the wrong type.', action: fixReview, httpStatus: 400 },
    [WH_ERR_EMPTY_BODY]: { summary: 'The request body is empty.', action: 'POST the AdmissionReview JSON document to `/mutate`.', httpStatus: 400 },
    [WH_ERR_BODY_TOO_LARGE]: {
      summary: 'The request body is larger than the server\'s body limit.',
      action: 'A pod spec this large is unusual: check what sends it; the limit is in the message.',
      httpStatus: 413,
    },
    [WH_ERR_UNSUPPORTED_MEDIA_TYPE]: { summary: 'The request\'s `Content-Type` is not `application/json`.', action: 'Send `Content-Type: application/json`.', httpStatus: 415 },
    [WH_ERR_NOT_FOUND]: {
      summary: 'No such route: the server answers `POST /mutate`, `GET /healthz` and `GET /metrics`.',
      action: 'Point the webhook configuration\'s `clientConfig` path at `/mutate`.',
      httpStatus: 404,
    },
    [WH_ERR_METHOD_NOT_ALLOWED]: { summary: '`/mutate` was called with another method than POST.', action: 'Use POST.', httpStatus: 405 },
    [WH_ERR_HTTP]: { summary: 'Another client error found by the HTTP layer (a malformed request).', action: 'Read the message; it comes from the HTTP server.', httpStatus: 400 },
    [WH_ERR_INTERNAL]: {
      summary: 'The server failed while handling a request (a bug); the pod is admitted unchanged under `failurePolicy: Ignore`.',
      action: 'Report it with the webhook\'s log line for the request.',
      httpStatus: 500,
    },
    [WH_ERR_TLS_FILES]: {
      summary: 'The serving certificate or key in the certificate directory (`--cert-dir`; the controller\'s `--webhook-cert-dir` or `--grpc-cert-dir`) cannot be read or do not form a usable pair.',
      action: 'Create them with `meshtap certs init --dir DIR` and pass the directory the message names with the flag it names (`--cert-dir DIR/webhook` for the webhook).',
    },
    [WH_ERR_CONFIG]: {
      summary: 'The `--config` or `--namespaces` file cannot be read, is not valid YAML, or holds bad injector options.',
      action: 'Fix the file the message names.',
    },
    [WH_ERR_LISTEN]: {
      summary: 'The webhook cannot listen: `--host` does not resolve or is not an address of this machine, or the port (`--port`) is taken or not allowed.',
      action: 'Give `--host` an address of this machine (`0.0.0.0`, `::`, a local IP) and a free `--port`; the message names which of them failed.',
    },
  },
);

/** The HTTP status a webhook error code maps to; unknown codes are server faults. */
export function httpStatusForCode(code: string): number {
  return webhookServerErrors.httpStatus(code) ?? 500;
}

/** The JSON body of every non-2xx answer of the webhook server. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function buildErrorBody(err: MeshtapError): ErrorBody {
  return { error: { code: err.code, message: err.message } };
}
