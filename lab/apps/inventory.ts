/**
 * Shop app `inventory`: stock levels, served over gRPC (`shop.Inventory`, lab/apps/inventory.proto)
 * with a real `@grpc/grpc-js` server and gRPC server reflection on.
 *
 *   Reserve(ReserveRequest{sku, quantity}) → Reservation{id, remaining}
 *     NOT_FOUND for a sku the inventory does not stock (by default sku-5, the print-on-demand
 *     cookbook: about one checkout item in five), INVALID_ARGUMENT for a quantity below 1.
 *     A shelf that runs low is restocked to its starting level, so the shop never sells out.
 *   WatchStock(StockRequest{sku}) → stream StockLevel{sku, level}
 *     the level now, then WATCH_UPDATES - 1 more every WATCH_INTERVAL_MS; then OK.
 *     NOT_FOUND for an unknown sku.
 *
 * One JSON log line per RPC (`rpc`, `sku`, `code`, `ms`, `messages` for the stream). Client
 * connections are closed gracefully after 20 s (`grpc.max_connection_age_ms`) and reopened by
 * the client.
 *
 * Env: GRPC_PORT (50051; 0 picks a free one), INVENTORY_STOCK (sku-1:40,sku-2:12,sku-3:100,sku-4:250),
 * WATCH_UPDATES (5), WATCH_INTERVAL_MS (200).
 */
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { ConfigError, envInt, envString, loadConfig, log } from './_common.ts';
import { loadInventory, type Reservation, type ReserveRequest, type StockLevel, type StockRequest } from './_inventory-proto.ts';

const config = loadConfig('inventory', () => {
  const raw = envString('INVENTORY_STOCK', 'sku-1:40,sku-2:12,sku-3:100,sku-4:250');
  const stock = new Map<string, number>();
  for (const pair of raw.split(',')) {
    const m = /^\s*([\w.-]+):(\d{1,9})\s*$/.exec(pair);
    if (!m) throw new ConfigError(`INVENTORY_STOCK=${JSON.stringify(raw)}: expected sku:level pairs separated by commas`);
    stock.set(m[1], Number(m[2]));
  }
  return {
    port: envInt('GRPC_PORT', 50051, { min: 0, max: 65535 }),
    stock,
    watchUpdates: envInt('WATCH_UPDATES', 5, { min: 1, max: 1000 }),
    watchIntervalMs: envInt('WATCH_INTERVAL_MS', 200, { min: 0, max: 60_000 }),
  };
});

const initial = new Map(config.stock);
const levels = new Map(config.stock);
let reservations = 0;

const notFound = (sku: string): Partial<grpc.StatusObject> => ({ code: grpc.status.NOT_FOUND, details: `sku ${JSON.stringify(sku)} is not stocked` });

function logRpc(rpc: string, sku: string, code: grpc.status, started: number, extra: Record<string, unknown> = {}): void {
  log('inventory', { rpc, sku, code: grpc.status[code], ms: Math.round(performance.now() - started), ...extra });
}

const handlers: grpc.UntypedServiceImplementation = {
  Reserve(call: grpc.ServerUnaryCall<ReserveRequest, Reservation>, done: grpc.sendUnaryData<Reservation>) {
    const started = performance.now();
    const { sku, quantity } = call.request;
    const level = levels.get(sku);
    if (level === undefined) {
      logRpc('Reserve', sku, grpc.status.NOT_FOUND, started);
      done(notFound(sku));
      return;
    }
    if (!Number.isInteger(quantity) || quantity < 1) {
      logRpc('Reserve', sku, grpc.status.INVALID_ARGUMENT, started);
      done({ code: grpc.status.INVALID_ARGUMENT, details: `quantity must be at least 1, got ${quantity}` });
      return;
    }
    let now = level;
    if (now < quantity) {
      now = Math.max(initial.get(sku) ?? 0, quantity);
      log('inventory', { msg: 'restocked', sku, level: now });
    }
    levels.set(sku, now - quantity);
    const reservation = { id: `rsv_${(++reservations).toString().padStart(6, '0')}`, remaining: now - quantity };
    logRpc('Reserve', sku, grpc.status.OK, started, { quantity, remaining: reservation.remaining });
    done(null, reservation);
  },

  WatchStock(call: grpc.ServerWritableStream<StockRequest, StockLevel>) {
    const started = performance.now();
    const { sku } = call.request;
    if (!levels.has(sku)) {
      logRpc('WatchStock', sku, grpc.status.NOT_FOUND, started);
      // grpc-js ends a server stream with the status of an 'error' it emits.
      call.emit('error', notFound(sku));
      return;
    }
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const send = () => {
      if (call.cancelled || call.destroyed) {
        logRpc('WatchStock', sku, grpc.status.CANCELLED, started, { messages: sent });
        return;
      }
      call.write({ sku, level: levels.get(sku) ?? 0 });
      sent++;
      if (sent >= config.watchUpdates) {
        call.end();
        logRpc('WatchStock', sku, grpc.status.OK, started, { messages: sent });
        return;
      }
      timer = setTimeout(send, config.watchIntervalMs);
    };
    call.on('cancelled', () => clearTimeout(timer));
    send();
  },
};

const { packageDefinition, Inventory } = loadInventory();
// Connections are recycled every 20 s (GOAWAY, then 5 s for calls in flight), as gRPC servers
// behind load balancers often are: the gateway's one long-lived channel would otherwise stay on
// one connection for the lab's whole life, and anything that happened to that connection early
// (capture cut at a gap, which HTTP/2's header compression cannot resume) would last as long.
const server = new grpc.Server({ 'grpc.max_connection_age_ms': 20_000, 'grpc.max_connection_age_grace_ms': 5_000 });
server.addService(Inventory.service, handlers);
// Server reflection (grpc.reflection.v1 and v1alpha): grpcurl, Postman or a sidecar can list
// the services and fetch their descriptors without the .proto file.
new ReflectionService(packageDefinition).addToServer(server);

const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(`0.0.0.0:${config.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
);
log('inventory', { msg: 'listening', port, pod: process.env.HOSTNAME, skus: [...levels.keys()], reflection: true });

let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  log('inventory', { msg: 'stopping', signal });
  // In-flight calls get a moment; then whatever is still open is cut.
  const force = setTimeout(() => {
    server.forceShutdown();
    process.exit(0);
  }, 3000);
  force.unref();
  server.tryShutdown(() => {
    clearTimeout(force);
    process.exit(0);
  });
}
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
