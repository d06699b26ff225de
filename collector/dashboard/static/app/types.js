// Shapes of the collector API's JSON (collector/README.md, "Record JSON"), for JSDoc only.

/**
 * @typedef {{ ip?: string, port?: number, identity?: string, pod?: string, namespace?: string,
 *   workload?: string, workload_kind?: string, service?: string, node?: string,
 *   labels?: Record<string, string> }} EndpointJson
 * @typedef {{ text: string } | { base64: string }} BodyJson
 * @typedef {{ headers?: Record<string, string>, trailers?: Record<string, string>, body?: BodyJson,
 *   body_size?: number, truncated?: boolean, content_type?: string, content_encoding?: string }} MessageJson
 * @typedef {{ mesh?: boolean, app_tls?: { sni?: string, alpn?: string[], version?: string,
 *   cipher?: string, handshake_us?: number, error?: string } }} TlsJson
 * @typedef {{ id: string, protocol?: string, observer?: string, connection_id?: string, ordinal?: number,
 *   start: string, request_end?: string, response_start?: string, end: string, elapsed_us?: number,
 *   src?: EndpointJson, dst?: EndpointJson, tls?: TlsJson, method?: string, path?: string,
 *   authority?: string, status_code?: number, grpc_status?: number, grpc_message?: string, dns_rcode?: string, request?: MessageJson,
 *   response?: MessageJson, bytes_in?: number, bytes_out?: number, error?: string,
 *   error_detail?: string, close_reason?: string, trace_id?: string, span_id?: string,
 *   parent_span_id?: string, redacted?: string[], sensitive?: string[],
 *   parent_id?: string }} CallJson  parent_id: the parent record's id, as the trace API links it
 */

export {};
