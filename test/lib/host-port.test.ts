import t from 'tap';
import { formatHost, formatHostPort, listenFailure } from '../../lib/host-port.ts';

void t.test('IPv4 and names are left alone', async (t) => {
  t.equal(formatHostPort('127.0.0.1', 8080), '127.0.0.1:8080');
  t.equal(formatHostPort('0.0.0.0', 0), '0.0.0.0:0');
  t.equal(formatHostPort('collector.meshtap-system.svc', 4317), 'collector.meshtap-system.svc:4317');
  t.equal(formatHost('localhost'), 'localhost');
});

void t.test('IPv6 literals get brackets exactly once', async (t) => {
  t.equal(formatHostPort('::1', 8080), '[::1]:8080');
  t.equal(formatHostPort('::', 15001), '[::]:15001');
  t.equal(formatHostPort('fe80::1%eth0', 53), '[fe80::1%eth0]:53');
  t.equal(formatHostPort('[::1]', 8080), '[::1]:8080', 'already bracketed');
  t.equal(formatHost('2001:db8::2'), '[2001:db8::2]');
  t.equal(formatHostPort('::ffff:10.0.0.1', '443'), '[::ffff:10.0.0.1]:443', 'a port given as text');
});

void t.test('listenFailure words a failure to listen with the flags that chose the address', async (t) => {
  const where = { host: 'api.internal', port: 9443, what: 'webhook', hostFlag: '--host', portFlag: '--port' };
  const errno = (message: string, code: string, syscall: string): Error => Object.assign(new Error(message), { code, syscall });
  t.equal(listenFailure(errno('getaddrinfo ENOTFOUND api.internal', 'ENOTFOUND', 'getaddrinfo'), where), '--host api.internal does not resolve to an address to listen on (getaddrinfo ENOTFOUND api.internal)');
  t.equal(listenFailure(new Error('Name resolution failed for target dns:api.internal:0'), where), '--host api.internal does not resolve to an address to listen on (Name resolution failed for target dns:api.internal:0)', "grpc-js's wording");
  t.equal(listenFailure(errno('listen EADDRNOTAVAIL: address not available 10.9.9.9', 'EADDRNOTAVAIL', 'listen'), { ...where, host: '10.9.9.9' }), '--host 10.9.9.9 is not an address of this machine (listen EADDRNOTAVAIL: address not available 10.9.9.9)');
  t.equal(listenFailure(errno('listen EADDRINUSE: address already in use ::1:9443', 'EADDRINUSE', 'listen'), { ...where, host: '::1' }), 'cannot listen on [::1]:9443 for the webhook (--host, --port): listen EADDRINUSE: address already in use ::1:9443');
  t.equal(listenFailure(new Error('something else'), where), undefined, 'no listen failure');
  t.equal(listenFailure('a string', where), undefined);
});
