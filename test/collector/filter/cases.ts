/**
 * Filter expressions over the fixture records with the ids they must match, worked out by
 * reading the fixtures (not by running the filter).
 */
export interface FilterCase {
  filter: string;
  ids: string[];
}

const all = ['r01', 'r02', 'r03', 'r04', 'r05', 'r06', 'r07', 'r08', 'r09', 'r10', 'r11', 'r12'];
const except = (...ids: string[]): string[] => all.filter((id) => !ids.includes(id));

export const CASES: FilterCase[] = [
  { filter: '', ids: all },
  { filter: 'true', ids: all },
  { filter: 'false', ids: [] },
  { filter: 'http', ids: ['r01', 'r02', 'r08', 'r09', 'r10', 'r12'] },
  { filter: 'http2', ids: ['r03'] },
  { filter: 'grpc', ids: ['r04', 'r05'] },
  { filter: 'tcp', ids: ['r06'] },
  { filter: 'mesh', ids: ['r01', 'r02', 'r04', 'r05', 'r08', 'r09', 'r10'] },
  { filter: '!mesh', ids: ['r03', 'r06', 'r07', 'r11', 'r12'] },
  { filter: 'tls_app', ids: ['r07'] },
  { filter: 'http && method == "POST" && status_code >= 500 && dst.namespace == "shop"', ids: ['r01'] },
  { filter: 'method == "GET"', ids: ['r02', 'r03', 'r09', 'r12'] },
  // Absent method (tcp, tls, redis) is neither equal nor unequal to "GET".
  { filter: 'method != "GET"', ids: ['r01', 'r04', 'r05', 'r08', 'r10'] },
  { filter: 'status_code >= 400', ids: ['r01', 'r08', 'r09'] },
  { filter: '!(status_code < 400)', ids: ['r01', 'r08', 'r09'] },
  { filter: 'status_code in [200, 204]', ids: ['r02', 'r03', 'r04', 'r05', 'r12'] },
  { filter: 'status_code == 200.0', ids: ['r02', 'r04', 'r05', 'r12'] },
  { filter: 'request.headers["content-type"].contains("json")', ids: ['r01', 'r08', 'r10'] },
  { filter: 'response.body.contains("order-42")', ids: ['r12'] },
  { filter: 'request.body.contains("order-42")', ids: ['r01'] },
  { filter: '"jwt" in sensitive', ids: ['r01'] },
  { filter: '"email" in sensitive', ids: ['r08', 'r12'] },
  { filter: 'src.workload == "frontend" && elapsed_us > 100000', ids: ['r01', 'r10'] },
  // The request/response phase times: the server's think time, between the request's last byte and the response's first.
  { filter: 'response_start - request_end > duration("100ms")', ids: ['r01'] },
  { filter: 'has(call.request_end) && has(call.response_start)', ids: ['r01', 'r02'] },
  { filter: 'request_end >= start && response_start <= end', ids: ['r01', 'r02'] },
  { filter: 'path.startsWith("/api/")', ids: ['r01', 'r02', 'r08', 'r10', 'r12'] },
  { filter: 'path.matches("^/orders/[0-9]+$")', ids: ['r09'] },
  { filter: 'path.matches("^/api/orders/[0-9]+$")', ids: ['r01', 'r10'] },
  { filter: 'dst.namespace == "shop" || dst.namespace == "auth"', ids: except('r06', 'r07', 'r11') },
  { filter: 'src.namespace.startsWith("shop")', ids: except('r06') },
  { filter: 'src.namespace == "shop"', ids: except('r06', 'r12') },
  { filter: '!has(src.pod)', ids: ['r06'] },
  { filter: 'has(call.status_code) && !has(call.grpc_status)', ids: ['r01', 'r02', 'r03', 'r08', 'r09', 'r12'] },
  { filter: 'grpc && grpc_status != 0', ids: ['r04'] },
  { filter: 'grpc_service == "payment.Payment"', ids: ['r04'] },
  { filter: 'grpc && grpc_method == "List"', ids: ['r05'] },
  // Not gRPC: the service is empty even where the path has two segments.
  { filter: 'grpc_service == ""', ids: except('r04', 'r05') },
  { filter: 'error == "timeout" || error == "reset"', ids: ['r06', 'r10'] },
  { filter: 'has(call.error)', ids: ['r06', 'r10'] },
  { filter: 'error != "reset"', ids: ['r10'] },
  { filter: '!(error == "reset")', ids: ['r10'] },
  { filter: 'elapsed_us >= 100000 && elapsed_us < 2000000', ids: ['r01', 'r04', 'r09'] },
  { filter: 'elapsed_us > 1e6', ids: ['r04', 'r06', 'r10'] },
  { filter: 'start > timestamp("2023-11-14T22:13:25.000000123Z")', ids: ['r07', 'r08', 'r09', 'r10', 'r11', 'r12'] },
  {
    filter: 'start >= timestamp("2023-11-14T22:13:25.000000123Z") && start < timestamp("2023-11-14T22:13:28Z")',
    ids: ['r06', 'r07', 'r08'],
  },
  { filter: 'src.labels["app"] == "frontend" && dst.labels.app == "payment"', ids: ['r01', 'r10'] },
  { filter: '"version" in dst.labels', ids: ['r09'] },
  { filter: 'tls.app_tls.sni == "example.com" && "h2" in tls.app_tls.alpn', ids: ['r07'] },
  { filter: 'request.truncated', ids: ['r12'] },
  { filter: 'request.body_size >= 1000000', ids: ['r12'] },
  { filter: 'response.trailers["grpc-message"] == "unavailable"', ids: ['r04'] },
  { filter: 'size(redacted) > 0', ids: ['r01', 'r08'] },
  { filter: 'observer == "inbound"', ids: ['r02', 'r09'] },
  { filter: 'method.lowerAscii() == "put"', ids: ['r10'] },
  { filter: 'authority.endsWith(".shop")', ids: ['r01', 'r02', 'r09', 'r10'] },
  {
    filter: 'dst.identity == "spiffe://cluster.local/ns/shop/sa/payment" && !(method in ["GET", "HEAD"])',
    ids: ['r01', 'r04', 'r10'],
  },
  { filter: 'protocol in ["redis", "postgres", "tcp"]', ids: ['r06', 'r11'] },
  { filter: 'sensitive.exists(s, s.startsWith("pass"))', ids: ['r08'] },
  { filter: 'dst.port == 5432 || dst.port == 6379', ids: ['r06', 'r11'] },
  { filter: 'path.contains("ünïcode")', ids: ['r12'] },
  { filter: 'path > "/api/z"', ids: ['r03', 'r04', 'r05', 'r09', 'r12'] },
  { filter: '!(http || grpc)', ids: ['r03', 'r06', 'r07', 'r11'] },
  { filter: 'trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"', ids: ['r01'] },
  { filter: 'id == "r05"', ids: ['r05'] },
  { filter: 'call.request.headers.exists(h, h.startsWith("x-"))', ids: ['r08'] },
  { filter: 'mesh == false && dst.namespace == "data"', ids: ['r06', 'r11'] },
  { filter: 'response.body.startsWith("{") && response.content_type == "application/json"', ids: ['r02'] },
  { filter: 'request.body.contains("A")', ids: ['r04'] },
  { filter: 'http &&\n  dst.workload == "payment" &&\n  status_code == 200', ids: ['r12'] },
  // A conditional's branches of one type; dyn() when two types are meant.
  { filter: '(http ? status_code : 0) >= 400', ids: ['r01', 'r08', 'r09'] },
  { filter: '(http ? dyn(status_code) : "not http") == "not http"', ids: except('r01', 'r02', 'r08', 'r09', 'r10', 'r12') },
];
