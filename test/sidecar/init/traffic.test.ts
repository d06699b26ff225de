/**
 * The rules with real connections: three pods on a bridge, stand-in listeners on the proxy's
 * ports in the meshed pod, and clients started as different users. Each case says which server
 * must answer; the same cases run before init (nothing redirected), with each backend, and
 * after cleanup.
 */
import t, { type Test } from 'tap';
import type { ChildProcess } from 'node:child_process';
import { PodNetwork, listNetns, sh } from '../../../lab/netns.ts';
import { INBOUND_PASSTHROUGH_SOURCE } from '../../../sidecar/init/plan.ts';
import { connectFrom, natState, runInitIn, startReportServers, type Answer, type AsUser, type Backend } from './helpers/init-harness.ts';

const APP = 8080;
const APP_EXCLUDED = 8081;
const PEER_EXCLUDED = 9090;
const APP_USER: AsUser = { uid: 1000, gid: 1000 };
const ROOT: AsUser = {};
const PROXY: AsUser = { uid: 1337, gid: 1337 };

interface Case {
  name: string;
  from: 'meshed' | 'peer';
  user: AsUser;
  to: 'meshed' | 'peer' | 'excludedPeer' | 'localhost';
  port: number;
  source?: string;
  /** Server expected with the rules in place, and its local port (which proves a REDIRECT). */
  captured: { server: string; localPort: number };
  /** Server expected without rules. */
  direct: string;
}

const cases: Case[] = [
  { name: 'inbound from another pod goes to the inbound port', from: 'peer', user: ROOT, to: 'meshed', port: APP, captured: { server: 'inbound', localPort: 15006 }, direct: 'app' },
  { name: 'an excluded inbound port reaches the app', from: 'peer', user: ROOT, to: 'meshed', port: APP_EXCLUDED, captured: { server: 'app-excluded', localPort: APP_EXCLUDED }, direct: 'app-excluded' },
  { name: 'the admin port is not redirected', from: 'peer', user: ROOT, to: 'meshed', port: 15020, captured: { server: 'admin', localPort: 15020 }, direct: 'admin' },
  { name: 'app (uid 1000) to another pod goes to the outbound port', from: 'meshed', user: APP_USER, to: 'peer', port: APP, captured: { server: 'outbound', localPort: 15001 }, direct: 'peer-app' },
  { name: 'app (root) to another pod goes to the outbound port', from: 'meshed', user: ROOT, to: 'peer', port: APP, captured: { server: 'outbound', localPort: 15001 }, direct: 'peer-app' },
  { name: 'proxy uid 1337 to another pod is not redirected', from: 'meshed', user: PROXY, to: 'peer', port: APP, captured: { server: 'peer-app', localPort: APP }, direct: 'peer-app' },
  { name: 'proxy gid 1337 (uid 1000) to another pod is not redirected', from: 'meshed', user: { uid: 1000, gid: 1337 }, to: 'peer', port: APP, captured: { server: 'peer-app', localPort: APP }, direct: 'peer-app' },
  { name: 'an excluded outbound port is not redirected', from: 'meshed', user: APP_USER, to: 'peer', port: PEER_EXCLUDED, captured: { server: 'peer-excluded', localPort: PEER_EXCLUDED }, direct: 'peer-excluded' },
  { name: 'an excluded outbound CIDR is not redirected', from: 'meshed', user: APP_USER, to: 'excludedPeer', port: APP, captured: { server: 'other-app', localPort: APP }, direct: 'other-app' },
  { name: 'app (uid 1000) to 127.0.0.1 is not redirected', from: 'meshed', user: APP_USER, to: 'localhost', port: APP, captured: { server: 'app', localPort: APP }, direct: 'app' },
  { name: 'app (root) to 127.0.0.1 is not redirected', from: 'meshed', user: ROOT, to: 'localhost', port: APP, captured: { server: 'app', localPort: APP }, direct: 'app' },
  { name: 'proxy to 127.0.0.1 is not redirected', from: 'meshed', user: PROXY, to: 'localhost', port: APP, captured: { server: 'app', localPort: APP }, direct: 'app' },
  { name: 'app to its own pod IP is not redirected', from: 'meshed', user: APP_USER, to: 'meshed', port: APP, captured: { server: 'app', localPort: APP }, direct: 'app' },
  {
    name: `inbound sidecar (uid 1337 from ${INBOUND_PASSTHROUGH_SOURCE}) reaches the app at the pod IP directly`,
    from: 'meshed', user: PROXY, to: 'meshed', port: APP, source: INBOUND_PASSTHROUGH_SOURCE,
    captured: { server: 'app', localPort: APP }, direct: 'app',
  },
  {
    name: 'outbound sidecar (uid 1337) calling its own pod IP goes to the inbound port',
    from: 'meshed', user: PROXY, to: 'meshed', port: APP, captured: { server: 'inbound', localPort: 15006 }, direct: 'app',
  },
  {
    name: 'outbound sidecar calling its own pod on an excluded inbound port reaches the app',
    from: 'meshed', user: PROXY, to: 'meshed', port: APP_EXCLUDED, captured: { server: 'app-excluded', localPort: APP_EXCLUDED }, direct: 'app-excluded',
  },
  {
    name: 'outbound sidecar calling its own pod on the admin port is not redirected',
    from: 'meshed', user: PROXY, to: 'meshed', port: 15020, captured: { server: 'admin', localPort: 15020 }, direct: 'admin',
  },
];

void t.test('traffic through the applied rules', async (t) => {
  const net = new PodNetwork();
  const servers: ChildProcess[] = [];
  t.teardown(async () => {
    await net.destroy();
    for (const s of servers) s.kill('SIGKILL');
  });
  await net.create();
  const meshed = await net.addPod('m');
  const peer = await net.addPod('p');
  const other = await net.addPod('q');
  servers.push(
    await startReportServers(meshed.netns, ['inbound:15006', 'outbound:15001', 'admin:15020', `app:${APP}`, `app-excluded:${APP_EXCLUDED}`]),
    await startReportServers(peer.netns, [`peer-app:${APP}`, `peer-excluded:${PEER_EXCLUDED}`]),
    await startReportServers(other.netns, [`other-app:${APP}`]),
  );
  const pods = { meshed, peer, excludedPeer: other };
  const initArgs = [
    `--exclude-inbound-ports=${APP_EXCLUDED}`,
    `--exclude-outbound-ports=${PEER_EXCLUDED}`,
    `--exclude-outbound-cidrs=${other.ip}/32`,
  ];

  /** All cases, one client process per (pod, user), answers in case order. */
  const connectAll = async (): Promise<Answer[]> => {
    const groups = new Map<string, number[]>();
    cases.forEach((c, i) => {
      const key = JSON.stringify([c.from, c.user.uid, c.user.gid]);
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    const answers: Answer[] = [];
    await Promise.all(
      [...groups.values()].map(async (indexes) => {
        const first = cases[indexes[0]];
        const targets = indexes.map((i) => {
          const c = cases[i];
          return { host: c.to === 'localhost' ? '127.0.0.1' : pods[c.to].ip, port: c.port, localAddress: c.source };
        });
        const got = await connectFrom(pods[first.from].netns, first.user, targets);
        indexes.forEach((caseIndex, j) => (answers[caseIndex] = got[j]));
      }),
    );
    return answers;
  };

  const expectDirect = async (t: Test, when: string) => {
    const answers = await connectAll();
    cases.forEach((c, i) => t.equal(answers[i].server, c.direct, `${when}: ${c.name.replace(/ (goes|is|reaches).*/, '')} reaches ${c.direct}`, { answer: answers[i] }));
  };

  await t.test('without rules every connection goes straight to its destination', (t) => expectDirect(t, 'before init'));

  for (const backend of ['nft', 'legacy'] as Backend[]) {
    await t.test(`with the ${backend} backend`, async (t) => {
      const applied = await runInitIn(meshed.netns, [...initArgs, `--backend=${backend}`]);
      t.equal(applied.code, 0, 'init succeeds', { stderr: applied.stderr });
      const answers = await connectAll();
      cases.forEach((c, i) => {
        t.same(
          { server: answers[i].server, localPort: answers[i].localPort },
          c.captured,
          c.name,
          { answer: answers[i] },
        );
      });
      const passthrough = answers[cases.findIndex((c) => c.source === INBOUND_PASSTHROUGH_SOURCE)];
      t.equal(passthrough.remoteAddress, INBOUND_PASSTHROUGH_SOURCE, `the app sees the inbound sidecar's ${INBOUND_PASSTHROUGH_SOURCE} source`);
      const cleaned = await runInitIn(meshed.netns, ['--cleanup', `--backend=${backend}`]);
      t.equal(cleaned.code, 0, 'cleanup succeeds', { stderr: cleaned.stderr });
      t.notMatch(await natState(meshed.netns, backend), /MESHTAP/, 'no meshtap rules left');
      await expectDirect(t, `after ${backend} cleanup`);
    });
  }

  await net.destroy();
  t.same(await listNetns(net.prefix), [], 'namespaces removed');
  const links = await sh('ip', ['-o', 'link', 'show']);
  t.notMatch(links.stdout, new RegExp(net.prefix), 'links and bridge removed');
  await Promise.all(servers.map((s) => (s.exitCode !== null || s.signalCode !== null ? undefined : new Promise((r) => s.once('exit', r)))));
  t.ok(servers.every((s) => s.exitCode !== null || s.signalCode !== null), 'server processes ended');
});
