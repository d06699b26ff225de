/**
 * The collector's error codes. They also appear in HTTP error bodies (`{ error: { code, message } }`).
 * The filter language, the inventory, the OpenTelemetry output and the dashboard keep their
 * `COL_ERR_*` codes in their own folders (`filter/errors.ts`, ...), in the same shape.
 */
import { defineErrors } from '../lib/errors.ts';

export const COL_ERR_CONFIG = 'COL_ERR_CONFIG';
export const COL_ERR_BAD_QUERY = 'COL_ERR_BAD_QUERY';
export const COL_ERR_NOT_FOUND = 'COL_ERR_NOT_FOUND';
export const COL_ERR_FILTER_UNSUPPORTED = 'COL_ERR_FILTER_UNSUPPORTED';
export const COL_ERR_STORE = 'COL_ERR_STORE';
export const COL_ERR_INTERNAL = 'COL_ERR_INTERNAL';
export const COL_ERR_LISTEN = 'COL_ERR_LISTEN';
export const COL_ERR_TLS = 'COL_ERR_TLS';
export const COL_ERR_UNAUTHENTICATED = 'COL_ERR_UNAUTHENTICATED';
export const COL_ERR_AUTH_UNAVAILABLE = 'COL_ERR_AUTH_UNAVAILABLE';
export const COL_ERR_AUTH_CONFIG = 'COL_ERR_AUTH_CONFIG';
export const COL_ERR_HOST = 'COL_ERR_HOST';
export const COL_ERR_STREAM_FULL = 'COL_ERR_STREAM_FULL';

export const collectorErrors = defineErrors(
  { component: 'collector', title: 'the collector process, its store and HTTP API', prefix: 'COL_ERR_' },
  {
    [COL_ERR_CONFIG]: {
      summary: 'A collector option (flag or `MESHTAP_COLLECTOR_*` / `MESHTAP_LOKI_*` variable) has a value the collector cannot use.',
      action: 'Fix the options the message names; `meshtap collector --help` lists them.',
    },
    [COL_ERR_BAD_QUERY]: {
      summary: 'An API request has a bad query parameter (`limit`, `since`, a repeated `filter`) or is otherwise malformed.',
      action: 'Fix the parameter the message names.',
      httpStatus: 400,
    },
    [COL_ERR_NOT_FOUND]: {
      summary: 'No such call, trace or route.',
      action: 'Check the id; calls leave the store after the retention period.',
      httpStatus: 404,
    },
    [COL_ERR_FILTER_UNSUPPORTED]: {
      summary: 'A filter uses a part of the language the store cannot evaluate (reserved: nothing raises it today; the filter codes below cover what is refused).',
      action: 'Rewrite the filter with the fields and functions listed in collector/filter/README.md.',
      httpStatus: 400,
    },
    [COL_ERR_STORE]: {
      summary: 'The embedded SQLite store cannot be opened or used (unreadable file, a database of another version or another program).',
      action: 'Point the collector at another database file or remove the old one; the message names the file.',
    },
    [COL_ERR_INTERNAL]: {
      summary: 'The API failed while handling a request (a bug).',
      action: 'Report it with the collector\'s log line for the request.',
      httpStatus: 500,
    },
    [COL_ERR_LISTEN]: {
      summary: 'The gRPC ingest or HTTP port could not be bound.',
      action: 'Free the port the message names or choose another (`--grpc-port`, `--http-port`, `--host`).',
    },
    [COL_ERR_TLS]: {
      summary: 'The ingest certificate, key or trust bundle in `--tls-cert-dir` cannot be read or used.',
      action: 'Create them with `meshtap certs` and check the directory the message names.',
    },
    [COL_ERR_UNAUTHENTICATED]: {
      summary: 'A request for call data came without a valid bearer token (or dashboard session).',
      action: 'Send `Authorization: Bearer <token>`: a token from the collector\'s token file (`--auth token`), or a Kubernetes token of a user allowed to get calls.meshtap.io (`--auth kubernetes`); the lab\'s is in `meshtap lab status --json`.',
      httpStatus: 401,
    },
    [COL_ERR_AUTH_UNAVAILABLE]: {
      summary: 'The collector could not check a token: the Kubernetes API server did not answer the TokenReview.',
      action: 'Try again; check the API server is reachable from the collector and its RBAC allows creating TokenReviews and SubjectAccessReviews.',
      httpStatus: 503,
    },
    [COL_ERR_AUTH_CONFIG]: {
      summary: 'The API authentication cannot be set up: the token file is missing, unreadable, empty or has a line that cannot be a token, or `--auth kubernetes` has no API server to ask.',
      action: 'Fix the file or setting the message names (`--auth-token-file` holds one token per line, each one word; use 16 characters or more, shorter ones are warned about).',
    },
    [COL_ERR_HOST]: {
      summary: 'A request to an API bound to loopback named another host in its Host header (a DNS-rebinding attempt, or a proxy that rewrites Host).',
      action: 'Reach the API as 127.0.0.1, localhost or [::1], or bind it to another address with `--http-host`.',
      httpStatus: 403,
    },
    [COL_ERR_STREAM_FULL]: {
      summary: 'The collector already serves its maximum of live stream clients (`--max-stream-clients`).',
      action: 'Close streams that are no longer watched, retry later, or raise `--max-stream-clients`.',
      httpStatus: 503,
    },
  },
);

