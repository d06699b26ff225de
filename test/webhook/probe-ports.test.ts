import t from 'tap';
import { formatProbePaths, probePathsOf, probePortsOf } from '../../webhook/probe-ports.ts';

void t.test('probe ports: numbers and named ports of httpGet, tcpSocket and grpc probes', async (t) => {
  const ports = probePortsOf([
    {
      name: 'web',
      ports: [{ name: 'http', containerPort: 8080 }],
      readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
      livenessProbe: { tcpSocket: { port: 8080 } },
      startupProbe: { exec: { command: ['true'] } },
    },
    { name: 'api', readinessProbe: { grpc: { port: 9090 } }, livenessProbe: { httpGet: { port: 'unknown-name' } } },
    { name: 'bare' },
  ]);
  t.same(ports, [8080, 9090], 'sorted, unique, unresolvable names and exec probes left out');
  t.same(probePortsOf([]), []);
});

void t.test('probe paths: ports probed only by plain-HTTP httpGet probes, with their paths', async (t) => {
  const paths = probePathsOf([
    {
      name: 'web',
      ports: [{ name: 'http', containerPort: 8080 }],
      livenessProbe: { httpGet: { port: 'http', path: '/healthz' } },
      readinessProbe: { httpGet: { port: 8080, path: '/ready' } },
      startupProbe: { httpGet: { port: 8080 } },
    },
    { name: 'mixed', readinessProbe: { httpGet: { port: 9000, path: '/ok' } }, livenessProbe: { tcpSocket: { port: 9000 } } },
    { name: 'tls', readinessProbe: { httpGet: { port: 8443, path: '/ok', scheme: 'HTTPS' } } },
    { name: 'odd', readinessProbe: { httpGet: { port: 7000, path: '/a,b' } } },
  ]);
  t.same([...paths], [[8080, ['/', '/healthz', '/ready']]], 'tcpSocket, HTTPS and unlistable paths leave their ports port-only');
  t.equal(formatProbePaths(paths), '8080=/|/healthz|/ready');
  t.equal(formatProbePaths(probePathsOf([])), '');
});
