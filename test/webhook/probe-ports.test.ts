import t from 'tap';
import { probePortsOf } from '../../webhook/probe-ports.ts';

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
