import t from 'tap';
import { formatHost, formatHostPort } from '../../lib/host-port.ts';

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
