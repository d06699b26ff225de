/**
 * `npm run bench`: the performance budget, measured (a benchmark, not a test; needs root).
 *
 * Two pods (network namespaces) on a bridge: a load generator in the client pod, an echo app
 * in the server pod. The same load runs against each setup, one after the other:
 *   direct                           no rules, no proxy
 *   haproxy pair (tcp)               the pods' meshtap rules, haproxy in tcp mode (plain phase)
 *   haproxy mTLS pair                the peer the budget compares with (no capture)
 *   meshtap pair, capture on         plaintext sidecars shipping records (plain phase)
 *   meshtap pair, capture off        forwarding only
 *   meshtap mTLS pair, capture off   forwarding over mTLS (optional phase `mtls`): with the
 *                                    full-capture pair, splits what mTLS costs from capture
 *   meshtap mTLS pair, full capture  identities from a controller; the run fails unless the
 *                                    records report tls.mesh: true
 * Load: fixed 1000 req/s over 16 keep-alive connections with 1 KiB bodies (open loop, after a
 * warm-up), then saturation with 16 closed loops. With several rounds the setups take turns,
 * so background load on a shared machine hits them alike; the tables show medians over the
 * rounds (records lost: the worst round). The first round also runs the stress phases (64 KiB
 * bodies, 256 connections, pipelining) on the haproxy mTLS pair and the meshtap mTLS pair; the
 * collector ingest phase runs once at the end; `--profile` adds profiled saturation runs.
 *
 * Output: the budget table (the meshtap mTLS pair against the haproxy mTLS pair and direct,
 * with targets and verdicts), every setup's figures, the stress table, a summary JSON line,
 * and last one line holding a JSON array with one array of setups per round (the contract).
 * Settings: see `settings.ts`. The pieces: setups in `haproxy-pair.ts`, `sidecar-pair.ts`,
 * `mesh-control.ts`, `collector-process.ts`; load in `load.ts`/`load-runner.ts`/`phases.ts`;
 * measurement in `proc-stats.ts`; report in `results.ts`/`report.ts`.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PodNetwork, execInNetns, killNetnsProcesses, sh, spawnInNetns, type PodNetns } from '../lab/netns.ts';
import { Collector, waitForLine } from './collector-process.ts';
import { runCollectorPhase } from './collector-phase.ts';
import { HAPROXY_TCP_CONFIG, haproxyMtlsConfig, makeHaproxyPki, startHaproxyPair, verifyHaproxyRefusesPlaintext } from './haproxy-pair.ts';
import { MeshControl, verifyMeshedCall, verifyMeshedConnections, verifyMeshedLoad } from './mesh-control.ts';
import { runSaturation, runSetup, runStress, type PhaseTarget } from './phases.ts';
import { createProfileDirs, createProfileRoot, profileNodeOptions } from './profile.ts';
import type { ProxyPair } from './proxy-pair.ts';
import { buildStory, lastLine, setupsTable, storyTable, stressTable, summaryLine, type CollectorIngestOutcome } from './report.ts';
import { SETUP, medianOverRounds, type LoadResult, type SetupResult } from './results.ts';
import { startSidecarPair, type SidecarPairOptions } from './sidecar-pair.ts';
import { APP_PORT, APP_UID, ECHO, MESHTAP, NODE, REPO, benchEnv, log, resolveBenchSettings, type BenchSettings } from './settings.ts';

interface Bench {
  settings: BenchSettings;
  net: PodNetwork;
  pods: PodNetns[];
  client: PodNetns;
  url: string;
  collector: Collector;
  control: MeshControl;
  haproxyMtls: string;
  dir: string;
}

/** Starts a proxy pair, runs `body` against it, always stops it. */
async function withPair<T>(start: () => Promise<ProxyPair>, body: (pair: ProxyPair) => Promise<T>): Promise<T> {
  const pair = await start();
  try {
    return await body(pair);
  } finally {
    await pair.stop();
  }
}

/** The bench's sidecar pair, with the run's own sidecar options (`BENCH_SIDECAR_NODE_OPTIONS`). */
function sidecarPair(b: Bench, collector: Collector, options: Omit<SidecarPairOptions, 'extraNodeOptions'>): Promise<ProxyPair> {
  return startSidecarPair(b.net, b.pods, collector, { ...options, extraNodeOptions: b.settings.sidecarNodeOptions });
}

async function runRound(b: Bench, round: number): Promise<SetupResult[]> {
  const { settings, pods, client, url, collector, control } = b;
  const stress = round === 1 && settings.phases.has('stress');
  const plain = settings.phases.has('plain');
  const target = (proxies?: ProxyPair, withCollector = false): PhaseTarget => ({
    settings,
    client,
    url,
    proxies,
    collector: withCollector ? collector : undefined,
  });
  const results: SetupResult[] = [];

  for (const pod of pods) await execInNetns(pod.netns, NODE, [MESHTAP, 'init', '--cleanup']);
  results.push(await runSetup(SETUP.direct, target()));
  for (const pod of pods) await execInNetns(pod.netns, NODE, [MESHTAP, 'init']);

  if (plain) results.push(await withPair(() => startHaproxyPair(pods, b.dir, HAPROXY_TCP_CONFIG), (p) => runSetup(SETUP.haproxyTcp, target(p))));

  results.push(
    await withPair(
      () => startHaproxyPair(pods, b.dir, b.haproxyMtls),
      async (p) => {
        await verifyHaproxyRefusesPlaintext(client, url);
        const result = await runSetup(SETUP.haproxyMtls, target(p));
        if (stress) result.stress = await runStress(SETUP.haproxyMtls, target(p));
        return result;
      },
    ),
  );

  if (plain) {
    results.push(await withPair(() => sidecarPair(b, collector, { capture: true }), (p) => runSetup(SETUP.meshtapCapture, target(p, true))));
  }
  results.push(await withPair(() => sidecarPair(b, collector, { capture: false }), (p) => runSetup(SETUP.meshtapOff, target(p))));
  if (settings.phases.has('mtls')) {
    results.push(
      await withPair(
        () => sidecarPair(b, collector, { capture: false, mesh: control }),
        async (p) => {
          const result = await runSetup(SETUP.meshtapMtlsOff, target(p));
          await verifyMeshedConnections(pods);
          return result;
        },
      ),
    );
  }

  results.push(
    await withPair(
      () => sidecarPair(b, collector, { capture: true, mesh: control }),
      async (p) => {
        await verifyMeshedCall(client, url, collector);
        const result = await runSetup(SETUP.meshtapFull, target(p, true), (fixed: LoadResult) => verifyMeshedLoad(collector, fixed));
        if (stress) result.stress = await runStress(SETUP.meshtapFull, target(p, true));
        return result;
      },
    ),
  );
  return results;
}

/**
 * Saturation of the meshtap pairs with both sidecars and a fresh collector profiled, after the
 * measured rounds so profiling never skews them. Returns the directory holding the profiles.
 */
async function runProfiles(b: Bench): Promise<string> {
  const root = createProfileRoot(new Date());
  // With the mtls phase, the mTLS pair without capture too: its forwarding thread is the one to compare with haproxy's.
  const setups = [SETUP.meshtapOff, ...(b.settings.phases.has('mtls') ? [SETUP.meshtapMtlsOff] : []), SETUP.meshtapFull];
  for (const setup of setups) {
    const dirs = createProfileDirs(root, setup);
    const collector = new Collector({ host: b.net.gateway, nodeOptions: profileNodeOptions(dirs.collector) });
    try {
      await collector.ready();
      const mesh = setup === SETUP.meshtapOff ? undefined : b.control;
      await withPair(
        () =>
          sidecarPair(b, collector, {
            capture: setup === SETUP.meshtapFull,
            mesh,
            nodeOptions: [profileNodeOptions(dirs.client), profileNodeOptions(dirs.server)],
          }),
        (p) => runSaturation(setup, { settings: b.settings, client: b.client, url: b.url, proxies: p, collector }),
      );
    } finally {
      await collector.stop(true);
    }
  }
  return root;
}

async function main(): Promise<number> {
  const settings = resolveBenchSettings(process.env, process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (network namespaces, iptables)\n');
    return 1;
  }
  const net = new PodNetwork({ prefix: 'mtbn' });
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-bench-'));
  chmodSync(dir, 0o755);
  let collector: Collector | undefined;
  let control: MeshControl | undefined;
  try {
    await net.create();
    const client = await net.addPod('client');
    const server = await net.addPod('server');
    const pods = [client, server];
    collector = new Collector({ host: net.gateway });
    await collector.ready();
    const app = spawnInNetns(server.netns, NODE, [ECHO, String(APP_PORT)], { uid: APP_UID, cwd: REPO, env: benchEnv() });
    await waitForLine(app, /"ready":true/, 'echo app');
    const haproxyMtls = haproxyMtlsConfig(await makeHaproxyPki(dir));
    control = new MeshControl(net, dir);
    await control.start(pods);
    const bench: Bench = { settings, net, pods, client, url: `http://${server.ip}:${APP_PORT}/echo`, collector, control, haproxyMtls, dir };
    const cpus = (await sh('nproc', [])).stdout.trim();
    log(
      `${cpus} CPUs; ${settings.rate} req/s, ${settings.connections} connections, ${settings.bodyBytes} B bodies, ${settings.seconds} s per run; ` +
        `phases: ${[...settings.phases].join(', ') || 'none'}${settings.profile ? ', profile' : ''}`,
    );

    const rounds: SetupResult[][] = [];
    for (let round = 1; round <= settings.rounds; round++) {
      if (settings.rounds > 1) log(`round ${round} of ${settings.rounds}`);
      rounds.push(await runRound(bench, round));
    }
    const results = medianOverRounds(rounds);

    let ingest: CollectorIngestOutcome = { available: false, reason: 'skipped (BENCH_PHASES has no collector)' };
    if (settings.phases.has('collector')) {
      log(`collector ingest phase, ${settings.seconds} s per part`);
      ingest = await runCollectorPhase(settings.seconds);
      if (!ingest.available) log(`collector phase: ${ingest.reason}`);
    }
    const profiles = settings.profile ? await runProfiles(bench) : undefined;

    const story = buildStory(results, ingest);
    const haproxyVersion = (await sh('haproxy', ['-v'])).stdout.split('\n')[0].split(' ').slice(0, 3).join(' ');
    const out = (text: string) => process.stdout.write(text);
    out(`\nThe budget: meshtap mTLS pair, full capture, against the haproxy mTLS pair and direct, same run\n\n${storyTable(story)}\n`);
    out(`\nEvery setup\n\n${setupsTable(results, settings.rate)}\n`);
    const stressText = stressTable(results);
    if (stressText) out(`\nStress phases (first round)\n\n${stressText}\n`);
    out(
      `\n${cpus} CPUs shared by the load generator, the app, both proxies and the collector; latency from the scheduled send time; ` +
        `${settings.rounds > 1 ? `median of ${settings.rounds} interleaved rounds; ` : ''}${haproxyVersion}.\n`,
    );
    if (profiles) out(`CPU and heap profiles of both sidecars and the collector under saturation: ${profiles}\n`);
    out(`\n${summaryLine(story, ingest)}\n`);
    out(`${lastLine(rounds)}\n`);
    return 0;
  } finally {
    for (const pod of net.pods) await killNetnsProcesses(pod.netns);
    control?.stop();
    await collector?.stop();
    await net.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
