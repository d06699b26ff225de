/**
 * `meshtap lab up`: brings a scenario up through the real pipeline. The steps, in order:
 * certificates (`meshtap certs init`) and the lab's token signing key, the node's bridge, the
 * inventory files, the control plane (`meshtap controller`: webhook, CA and membership feed,
 * through `ControlPlane`), the collector, then every pod in parallel: namespace + veth,
 * /etc/hosts and service rules, admission through the webhook over HTTPS, volumes (the pod's
 * signed token, the trust bundle), and the patched spec's processes in the kubelet's order
 * (init containers, the native sidecar until its startup probe passes, the app containers
 * until ready). The inventory files follow every pod from admission to ready.
 *
 * Every name is written to the state file before the thing is created, so `lab down` can
 * always undo what exists.
 */
import { podEntry } from '../lib/pod-entry.ts';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { MeshtapError, describeError } from '../lib/errors.ts';
import { MESHTAP_CONTAINER_NAMES } from '../webhook/containers.ts';
import {
  BRIDGE,
  CONTROLLER_PORT,
  DEFAULT_APP_UID,
  GATEWAY_IP,
  NODE_NAME,
  NODE_POD_PREFIX_LENGTH,
  podNetnsName,
  vethNames,
} from './addresses.ts';
import { admitPod } from './admission-client.ts';
import { LAB_ERR_POD_FAILED, LAB_ERR_PROCESS_FAILED, LAB_ERR_SCENARIO } from './errors.ts';
import { applyNodeRules, createBridge, createPodNetns, writeNetnsEtc } from './node-network.ts';
import { APPS_DIR, LAB_PATH, MESHTAP_BIN, NODE, REPO, demoApps, type ResolvedScenario } from './paths.ts';
import { buildPodPlan, buildServiceEnv, requiredPrograms } from './pod-plan.ts';
import { awaitContainer, runHook, runInit, startContainer, type ContainerHost } from './pod-containers.ts';
import { ensureDir, prepareVolumes } from './pod-volumes.ts';
import { startProcess, tailLog } from './processes.ts';
import { assignAddresses, parseScenario, type AddressedPod, type AddressedScenario, type Pod } from './scenario.ts';
import { buildNodeServiceRestore, buildRejectRestore } from './service-rules.ts';
import { DNS_POD_IP, DNS_VIP, buildHostsFile, buildResolvConf, withClusterDns } from './cluster-dns.ts';
import { startDnsServer } from './dns-server.ts';
import { claimState, saveState, writeFileAtomic, type ContainerState, type LabState, type PodState } from './state.ts';
import { createKeyTokenIssuer, createTokenKeyPair, type TokenIssuer } from './token-issuer.ts';
import { execInNetns } from './netns.ts';
import { controllerControlPlane, issueCollectorCert, type ControlPlane } from './control-plane.ts';
import { collectorEnv, namespaceList, onNode, reviewReasons, sleep } from './host-helpers.ts';
import { InventoryPublisher } from './inventory-publisher.ts';

export { CONTROLLER_DNS_NAME, controllerControlPlane, issueCollectorCert, type ControlPlane, type ControlPlaneContext, type RunningControlPlane } from './control-plane.ts';

export type Progress = (line: string) => void;

export type { TokenIssuer } from './token-issuer.ts';

export interface UpOptions {
  scenario: ResolvedScenario;
  stateDir: string;
  grpcPort: number;
  httpPort: number;
  /** Environment of the caller; the collector inherits its OTel and Loki settings. */
  env: NodeJS.ProcessEnv;
  progress: Progress;
  controlPlane?: ControlPlane;
  tokenIssuer?: TokenIssuer;
  /** Per pod, from admission to ready. */
  podTimeoutMs?: number;
  signal?: AbortSignal;
}

export class LabStarter {
  readonly state: LabState;
  private readonly options: UpOptions;
  private readonly addressed: AddressedScenario;
  private readonly certDir: string;
  private readonly logDir: string;
  private readonly children: ChildProcess[] = [];
  private webhookLog = '';
  private webhookUrl = '';
  private caPem = '';
  private tokenIssuer: TokenIssuer | undefined;
  /** What the controller's and the collector's inventory files say, kept in step with the pods. */
  private readonly inventory: InventoryPublisher;
  /** Pods left out because a program they need is not on this node (their services keep no endpoint). */
  private readonly skipped: string[] = [];

  constructor(options: UpOptions) {
    this.options = options;
    const scenario = parseScenario(options.scenario.files, { demoApps: demoApps() });
    // A pod whose image is not on the node cannot start: like a pull that fails, but the rest
    // of the scenario (e.g. without its optional Redis or PostgreSQL) still comes up.
    const runnable = scenario.pods.filter(({ pod }) => {
      const missing = requiredPrograms(pod).find((program) => !onNode(program, LAB_PATH));
      if (missing !== undefined) this.skipped.push(`skipping pod ${pod.metadata.namespace}/${pod.metadata.name}: command "${missing}" not found${missing.startsWith('/') ? '' : ' on PATH'}`);
      return missing === undefined;
    });
    this.addressed = assignAddresses({ ...scenario, pods: runnable });
    if (this.addressed.pods.some((p) => p.ip === DNS_POD_IP)) throw new MeshtapError(LAB_ERR_SCENARIO, `too many pods: ${DNS_POD_IP} is the cluster DNS's address`);
    this.inventory = new InventoryPublisher(withClusterDns(this.addressed), () => this.state);
    this.certDir = join(options.stateDir, 'certs');
    this.logDir = join(options.stateDir, 'logs');
    this.state = {
      version: 1,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      phase: 'starting',
      stateDir: options.stateDir,
      scenario: { name: options.scenario.name, dir: options.scenario.dir },
      ports: { grpc: options.grpcPort, http: options.httpPort },
      hostProcesses: [],
      namespaces: this.addressed.namespaces.map((n) => ({ name: n.name, labels: n.labels })),
      services: this.addressed.services.map((s) => ({ name: s.name, namespace: s.namespace, clusterIP: s.clusterIP, ports: s.ports })),
      pods: this.addressed.pods.map((p) => this.initialPodState(p)),
    };
  }

  private initialPodState(p: AddressedPod): PodState {
    const { name, namespace } = p.pod.metadata;
    const netns = podNetnsName(namespace, name);
    return {
      name,
      namespace,
      netns,
      ip: p.ip,
      index: p.index,
      ...vethNames(p.index),
      dir: join(this.options.stateDir, 'pods', `${namespace}_${name}`),
      etcDir: join('/etc/netns', netns),
      ...(p.owner ? { workload: `${p.owner.kind}/${p.owner.name}` } : {}),
      phase: 'pending',
      containers: [],
    };
  }

  private say(line: string): void {
    this.options.progress(line);
  }

  private checkAborted(): void {
    if (this.options.signal?.aborted) throw new MeshtapError(LAB_ERR_POD_FAILED, 'interrupted');
  }

  private save(): void {
    saveState(this.state);
  }

  /** Claims the state directory; after this, `lab down` is the way back. */
  claim(): void {
    claimState(this.state);
    mkdirSync(this.logDir, { recursive: true, mode: 0o755 });
  }

  async run(): Promise<LabState> {
    const { stateDir, progress } = this.options;
    if (this.options.scenario.note) progress(`note: ${this.options.scenario.note}`);
    progress(`scenario ${this.options.scenario.name} (${this.options.scenario.dir}): ${this.addressed.pods.length} pods, ${this.addressed.services.length} services, state in ${stateDir}`);
    for (const line of this.skipped) progress(`note: ${line}`);

    // Certificates: the CA, and the webhook's serving certificate for the bridge address the controller listens on.
    const certsLog = join(this.logDir, 'certs.log');
    await this.runToCompletion('certs', [NODE, MESHTAP_BIN, 'certs', 'init', '--dir', this.certDir, '--ip', GATEWAY_IP, '--ip', '127.0.0.1'], certsLog);
    this.caPem = readFileSync(join(this.certDir, 'ca', 'ca.crt'), 'utf8');
    const collectorCertDir = await issueCollectorCert(this.certDir);
    // The API server's token signer, as far as the lab has one.
    const keys = createTokenKeyPair();
    const tokenDir = ensureDir(join(stateDir, 'token-key'), 0o700);
    const tokenKeyFile = join(tokenDir, 'public.pem');
    writeFileAtomic(join(tokenDir, 'private.pem'), keys.privatePem, 0o600);
    writeFileAtomic(tokenKeyFile, keys.publicPem, 0o644);
    this.tokenIssuer = this.options.tokenIssuer ?? createKeyTokenIssuer(keys.privateKey);
    this.state.tokenKeyFile = tokenKeyFile;
    this.save();
    this.say(`[certs]      CA and webhook serving certificate in ${this.certDir}; token signing key ${tokenKeyFile}`);
    this.checkAborted();

    // Network: first, because the controller listens on the bridge address.
    this.state.bridge = { name: BRIDGE, gateway: GATEWAY_IP, prefixLength: NODE_POD_PREFIX_LENGTH };
    this.state.createdEtcNetns = !existsSync('/etc/netns');
    this.save();
    await createBridge(BRIDGE, GATEWAY_IP, NODE_POD_PREFIX_LENGTH);
    // Services on the node, as kube-proxy makes them (`service-rules.ts`); `lab down` removes them by chain name.
    this.state.nodeRules = true;
    this.save();
    const dns = { vip: DNS_VIP, ip: DNS_POD_IP };
    await applyNodeRules(buildNodeServiceRestore({ services: this.addressed.services, podIps: this.addressed.pods.map((p) => p.ip), dns }));
    const vips = this.addressed.services.map((s) => `${s.namespace}/${s.name}=${s.clusterIP}`).join(', ');
    this.say(`[network]    bridge ${BRIDGE} ${GATEWAY_IP}/${NODE_POD_PREFIX_LENGTH}; services ${vips || '(none)'}`);
    this.checkAborted();

    // The cluster DNS, before any pod resolves a name (`cluster-dns.ts`).
    const dnsState = await startDnsServer({
      hostsFile: join(stateDir, 'dns-hosts'),
      log: join(this.logDir, 'dns.log'),
      services: this.addressed.services,
      pods: this.addressed.pods.map((p) => ({ name: p.pod.metadata.name, namespace: p.pod.metadata.namespace, ip: p.ip })),
      record: (d) => ((this.state.dns = { ...d }), this.save()),
      start: (argv, netns, log) => this.spawn({ argv, env: { PATH: LAB_PATH }, log, netns }),
    });
    this.say(`[dns]        kube-system/kube-dns ${dnsState.vip} -> dnsmasq ${dnsState.ip} in ${dnsState.netns} (pid ${dnsState.pid}, log ${dnsState.log})`);
    this.checkAborted();

    // The inventory files, before anyone reads them: namespaces, services, the node, no pods yet.
    const inventoryDir = ensureDir(join(stateDir, 'inventory'));
    this.state.inventory = { membershipFile: join(inventoryDir, 'membership.json'), clusterFile: join(inventoryDir, 'cluster.json') };
    this.save();
    this.inventory.publish();

    // Control plane
    const namespacesFile = join(stateDir, 'namespaces.yaml');
    writeFileSync(namespacesFile, namespaceList(this.addressed));
    const injectorConfigFile = join(stateDir, 'injector.yaml');
    writeFileSync(
      injectorConfigFile,
      toYaml({
        collectorAddr: `${GATEWAY_IP}:${this.options.grpcPort}`,
        // The lab's collector serves mTLS only: sidecars ship with their workload certificates.
        collectorTls: 'auto',
        caAddr: `${GATEWAY_IP}:${CONTROLLER_PORT}`,
        controllerAddr: `${GATEWAY_IP}:${CONTROLLER_PORT}`,
        // Nothing in the lab refreshes projected tokens as a kubelet does: issue them for a day,
        // so a lab left running keeps renewing certificates and watching membership.
        tokenExpirationSeconds: 86_400,
      }),
    );
    const controlPlane = this.options.controlPlane ?? controllerControlPlane;
    const cp = await controlPlane.start({
      stateDir,
      certDir: this.certDir,
      namespacesFile,
      injectorConfigFile,
      tokenKeyFile,
      membershipFile: this.state.inventory.membershipFile,
      grpcIp: GATEWAY_IP,
      grpcPort: CONTROLLER_PORT,
      startHostProcess: (name, argv, env) => this.startHostProcess(name, argv, env),
      waitForLogLine: (name, log, child, match, timeoutMs) => this.waitForLogLine(name, log, child, match, timeoutMs),
    });
    this.webhookUrl = cp.webhookUrl;
    this.webhookLog = cp.log;
    this.caPem = cp.caPem;
    this.state.webhook = { url: cp.webhookUrl };
    this.state.controller = {
      process: `meshtap ${controlPlane.name}`,
      webhookUrl: cp.webhookUrl,
      grpcAddr: cp.grpcAddr,
      log: cp.log,
      ...(cp.pid !== undefined ? { pid: cp.pid } : {}),
      ...(cp.trustDomain ? { trustDomain: cp.trustDomain } : {}),
    };
    this.save();
    this.say(`[controller] ${cp.summary}`);
    this.checkAborted();

    // Collector
    const token = randomBytes(32).toString('base64url');
    const tokenFile = join(stateDir, 'collector-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const collectorDbDir = join(stateDir, 'collector');
    const collectorArgv = [
      NODE, MESHTAP_BIN, 'collector',
      '--grpc-port', String(this.options.grpcPort),
      '--http-port', String(this.options.httpPort),
      // Ingest on the bridge only: the pods' one way to the node, and no other interface's.
      '--host', GATEWAY_IP,
      '--store', 'sqlite',
      // In a directory of its own, which the collector creates 0700: the database holds every payload.
      '--db', join(collectorDbDir, 'collector.db'),
      '--inventory-file', this.state.inventory.clusterFile,
      '--tls-cert-dir', collectorCertDir,
      // The API on loopback with a token: pods reach ingest on the bridge, never the payloads.
      '--http-host', '127.0.0.1',
      '--auth', 'token',
      '--auth-token-file', tokenFile,
    ];
    const collector = this.startHostProcess('collector', collectorArgv, collectorEnv(this.options.env));
    await this.waitForLogLine('collector', collector.log, collector.child, (l) => l.msg === 'collector listening');
    const url = `http://127.0.0.1:${this.options.httpPort}`;
    // The login link carries the token in the fragment, which the browser never sends on.
    this.state.collector = {
      grpcAddr: `${GATEWAY_IP}:${this.options.grpcPort}`,
      url,
      token,
      tokenFile,
      dashboardUrl: `${url}/#token=${encodeURIComponent(token)}`,
      ...(collector.child.pid !== undefined ? { pid: collector.child.pid } : {}),
    };
    this.save();
    this.say(`[collector]  gRPC ${GATEWAY_IP}:${this.options.grpcPort} (mTLS), HTTP ${url}, inventory ${this.state.inventory.clusterFile} (pid ${collector.child.pid}, log ${collector.log})`);
    this.checkAborted();

    // Pods
    const timeout = this.options.podTimeoutMs ?? 90_000;
    const results = await Promise.allSettled(this.addressed.pods.map((p, i) => this.startPod(p, this.state.pods[i], Date.now() + timeout)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [{ pod: this.state.pods[i], err: r.reason as unknown }] : []));
    if (failed.length > 0) {
      const first = failed[0];
      throw new MeshtapError(
        LAB_ERR_POD_FAILED,
        `${failed.length} pod(s) did not become ready: ${failed.map((f) => `${f.pod.namespace}/${f.pod.name}`).join(', ')}\n${describeError(first.err)}`,
        { cause: first.err },
      );
    }
    // Sidecars learn who is meshed from the feed: wait for the snapshot naming every meshed pod,
    // so the first call after "ready" already goes over mTLS. Not fatal: traffic passes in plaintext meanwhile.
    const meshed = this.state.pods.filter((p) => p.injected).length;
    if (meshed > 0 && cp.waitForMembership && !(await cp.waitForMembership(meshed, 5000))) {
      this.say(`[controller] note: the membership feed does not list all ${meshed} meshed pods yet; calls to them stay plaintext until it does`);
    }
    this.state.phase = 'ready';
    this.save();
    return this.state;
  }

  /** Lets this process exit while the lab's processes keep running. */
  release(): void {
    for (const child of this.children) child.unref();
  }

  private spawn(options: Parameters<typeof startProcess>[0]): ChildProcess {
    const child = startProcess(options);
    this.children.push(child);
    return child;
  }

  private startHostProcess(name: string, argv: string[], env: Record<string, string> = { PATH: LAB_PATH }): { child: ChildProcess; log: string } {
    const log = join(this.logDir, `${name}.log`);
    const entry = { name, argv, log } as LabState['hostProcesses'][number];
    this.state.hostProcesses.push(entry);
    this.save();
    const child = this.spawn({ argv, env, log });
    entry.pid = child.pid;
    this.save();
    return { child, log };
  }

  private async runToCompletion(name: string, argv: string[], log: string): Promise<void> {
    const { child } = this.startHostProcess(name, argv);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.on('error', () => resolve(null));
    });
    if (code !== 0) throw new MeshtapError(LAB_ERR_PROCESS_FAILED, `${name} failed (exit ${code}):\n${tailLog(log)}`);
  }

  private async waitForLogLine(
    name: string,
    log: string,
    child: ChildProcess,
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    let exited: number | null | undefined;
    child.on('exit', (code) => (exited = code));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      this.checkAborted();
      let text = '';
      try {
        text = readFileSync(log, 'utf8');
      } catch {
        // not written yet
      }
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const rec = JSON.parse(line) as Record<string, unknown>;
          if (match(rec)) return rec;
        } catch {
          // a partial line
        }
      }
      if (exited !== undefined) break;
      await sleep(50);
    }
    const why = exited !== undefined ? `exited (${exited})` : `did not report ready within ${timeoutMs / 1000} s`;
    throw new MeshtapError(LAB_ERR_PROCESS_FAILED, `${name} ${why}; log ${log}:\n${tailLog(log)}`);
  }

  private async startPod(desired: AddressedPod, ps: PodState, deadline: number): Promise<void> {
    const label = `${ps.namespace}/${ps.name}`;
    const pad = label.padEnd(Math.min(48, Math.max(...this.state.pods.map((p) => p.namespace.length + p.name.length + 1))));
    const say = (what: string) => this.say(`[pod]        ${pad}  ${what}`);
    const createdAt = new Date().toISOString();
    try {
      // Network: recorded, then created.
      ps.phase = 'network';
      this.save();
      await createPodNetns({ netns: ps.netns, hostIf: ps.hostIf, podIf: ps.podIf, ip: ps.ip, prefixLength: NODE_POD_PREFIX_LENGTH, gateway: GATEWAY_IP, bridge: BRIDGE });
      await writeNetnsEtc(ps.etcDir, { hosts: buildHostsFile(ps), 'resolv.conf': buildResolvConf(ps.namespace) });
      const reject = buildRejectRestore(this.addressed.services);
      if (reject) await execInNetns(ps.netns, 'iptables-restore', ['--noflush'], reject);
      this.checkAborted();

      // Admission, as the API server does it for the ReplicaSet controller's create.
      const admitted = await admitPod(desired.pod, { url: this.webhookUrl, caPem: this.caPem });
      const pod: Pod = admitted.pod;
      // A scenario may place a pod on a named node (cross-node calls); the rest land on the lab node.
      pod.spec.nodeName ||= NODE_NAME;
      pod.spec.serviceAccountName ??= 'default';
      ps.injected = admitted.patch.length > 0;
      if (!ps.injected) ps.skipReasons = await reviewReasons(this.webhookLog, admitted.uid);
      ps.phase = 'admitted';
      this.save();
      writeFileSync(join(ensureDir(ps.dir), 'pod.json'), JSON.stringify(pod, null, 2));
      // The pod exists from now on: the collector can name its address, the controller lists it,
      // meshed when injected (lab/membership-file.ts says why before its sidecar is ready).
      this.inventory.addPod(ps, {
        pod,
        ip: ps.ip,
        phase: 'Pending',
        startTime: createdAt,
        ready: false,
        meshed: ps.injected,
        ...(desired.owner ? { owner: { deployment: desired.owner.name, replicaSet: desired.owner.replicaSet } } : {}),
      });
      this.inventory.publish();
      say(ps.injected ? `${ps.ip}  admitted: injected (${admitted.patch.length} patch operations)` : `${ps.ip}  admitted: not injected (${ps.skipReasons?.join(', ')})`);

      const plan = buildPodPlan(pod, {
        ip: ps.ip,
        hostIp: GATEWAY_IP,
        nodeName: NODE_NAME,
        podDir: ps.dir,
        node: NODE,
        meshtapBin: MESHTAP_BIN,
        meshtapPodBin: podEntry(),
        appsDir: APPS_DIR,
        workingDir: REPO,
        path: LAB_PATH,
        defaultUid: DEFAULT_APP_UID,
        serviceEnv: buildServiceEnv(this.addressed.services.filter((s) => s.namespace === ps.namespace)),
        exactEnvContainers: MESHTAP_CONTAINER_NAMES,
      });
      await prepareVolumes(pod, plan, ps, { tokenIssuer: this.tokenIssuer, caPem: this.caPem });
      const firstApp = plan.processes.find((p) => p.role === 'app');
      if (firstApp) ps.app = { container: firstApp.container, uid: firstApp.uid, gid: firstApp.gid, env: firstApp.env };
      ps.containers = plan.processes.map(
        (p): ContainerState => ({ name: p.container, role: p.role, uid: p.uid, log: join(this.logDir, `${ps.namespace}_${ps.name}_${p.container}.log`), state: 'waiting' }),
      );
      ps.phase = 'starting';
      this.save();

      const waiting: Array<Promise<void>> = [];
      for (const [i, proc] of plan.processes.entries()) {
        this.checkAborted();
        const cs = ps.containers[i];
        if (proc.role === 'init') {
          await runInit(this.containerHost, ps, proc, cs);
          say(`init container ${proc.container} done`);
          continue;
        }
        const exited = startContainer(this.containerHost, ps, proc, cs);
        // Init containers are done and a container runs: the pod is Running.
        this.inventory.updatePod(ps, { phase: 'Running' });
        if (proc.postStart) await runHook(this.containerHost, ps, proc, cs);
        if (proc.role === 'sidecar') {
          // A native sidecar holds the next containers back until its startup probe passes.
          await awaitContainer(this.containerHost, pod, ps, proc, cs, exited, deadline);
          say(`sidecar ${proc.container} ready (uid ${proc.uid})`);
        } else {
          waiting.push(
            awaitContainer(this.containerHost, pod, ps, proc, cs, exited, deadline).then(() => say(`container ${proc.container} ready (uid ${proc.uid})`)),
          );
        }
      }
      await Promise.all(waiting);
      ps.phase = 'ready';
      this.save();
      this.inventory.updatePod(ps, { ready: true });
    } catch (err) {
      ps.phase = 'failed';
      ps.error = describeError(err);
      this.save();
      say(`FAILED: ${describeError(err).split('\n')[0]}`);
      throw err;
    }
  }

  /** How the pod's containers reach the lab: its process tracking, its state file, its interruption. */
  private get containerHost(): ContainerHost {
    return { spawn: (o) => this.spawn(o), save: () => this.save(), signal: this.options.signal };
  }
}
