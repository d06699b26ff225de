/**
 * DNS capture end to end in network namespaces: the real `meshtap init` rules and the real
 * sidecar (uid 1337) in the client pod, dnsmasq as the pod's resolver in a pod of its own, and
 * real clients run as an ordinary uid in the client pod (dig over UDP and TCP, glibc's
 * `getent`, Node's resolver). Records reach the collector with names, types, answers with TTLs
 * and NXDOMAIN; a truncated answer and dig's TCP retry are both recorded; a pod initialised
 * with --no-dns-capture resolves without any redirect; a DNS listener that cannot bind keeps
 * the sidecar not ready until it can.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import t from 'tap';
import { execInNetns, killNetnsProcesses, spawnInNetns, type PodNetns } from '../../lab/netns.ts';
import type { CallRecordJson } from '../../record/record-json.ts';
import { APP_UID, MeshLab, NODE, Proc, eventually, netnsPids, podEntry, sleep } from './harness.ts';
import { HOSTS, startDnsmasq, type Dnsmasq } from '../sidecar/dns/dnsmasq.ts';

const netnsDirs: string[] = [];
let resolverPod: PodNetns | undefined;
let dnsmasq: Dnsmasq | undefined;

/** `ip netns exec` bind-mounts /etc/netns/<netns>/resolv.conf over /etc/resolv.conf. */
async function podResolvConf(pod: PodNetns, ...nameservers: string[]): Promise<void> {
  const dir = `/etc/netns/${pod.netns}`;
  await mkdir(dir, { recursive: true, mode: 0o755 });
  netnsDirs.push(dir);
  // timeout:1 keeps a failure short; the sidecar reads the same file, and init redirects DNS to these.
  await writeFile(`${dir}/resolv.conf`, `${nameservers.map((ns) => `nameserver ${ns}\n`).join('')}options timeout:1 attempts:2\n`, { mode: 0o644 });
}

/**
 * The client pod's IPv6 resolver address (second in its resolv.conf, after the real resolver):
 * nothing answers there, but a query to it is redirected to the sidecar like any to a resolver.
 * Written as the kernel reports it (compressed), or a zero group (subnet 10.a.0) would never match.
 */
function v6Prefix(net: { subnetBase: string }): string {
  return new URL(`http://[fd00:${net.subnetBase.split('.').slice(1).join(':')}::2]`).hostname.slice(1, -2);
}

/** A second DNS server in a pod of its own, not in any resolv.conf: the app may still ask it. */
let otherServerPod: PodNetns | undefined;
let otherServer: Dnsmasq | undefined;

const lab = await MeshLab.start({
  beforeInit: async (lab) => {
    resolverPod = await lab.net.addPod('dns');
    dnsmasq = await startDnsmasq({ address: resolverPod.ip, port: 53, netnsExec: ['ip', 'netns', 'exec', resolverPod.netns] });
    await podResolvConf(lab.client, resolverPod.ip, `${v6Prefix(lab.net)}53`);
    await podResolvConf(lab.server, resolverPod.ip);
    otherServerPod = await lab.net.addPod('dns2');
    otherServer = await startDnsmasq({
      address: otherServerPod.ip,
      port: 53,
      netnsExec: ['ip', 'netns', 'exec', otherServerPod.netns],
      extraArgs: ['--address=/elsewhere.example/10.7.7.7'],
    });
  },
});
t.teardown(async () => {
  await lab.destroy();
  await dnsmasq?.stop();
  await otherServer?.stop();
  for (const dir of netnsDirs) await rm(dir, { recursive: true, force: true });
});

function app(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return lab.clientExec(cmd, args);
}

function dnsCalls(calls: CallRecordJson[]): CallRecordJson[] {
  return calls.filter((c) => c.protocol === 'dns');
}

async function waitForDns(what: string, match: (c: CallRecordJson) => boolean, count = 1): Promise<CallRecordJson[]> {
  return lab.waitForCalls(what, (c) => c.protocol === 'dns' && match(c), count);
}

function body<T = Record<string, unknown>>(c: CallRecordJson, side: 'request' | 'response'): T {
  const b = c[side]?.body;
  if (!b || !('text' in b)) throw new Error(`${side} body is not text`);
  return JSON.parse(b.text) as T;
}

interface AnswerBody {
  rcode: string;
  flags: Record<string, boolean>;
  answers: { name: string; type: string; ttl: number; data: unknown }[];
}

void t.test('the pod\'s rules send port 53 to the DNS listener, before the outbound listener', async (t) => {
  const { stdout } = await execInNetns(lab.client.netns, 'iptables-save', ['-t', 'nat']);
  t.match(stdout, /-A OUTPUT -p udp -m udp --dport 53 .* -j MESHTAP_DNS/);
  t.match(stdout, /-A MESHTAP_OUTPUT -p tcp -m tcp --dport 53 .* -j MESHTAP_DNS/);
  t.match(stdout, /-A MESHTAP_DNS -d \S+ -p udp .* -j REDIRECT --to-ports 15053/);
  t.equal(await lab.metric(lab.client, 'meshtap_sidecar_dns_listening'), 1, 'the listener is up');
});

void t.test('dig over UDP: the answer, and a record with the name, type, answers and TTLs', async (t) => {
  const { stdout } = await app('dig', ['+short', 'web.test', 'A']);
  t.same(stdout.trim().split('\n').sort(), ['10.1.2.3', '10.1.2.4'], 'dig gets the resolver\'s answer');
  const [call] = await waitForDns('the web.test A record', (c) => c.path === 'web.test' && c.method === 'A' && body(c, 'request').transport === 'udp');
  t.equal(call.observer, 'outbound');
  t.equal(call.dns_rcode, 'NOERROR');
  t.equal(call.src.ip, lab.client.ip, 'src is the app socket as the pod sent it');
  t.equal(call.src.pod, 'client');
  t.same([call.dst.ip, call.dst.port], [resolverPod!.ip, 53], 'dst is the resolver that answered');
  t.equal(call.request?.content_type, 'application/json');
  const answer = body<AnswerBody>(call, 'response');
  t.same(answer.answers.map((a) => a.data).sort(), ['10.1.2.3', '10.1.2.4']);
  t.ok(answer.answers.every((a) => a.ttl > 0 && a.ttl <= 300), 'answers carry their TTLs');
  t.ok(call.elapsed_us > 0);
  // The sidecar's own query to the resolver was not redirected back to it: one query reached dnsmasq.
  t.equal(dnsmasq!.log().split('\n').filter((l) => /query\[A\] web\.test from/.test(l)).length, 1, 'the resolver saw the query once');
});

void t.test('a lookup an app makes while serving a request is in that request\'s trace', async (t) => {
  const { stdout } = await app('curl', ['-sS', '--max-time', '10', lab.appUrl('/resolve?name=one.test')]);
  t.equal(stdout.trim(), '10.5.5.5', 'the server app resolved the name through its pod\'s resolver');
  const [lookup] = await waitForDns('the server pod\'s one.test lookup', (c) => c.path === 'one.test' && c.src.pod === 'server');
  const [served] = await lab.waitForCalls('the /resolve request at the server', (c) => c.observer === 'inbound' && c.path === '/resolve?name=one.test', 1);
  t.equal(lookup.trace_id, served.trace_id, 'the request\'s trace');
  t.equal(lookup.parent_span_id, served.span_id, 'under the request\'s SERVER span');
  t.equal(lookup.link_confidence, 1, 'one request was in flight');
  const [dug] = await waitForDns('the web.test A record', (c) => c.path === 'web.test' && c.src.pod === 'client');
  t.equal(dug.link_confidence, undefined, 'a lookup made outside any request is not linked');
});

void t.test('NXDOMAIN and the TCP path (dig +tcp)', async (t) => {
  const nx = await app('dig', ['nope.test', 'A']);
  t.match(nx.stdout, /status: NXDOMAIN/);
  const [nxCall] = await waitForDns('NXDOMAIN record', (c) => c.path === 'nope.test');
  t.equal(nxCall.dns_rcode, 'NXDOMAIN');
  t.equal(nxCall.error, undefined);

  const tcp = await app('dig', ['+tcp', '+short', 'mx.test', 'MX']);
  t.equal(tcp.stdout.trim(), '10 mail.test.');
  const [tcpCall] = await waitForDns('TCP MX record', (c) => c.path === 'mx.test' && c.method === 'MX');
  t.equal(body(tcpCall, 'request').transport, 'tcp');
  t.same(body<AnswerBody>(tcpCall, 'response').answers.map((a) => a.data), [{ preference: 10, exchange: 'mail.test' }]);
  t.equal(await lab.metric(lab.client, 'meshtap_sidecar_dns_tcp_connections_total'), 1, 'one DNS TCP connection');
  // Not through the outbound TCP listener: no tcp record to port 53.
  t.equal((await lab.calls()).filter((c) => c.protocol !== 'dns' && c.dst.port === 53).length, 0, 'TCP 53 never reached the outbound listener');
});

void t.test('DNS the app sends a server that is not its resolver goes to that server, as without meshtap', async (t) => {
  const server = otherServerPod!.ip;
  const { stdout: rules } = await execInNetns(lab.client.netns, 'iptables-save', ['-t', 'nat']);
  t.match(rules, new RegExp(`-A MESHTAP_DNS -d ${resolverPod!.ip.replaceAll('.', '\\.')}/32 -p udp .* -j REDIRECT --to-ports 15053`), 'the redirect names the resolver of the pod\'s resolv.conf');
  t.notMatch(rules, new RegExp(server.replaceAll('.', '\\.')), 'and no other server');
  const udp = await app('dig', ['+short', '+tries=1', `@${server}`, 'elsewhere.example', 'A']);
  t.equal(udp.stdout.trim(), '10.7.7.7', 'over UDP the server asked answers (the pod\'s resolver knows no such name)');
  const tcp = await app('dig', ['+tcp', '+short', '+tries=1', `@${server}`, 'elsewhere.example', 'A']);
  t.equal(tcp.stdout.trim(), '10.7.7.7', 'and over TCP');
  t.notMatch(dnsmasq!.log(), /elsewhere\.example/, 'the pod\'s resolver was never asked');
  // Marker: a query to the resolver after them, recorded; the ones to the other server are not DNS records.
  const marker = `marker-${Date.now()}.test`;
  await app('dig', ['+short', marker]);
  await waitForDns('the marker lookup', (c) => c.path === marker);
  t.equal(dnsCalls(await lab.calls()).filter((c) => c.path === 'elsewhere.example').length, 0, 'not captured as DNS (the sidecar answers only for the pod\'s resolvers)');
});

void t.test('a truncated answer, then dig\'s retry over TCP', async (t) => {
  const { stdout } = await app('dig', ['+noedns', 'big.test', 'A']);
  t.match(stdout, /ANSWER: 250/, 'dig retried over TCP and got every record');
  const calls = await waitForDns('UDP and TCP big.test records', (c) => c.path === 'big.test', 2);
  const udp = calls.find((c) => body(c, 'request').transport === 'udp')!;
  const tcp = calls.find((c) => body(c, 'request').transport === 'tcp')!;
  t.equal(body<AnswerBody>(udp, 'response').flags.tc, true);
  t.match(udp.notes, [/truncated answer \(TC\)/]);
  t.match(tcp.notes, [/retry over TCP of a truncated UDP answer/]);
  t.equal(body<AnswerBody>(tcp, 'response').answers.length, 250);
  t.equal(HOSTS.filter((h) => h.endsWith(' big.test')).length, 250);
});

void t.test('glibc and Node resolve through the sidecar', async (t) => {
  const getent = await app('getent', ['ahostsv4', 'alias.test']);
  t.match(getent.stdout, /10\.1\.2\.[34]/, 'getent resolves a CNAME');
  const node = await app(NODE, [
    '-e',
    "const dns = require('node:dns'); Promise.all([dns.promises.resolve4('web.test', { ttl: true }), dns.promises.lookup('txt.test').catch((e) => e.code), dns.promises.resolveTxt('txt.test')]).then((r) => console.log(JSON.stringify(r)))",
  ]);
  const [resolved, lookup, txt] = JSON.parse(node.stdout) as [{ address: string; ttl: number }[], string, string[][]];
  t.same(resolved.map((r) => r.address).sort(), ['10.1.2.3', '10.1.2.4']);
  t.ok(resolved.every((r) => r.ttl > 0), 'with TTLs');
  t.equal(lookup, 'ENOTFOUND', 'lookup of a name with only TXT finds no address, as without the sidecar');
  t.same(txt, [['hello world', 'v=spf1 -all']]);
  await waitForDns('getent record', (c) => c.path === 'alias.test');
  const txtCalls = await waitForDns('Node TXT record', (c) => c.path === 'txt.test' && c.method === 'TXT');
  t.same(body<AnswerBody>(txtCalls[0], 'response').answers[0].data, ['hello world', 'v=spf1 -all']);
  const aaaa = await waitForDns('lookup AAAA query', (c) => c.path === 'txt.test' && (c.method === 'A' || c.method === 'AAAA'));
  t.ok(aaaa.length >= 1, 'getaddrinfo\'s queries are recorded too');
  t.ok((await lab.metric(lab.client, 'meshtap_sidecar_dns_queries_total', { transport: 'udp' })) >= 5, 'queries are counted');
  t.equal(await lab.metric(lab.client, 'meshtap_sidecar_dns_parse_errors_total'), 0);
});

void t.test('IPv6: DNS to an IPv6 resolver address is redirected to the listener on ::1', async (t) => {
  // An IPv6 address for the pod; the query to the pod's IPv6 resolver (its resolv.conf's second)
  // needs a route, not a server: the redirect answers it.
  const v6 = v6Prefix(lab.net);
  const podV6 = `${v6}2`;
  await execInNetns(lab.client.netns, 'ip', ['-6', 'addr', 'add', `${podV6}/64`, 'dev', 'eth0', 'nodad']);
  const { stdout: nat6 } = await execInNetns(lab.client.netns, 'ip6tables-save', ['-t', 'nat']);
  t.match(nat6, /-A MESHTAP_DNS6 -d \S+ -p udp .* -j REDIRECT --to-ports 15053/, 'the IPv6 DNS rules are in place');
  const udp = await app('dig', ['-6', '+short', '+tries=1', `@${v6}53`, 'one.test']);
  t.equal(udp.stdout.trim(), '10.5.5.5', 'dig over IPv6 UDP gets the answer');
  const tcp = await app('dig', ['-6', '+tcp', '+short', '+tries=1', `@${v6}53`, 'mx.test', 'MX']);
  t.equal(tcp.stdout.trim(), '10 mail.test.', 'and over IPv6 TCP');
  const calls = await waitForDns('IPv6 records', (c) => c.src.ip === podV6, 2);
  t.same(calls.map((c) => [c.path, body(c, 'request').transport]).sort(), [['mx.test', 'tcp'], ['one.test', 'udp']]);
  t.same([calls[0].dst.ip, calls[0].dst.port], [resolverPod!.ip, 53], 'answered by the pod\'s resolver');
});

void t.test('a pod initialised with --no-dns-capture resolves without any redirect', async (t) => {
  const pod = await lab.net.addPod('nodns');
  await podResolvConf(pod, resolverPod!.ip);
  await execInNetns(pod.netns, NODE, [podEntry(), 'init', '--no-dns-capture']);
  const { stdout: rules } = await execInNetns(pod.netns, 'iptables-save', ['-t', 'nat']);
  t.notMatch(rules, /-p udp|--dport 53 /, 'no DNS rule');
  t.match(rules, /MESHTAP_REDIRECT/, 'the TCP capture is there');
  // No sidecar runs in this pod: a redirected query would go to a closed port and fail.
  const { stdout } = await execInNetns(pod.netns, 'setpriv', [`--reuid=${APP_UID}`, `--regid=${APP_UID}`, '--clear-groups', 'dig', '+short', '+tries=1', 'web.test']);
  t.same(stdout.trim().split('\n').sort(), ['10.1.2.3', '10.1.2.4'], 'the app reaches the resolver directly');
  // With capture on and no listener (no sidecar runs here), DNS fails open: the first try is
  // refused at once, the kernel notes the address, and dig's retry goes straight to the resolver.
  await execInNetns(pod.netns, NODE, [podEntry(), 'init']);
  const asApp = ['setpriv', `--reuid=${APP_UID}`, `--regid=${APP_UID}`, '--clear-groups'];
  const once = await execInNetns(pod.netns, asApp[0], [...asApp.slice(1), 'dig', '+short', '+tries=1', '+time=1', 'web.test']).then(
    () => 'answered',
    () => 'failed',
  );
  t.equal(once, 'failed', 'a single try meets the missing listener and fails');
  const { stdout: retried } = await execInNetns(pod.netns, asApp[0], [...asApp.slice(1), 'dig', '+short', '+tries=2', '+time=1', 'web.test']);
  t.same(retried.trim().split('\n').sort(), ['10.1.2.3', '10.1.2.4'], 'within the bypass window the query reaches the resolver');
  const { stdout: down } = await execInNetns(pod.netns, 'cat', ['/proc/net/xt_recent/MESHTAP_DNS_DOWN']);
  t.match(down, new RegExp(`src=${pod.ip.replaceAll('.', '\\.')} `), 'the kernel lists the pod address as bypassing');
  await sleep(5500);
  const { stdout: glibc } = await execInNetns(pod.netns, asApp[0], [...asApp.slice(1), 'getent', 'hosts', 'one.test']);
  t.match(glibc, /10\.5\.5\.5/, 'after the window glibc is refused once and its retry resolves (attempts:2)');
  await execInNetns(pod.netns, NODE, [podEntry(), 'init', '--cleanup']);
  const { stdout: after } = await execInNetns(pod.netns, 'iptables-save', ['-t', 'nat']);
  t.notMatch(after, /MESHTAP/, '--cleanup removes the DNS rules too');
  const { stdout: mangle } = await execInNetns(pod.netns, 'iptables-save', ['-t', 'mangle']);
  t.notMatch(mangle, /MESHTAP/, '--cleanup removes the DNS watch too');
  await killNetnsProcesses(pod.netns);
});

void t.test('DNS keeps working while the sidecar is stopped, and is captured again once it is back', async (t) => {
  const asApp = ['setpriv', `--reuid=${APP_UID}`, `--regid=${APP_UID}`, '--clear-groups'];
  const old = lab.sidecars.client;
  process.kill(old.pid, 'SIGKILL');
  await eventually('client sidecar gone', async () => ((await netnsPids(lab.client.netns, 'sidecar')).includes(old.pid) ? undefined : true), 5000);
  await old.proc.wait(5000);
  const { stdout: glibc } = await execInNetns(lab.client.netns, asApp[0], [...asApp.slice(1), 'getent', 'ahostsv4', 'web.test']);
  t.match(glibc, /10\.1\.2\.[34]/, 'glibc resolves with the sidecar gone');
  const { stdout: dig } = await execInNetns(lab.client.netns, asApp[0], [...asApp.slice(1), 'dig', '+short', '+tries=2', '+time=1', 'stopped.test']);
  // The first query of a bypass window is refused and retried (sidecar/init/README.md): when
  // dig's is that query, it prints the refused try (";; communications error") before the answer.
  t.equal(
    dig
      .split('\n')
      .filter((line) => !line.startsWith(';; communications error'))
      .join('\n')
      .trim(),
    '10.9.9.9',
    'and so does dig',
  );
  await lab.restartSidecar('client');
  // The bypass ends 5 s after the last refusal; from then on queries go to the sidecar again.
  await sleep(5500);
  const { stdout: back } = await app('dig', ['+short', 'back.test']);
  t.equal(back.trim(), '10.9.9.10', 'resolution through the restarted sidecar');
  await waitForDns('back.test record from the restarted sidecar', (c) => c.path === 'back.test');
  t.notOk(dnsCalls(await lab.calls()).some((c) => c.path === 'stopped.test'), 'the query made while it was stopped left no record (nothing saw it)');
});

void t.test('a DNS port that cannot be bound keeps the sidecar not ready until it can', async (t) => {
  // Something in the pod holds the DNS port (UDP, 127.0.0.1) before the sidecar starts on it.
  const port = '15054';
  const blocker = lab.adopt(
    new Proc(
      'port blocker',
      spawnInNetns(lab.client.netns, NODE, ['-e', `const s = require('node:dgram').createSocket('udp4'); s.bind(${port}, '127.0.0.1', () => console.log('bound'));`], {
        uid: APP_UID,
        env: lab.baseEnv(),
      }),
    ),
  );
  await blocker.waitFor(/bound/);
  await execInNetns(lab.client.netns, NODE, [podEntry(), 'init', '--dns-port', port]);
  const handle = await lab.restartSidecar('client', { MESHTAP_DNS_PORT: port });
  await handle.proc.waitFor(/SC_ERR_DNS_LISTEN/);
  t.same(await lab.adminGet(lab.client, '/ready'), { status: 503, body: 'not ready: waiting for the DNS port\n' }, '/ready says not ready, and what for');
  t.equal(await lab.metric(lab.client, 'meshtap_sidecar_dns_listening'), 0, 'the listener metric says why');
  t.match(handle.proc.output, new RegExp(`cannot listen for DNS on 127\\.0\\.0\\.1:${port}`), 'the log names the address');
  for (const pid of await netnsPids(lab.client.netns, 'dgram')) process.kill(pid, 'SIGKILL');
  await eventually('ready once the port is free', async () => ((await lab.adminGet(lab.client, '/ready')).status === 200 ? true : undefined), 15_000);
  t.pass('ready after the retry bound the port');
  const { stdout } = await app('dig', ['+short', 'one.test']);
  t.equal(stdout.trim(), '10.5.5.5', 'and DNS works through it on the new port');
  await waitForDns('one.test record from the restarted sidecar', (c) => c.path === 'one.test');
});

void t.test('nothing is left behind', async (t) => {
  t.equal(await lab.metric(lab.client, 'meshtap_sidecar_parser_errors_total', { kind: 'exception' }), 0);
  t.ok(dnsCalls(await lab.calls()).length >= 8, 'DNS records reached the collector');
  await lab.destroy();
  // Its namespace is gone with the lab, and dnsmasq with it; this removes its files.
  await dnsmasq?.stop();
  for (const dir of netnsDirs) await rm(dir, { recursive: true, force: true });
  t.same(await lab.leftovers(), []);
  t.notOk(netnsDirs.some((d) => existsSync(d)), 'no per-pod resolv.conf left');
  await sleep(0);
});
