/** The system tests' gRPC client calls (see `client.ts grpc`): every kind of call shop.Inventory has. */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

type Unary = (req: object, cb: (err: grpc.ServiceError | null, res?: Record<string, unknown>) => void) => void;

export async function grpcCalls(target: string, mark: string): Promise<Record<string, unknown>> {
  const def = protoLoader.loadSync(fileURLToPath(new URL('../fixtures/grpc/shop.proto', import.meta.url)), { keepCase: true });
  const Inventory = (grpc.loadPackageDefinition(def).shop as grpc.GrpcObject).Inventory as grpc.ServiceClientConstructor;
  const plain = new Inventory(target, grpc.credentials.createInsecure());
  // gzip for every message this channel sends.
  const gzip = new Inventory(target, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
  const unary = (client: grpc.Client, req: object) =>
    new Promise<{ ok: true; res: Record<string, unknown> } | { ok: false; code: number; details: string }>((resolve) =>
      ((client as unknown as { Reserve: Unary }).Reserve.bind(client))(req, (err, res) => resolve(err ? { ok: false, code: err.code, details: err.details } : { ok: true, res: res! })),
    );
  const out: Record<string, unknown> = {};
  out.unary = await unary(plain, { sku: `tea-${mark}`, quantity: 3 });
  out.error = await unary(plain, { sku: 'missing', quantity: 1 });
  out.gzip = await unary(gzip, { sku: `gz-${mark}`, quantity: 2 });
  const big = await unary(plain, { sku: `big-${mark}`, quantity: 1, filler: Buffer.alloc(1024 * 1024, 0x61) });
  out.big = big.ok ? { ok: true, filler: (big.res.filler as Buffer).length } : big;
  out.watch = await new Promise((resolve, reject) => {
    const levels: number[] = [];
    const call = (plain as unknown as { Watch(req: object): grpc.ClientReadableStream<{ level: number }> }).Watch({ sku: `w-${mark}`, updates: 3 });
    call.on('data', (s: { level: number }) => levels.push(s.level));
    call.on('end', () => resolve(levels));
    call.on('error', reject);
  });
  out.upload = await new Promise((resolve, reject) => {
    const call = (plain as unknown as { Upload(cb: (err: Error | null, res?: unknown) => void): grpc.ClientWritableStream<object> }).Upload((err, res) => (err ? reject(err) : resolve(res)));
    for (const text of ['a', 'b', `c-${mark}`]) call.write({ text });
    call.end();
  });
  out.chat = await new Promise((resolve, reject) => {
    const got: string[] = [];
    const call = (plain as unknown as { Chat(): grpc.ClientDuplexStream<object, { text: string }> }).Chat();
    call.on('data', (c: { text: string }) => got.push(c.text));
    call.on('end', () => resolve(got));
    call.on('error', reject);
    call.write({ text: `hi-${mark}` });
    call.write({ text: 'again' });
    call.end();
  });
  plain.close();
  gzip.close();
  return out;
}
