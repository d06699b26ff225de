// The package ships JavaScript without declarations for its entry point: the part the tests use.
declare module '@elastic/mockotlpserver' {
  export interface MockOtlpServerOptions {
    logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
    services?: Array<'http' | 'grpc' | 'ui'>;
    httpHostname?: string;
    httpPort?: number;
    grpcHostname?: string;
    grpcPort?: number;
    onTrace?: (request: unknown) => void;
    onRequest?: (request: { transport: 'http' | 'grpc'; path: string; headers?: Record<string, string>; metadata?: unknown }) => void;
  }
  export class MockOtlpServer {
    constructor(options?: MockOtlpServerOptions);
    httpUrl: URL | null;
    grpcUrl: URL | null;
    start(): Promise<void>;
    close(): Promise<void>;
  }
}
