/**
 * A real resolver for the DNS tests: Debian's dnsmasq on a free port of one address, answering
 * from a hosts file and a few fixed records, authoritative for `test.` (unknown names there are
 * NXDOMAIN). `big.test` has enough A records that a UDP answer without EDNS is truncated (TC).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DNSMASQ = '/usr/sbin/dnsmasq';

export interface Dnsmasq {
  readonly address: string;
  readonly port: number;
  readonly log: () => string;
  stop(): Promise<void>;
}

/** A port free for both UDP and TCP on `address` right now. */
export async function freeDualPort(address = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, address, () => {
        const p = (server.address() as { port: number }).port;
        server.close(() => resolve(p));
      });
    });
    const free = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, address, () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export const HOSTS = ['10.1.2.3 web.test', '10.1.2.4 web.test', '2001:db8::7 web.test', '10.5.5.5 one.test', '10.9.9.9 stopped.test', '10.9.9.10 back.test', ...Array.from({ length: 250 }, (_, i) => `10.9.${i >> 7}.${(i & 127) + 1} big.test`)];

/** Extra arguments callers may add: they are dnsmasq's own options. */
export async function startDnsmasq(options: { address?: string; port?: number; extraArgs?: string[]; netnsExec?: string[] } = {}): Promise<Dnsmasq> {
  const address = options.address ?? '127.0.0.1';
  const port = options.port ?? (await freeDualPort(address));
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-dnsmasq-'));
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, `${HOSTS.join('\n')}\n`);
  const args = [
    '--no-daemon',
    '--no-resolv',
    '--no-hosts',
    `--addn-hosts=${hosts}`,
    `--port=${port}`,
    `--listen-address=${address}`,
    '--bind-interfaces',
    '--user=root',
    '--local=/test/',
    '--txt-record=txt.test,hello world,v=spf1 -all',
    // Hosts entries otherwise get TTL 0.
    '--local-ttl=300',
    '--mx-host=mx.test,mail.test,10',
    '--srv-host=_http._tcp.srv.test,web.test,8080,1,2',
    '--cname=alias.test,web.test',
    '--log-facility=-',
    '--log-queries',
    ...(options.extraArgs ?? []),
  ];
  const [cmd, ...prefix] = options.netnsExec ?? [];
  const child: ChildProcess = cmd === undefined ? spawn(DNSMASQ, args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(cmd, [...prefix, DNSMASQ, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!/started, version/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      rmSync(dir, { recursive: true, force: true });
      child.kill('SIGKILL');
      throw new Error(`dnsmasq did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // "started" is logged before the sockets are ready for the first query on a busy machine.
  await new Promise((r) => setTimeout(r, 50));
  return {
    address,
    port,
    log: () => output,
    async stop() {
      rmSync(dir, { recursive: true, force: true });
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
