/**
 * IPv6 cannot bypass the sidecar: in dual-stack pods (the IPv4 bridge of the other traffic
 * tests plus a ULA /64), with the rules in place a new IPv6 TCP connection to or from the app
 * is refused with a reset, except loopback, the admin port, excluded ports and CIDRs and the
 * proxy's uid and gid; IPv4 is still captured. The same cases before init (everything
 * reaches its listener) and after cleanup (likewise, and no rule left), with each backend.
 */
import t, { type Test } from 'tap';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { PodNetwork, listNetns, sh, type PodNetns } from '../../../lab/netns.ts';
import { connectFrom, ip6FilterState, runInitIn, startReportServers, type Answer, type AsUser, type Backend } from './helpers/init-harness.ts';

const APP = 8080;
const APP_EXCLUDED = 8081;
const PEER_EXCLUDED = 9090;
const APP_USER: AsUser = { uid: 1000, gid: 1000 };
const ROOT: AsUser = {};
const PROXY: AsUser = { uid: 1337, gid: 1337 };
const REFUSED = { error: 'ECONNREFUSED' };

type PodName = 'meshed' | 'peer' | 'excludedPeer';

interface Case {
  name: string;
  from: PodName;
  user: AsUser;
  to: PodName | 'loopback';
  family: 4 | 6;
  port: number;
  /** With the rules: the server that answers, or the refusal. */
  ruled: { server: string } | typeof REFUSED;
  /** Without rules. */
  direct: string;
}

const cases: Case[] = [
  { name: 'inbound IPv6 from another pod is refused', from: 'peer', user: ROOT, to: 'meshed', family: 6, port: APP, ruled: REFUSED, direct: 'app6' },
  { name: 'inbound IPv6 to an excluded inbound port reaches the app', from: 'peer', user: ROOT, to: 'meshed', family: 6, port: APP_EXCLUDED, ruled: { server: 'app6-excluded' }, direct: 'app6-excluded' },
  { name: 'inbound IPv6 to the admin port reaches it', from: 'peer', user: ROOT, to: 'meshed', family: 6, port: 15020, ruled: { server: 'admin6' }, direct: 'admin6' },
  { name: 'app (uid 1000) to another pod over IPv6 is refused', from: 'meshed', user: APP_USER, to: 'peer', family: 6, port: APP, ruled: REFUSED, direct: 'peer-app6' },
  { name: 'app (root) to another pod over IPv6 is refused', from: 'meshed', user: ROOT, to: 'peer', family: 6, port: APP, ruled: REFUSED, direct: 'peer-app6' },
  { name: 'proxy uid 1337 to another pod over IPv6 is let through', from: 'meshed', user: PROXY, to: 'peer', family: 6, port: APP, ruled: { server: 'peer-app6' }, direct: 'peer-app6' },
  { name: 'proxy gid 1337 (uid 1000) over IPv6 is let through', from: 'meshed', user: { uid: 1000, gid: 1337 }, to: 'peer', family: 6, port: APP, ruled: { server: 'peer-app6' }, direct: 'peer-app6' },
  { name: 'an excluded outbound port over IPv6 is let through', from: 'meshed', user: APP_USER, to: 'peer', family: 6, port: PEER_EXCLUDED, ruled: { server: 'peer-excluded6' }, direct: 'peer-excluded6' },
  { name: 'an excluded IPv6 CIDR is let through', from: 'meshed', user: APP_USER, to: 'excludedPeer', family: 6, port: APP, ruled: { server: 'other-app6' }, direct: 'other-app6' },
  { name: 'app to [::1] is let through', from: 'meshed', user: APP_USER, to: 'loopback', family: 6, port: APP, ruled: { server: 'app6' }, direct: 'app6' },
  { name: 'app to its own pod IPv6 address is let through', from: 'meshed', user: APP_USER, to: 'meshed', family: 6, port: APP, ruled: { server: 'app6' }, direct: 'app6' },
  { name: 'IPv4 from another pod is still captured', from: 'peer', user: ROOT, to: 'meshed', family: 4, port: APP, ruled: { server: 'inbound' }, direct: 'app' },
  { name: 'IPv4 from the app is still captured', from: 'meshed', user: APP_USER, to: 'peer', family: 4, port: APP, ruled: { server: 'outbound' }, direct: 'peer-app' },
];

void t.test('IPv6 TCP cannot bypass the sidecar', async (t) => {
  const net = new PodNetwork();
  const servers: ChildProcess[] = [];
  t.teardown(async () => {
    await net.destroy();
    for (const s of servers) s.kill('SIGKILL');
  });
  await net.create();
  const prefix = `fd${randomBytes(1).toString('hex')}:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
  await sh('ip', ['addr', 'add', `${prefix}::1/64`, 'dev', net.bridge, 'nodad']);
  const v6 = new Map<PodNetns, string>();
  const addPod = async (name: string, host: number) => {
    const pod = await net.addPod(name);
    v6.set(pod, `${prefix}::${host}`);
    await sh('ip', ['-n', pod.netns, 'addr', 'add', `${prefix}::${host}/64`, 'dev', 'eth0', 'nodad']);
    return pod;
  };
  const meshed = await addPod('m', 2);
  const peer = await addPod('p', 3);
  const other = await addPod('q', 4);
  servers.push(
    await startReportServers(meshed.netns, ['inbound:15006', 'outbound:15001', `app:${APP}`, `app6:${APP}@::`, `app6-excluded:${APP_EXCLUDED}@::`, 'admin6:15020@::']),
    await startReportServers(peer.netns, [`peer-app:${APP}`, `peer-app6:${APP}@::`, `peer-excluded6:${PEER_EXCLUDED}@::`]),
    await startReportServers(other.netns, [`other-app6:${APP}@::`]),
  );
  const pods = { meshed, peer, excludedPeer: other };
  const initArgs = [`--exclude-inbound-ports=${APP_EXCLUDED}`, `--exclude-outbound-ports=${PEER_EXCLUDED}`, `--exclude-outbound-cidrs=${v6.get(other)}/128`];

  const connectAll = async (): Promise<Answer[]> => {
    const groups = new Map<string, number[]>();
    cases.forEach((c, i) => {
      const key = JSON.stringify([c.from, c.user.uid, c.user.gid]);
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const answers: Answer[] = [];
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        const targets = indexes.map((i) => {
          const c = cases[i];
          const host = c.to === 'loopback' ? '::1' : c.family === 6 ? v6.get(pods[c.to])! : pods[c.to].ip;
          return { host, port: c.port };
        });
        const got = await connectFrom(pods[cases[indexes[0]].from].netns, cases[indexes[0]].user, targets);
        indexes.forEach((caseIndex, j) => (answers[caseIndex] = got[j]));
      }),
    );
    return answers;
  };

  const expectDirect = async (t: Test, when: string) => {
    const answers = await connectAll();
    cases.forEach((c, i) => t.equal(answers[i].server, c.direct, `${when}: ${c.name.replace(/ (is|reaches).*/, '')} reaches ${c.direct}`, { answer: answers[i] }));
  };

  await t.test('without rules every IPv6 connection reaches its listener', (t) => expectDirect(t, 'before init'));

  for (const backend of ['nft', 'legacy'] as Backend[]) {
    await t.test(`with the ${backend} backend`, async (t) => {
      const applied = await runInitIn(meshed.netns, [...initArgs, `--backend=${backend}`]);
      t.equal(applied.code, 0, 'init succeeds', { stderr: applied.stderr });
      t.match(applied.stdout, /IPv6 filter rules/, 'and installs the IPv6 rules');
      const answers = await connectAll();
      cases.forEach((c, i) => {
        const got = 'error' in c.ruled ? { error: answers[i].error } : { server: answers[i].server };
        t.same(got, c.ruled, c.name, { answer: answers[i] });
      });
      const cleaned = await runInitIn(meshed.netns, ['--cleanup', `--backend=${backend}`]);
      t.equal(cleaned.code, 0, 'cleanup succeeds', { stderr: cleaned.stderr });
      t.notMatch(await ip6FilterState(meshed.netns, backend), /MESHTAP/, 'no meshtap IPv6 rules left');
      await expectDirect(t, `after ${backend} cleanup`);
    });
  }

  await net.destroy();
  t.same(await listNetns(net.prefix), [], 'namespaces removed');
  const links = await sh('ip', ['-o', 'link', 'show']);
  t.notMatch(links.stdout, new RegExp(net.prefix), 'links and bridge (and its IPv6 address) removed');
  await Promise.all(servers.map((s) => (s.exitCode !== null || s.signalCode !== null ? undefined : new Promise((r) => s.once('exit', r)))));
  t.ok(servers.every((s) => s.exitCode !== null || s.signalCode !== null), 'server processes ended');
});
