/**
 * Error catalog of the admission server, its CLI and its Kubernetes API client.
 * Codes are stable: they appear in HTTP error bodies, logs and the `reason` label of
 * `meshtap_webhook_reviews_total{outcome="bad_request"}`.
 */
import type { MeshtapError } from '../lib/errors.ts';

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
// The Kubernetes API client lives in lib/kube/ (the CA's TokenReview uses it too).
export { WH_ERR_KUBE_API, WH_ERR_KUBE_CONFIG } from '../lib/kube/errors.ts';

const httpStatus: Record<string, number> = {
  [WH_ERR_BAD_JSON]: 400,
  [WH_ERR_BAD_API_VERSION]: 400,
  [WH_ERR_BAD_KIND]: 400,
  [WH_ERR_NO_REQUEST]: 400,
  [WH_ERR_NO_UID]: 400,
  [WH_ERR_NO_OBJECT]: 400,
  [WH_ERR_BAD_REQUEST_FIELD]: 400,
  [WH_ERR_EMPTY_BODY]: 400,
  [WH_ERR_HTTP]: 400,
  [WH_ERR_NOT_FOUND]: 404,
  [WH_ERR_METHOD_NOT_ALLOWED]: 405,
  [WH_ERR_BODY_TOO_LARGE]: 413,
  [WH_ERR_UNSUPPORTED_MEDIA_TYPE]: 415,
};

/** The HTTP status a webhook error code maps to; unknown codes are server faults. */
export function httpStatusForCode(code: string): number {
  return httpStatus[code] ?? 500;
}

/** The JSON body of every non-2xx answer of the webhook server. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function buildErrorBody(err: MeshtapError): ErrorBody {
  return { error: { code: err.code, message: err.message } };
}
