/**
 * Graceful gRPC server shutdown with a deadline: `tryShutdown` lets calls in flight finish,
 * and `forceShutdown` ends whatever is still open (long-lived streams never finish on their
 * own) once the grace time is up, so stopping a server is always bounded. One copy for the
 * collector's ingest, the CA and the controller.
 */

/** The part of `grpc.Server` shutdown needs (structural, so this file does not load grpc-js). */
export interface ShutdownableServer {
  tryShutdown(callback: (error?: Error) => void): void;
  forceShutdown(): void;
}

/** Resolves `graceful` when the server drained in time, `forced` when the deadline cut it. */
export function shutdownGrpcServer(server: ShutdownableServer, graceMs: number): Promise<'graceful' | 'forced'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve('forced');
    }, graceMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve('graceful');
    });
  });
}
