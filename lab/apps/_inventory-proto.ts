/**
 * `shop.Inventory` (lab/apps/inventory.proto) for the inventory server and its clients: the
 * package definition (what server reflection describes) and the service constructor.
 *
 * Not a demo app itself (the lab lists `lab/apps/*.ts` as apps; this one starts with `_`).
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const INVENTORY_PROTO = fileURLToPath(new URL('./inventory.proto', import.meta.url));

export interface ReserveRequest {
  sku: string;
  quantity: number;
}
export interface Reservation {
  id: string;
  remaining: number;
}
export interface StockRequest {
  sku: string;
}
export interface StockLevel {
  sku: string;
  level: number;
}

/** The proto loaded as the server and the clients use it (field names as written, defaults filled in). */
export function loadInventory(): { packageDefinition: protoLoader.PackageDefinition; Inventory: grpc.ServiceClientConstructor } {
  const packageDefinition = protoLoader.loadSync(INVENTORY_PROTO, { keepCase: true, longs: Number, enums: String, defaults: true });
  const shop = grpc.loadPackageDefinition(packageDefinition).shop as grpc.GrpcObject;
  return { packageDefinition, Inventory: shop.Inventory as grpc.ServiceClientConstructor };
}

