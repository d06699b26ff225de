import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { shutdownGrpcServer } from '../../lib/grpc-shutdown.ts';

const identity = (b: Buffer): Buffer => b;
const definition: grpc.ServiceDefinition = {
  Watch: {
    path: '/test.Hold/Watch',
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const Client = grpc.makeGenericClientConstructor(definition, 'Hold');

/** A server whose one method opens a stream, sends a message and never ends it. */
async function startServer(): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(definition, {
    Watch: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      call.write(Buffer.from('hello'));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

void t.test('an idle server shuts down gracefully', async (t) => {
  const { server } = await startServer();
  t.equal(await shutdownGrpcServer(server, 60_000), 'graceful');
});

void t.test('a stream that never ends is cut at the deadline', async (t) => {
  const { server, port } = await startServer();
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const stream = client.makeServerStreamRequest('/test.Hold/Watch', identity, identity, Buffer.alloc(0)) as grpc.ClientReadableStream<Buffer>;
  const ended = new Promise<grpc.ServiceError | undefined>((resolve) => {
    stream.on('error', (err: grpc.ServiceError) => resolve(err));
    stream.on('end', () => resolve(undefined));
  });
  await new Promise<void>((resolve) => stream.once('data', () => resolve()));
  t.equal(await shutdownGrpcServer(server, 50), 'forced');
  const err = await ended;
  t.ok(err, 'the open stream failed instead of finishing');
  t.not(err?.code, grpc.status.OK);
});
