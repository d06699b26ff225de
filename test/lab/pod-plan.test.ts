import t from 'tap';
import fastJsonPatch from 'fast-json-patch';
import { injectPod, type PodLike } from '../../webhook/inject.ts';
import { resolveInjectorConfig } from '../../webhook/injector-config.ts';
import { MESHTAP_CONTAINER_NAMES } from '../../webhook/containers.ts';
import { applyAdmissionResponse, buildAdmissionReview } from '../../lab/admission-client.ts';
import { findPod } from '../../lab/cli.ts';
import { buildPodPlan, buildServiceEnv, expandVars, resolveProbePort, type PodContext } from '../../lab/pod-plan.ts';
import { parseScenario, assignAddresses, type Pod } from '../../lab/scenario.ts';
import { buildNodeCleanupRestore, buildNodeServiceRestore, buildRejectRestore, POSTROUTING_CHAIN, SERVICES_CHAIN } from '../../lab/service-rules.ts';
import { buildHostsFile, buildResolvConf } from '../../lab/cluster-dns.ts';
import type { PodState } from '../../lab/state.ts';
import { SIDECAR_NODE_FLAGS } from '../../lib/pod-entry.ts';

const scenario = assignAddresses(
  parseScenario(
    [
      {
        path: 's.yaml',
        text: `apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {meshtap.io/inject: enabled}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web, team: a}}
spec:
  containers:
    - name: app
      command: [meshtap-demo, --port, $(PORT)]
      args: [--greeting, "$(GREETING) $$(literal)"]
      env:
        - {name: PORT, value: "8080"}
        - {name: GREETING, value: "hi from $(MY_POD)"}
        - {name: MY_POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: TEAM, valueFrom: {fieldRef: {fieldPath: "metadata.labels['team']"}}}
      ports: [{name: http, containerPort: 8080}]
      readinessProbe: {httpGet: {path: /healthz, port: http}}
---
apiVersion: v1
kind: Pod
metadata: {name: root-job, namespace: shop, labels: {app: job}}
spec:
  securityContext: {runAsUser: 2000}
  containers:
    - {name: job, image: meshtap/demo-caller, args: [x], securityContext: {runAsGroup: 3000}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}, {name: admin, port: 9000, targetPort: 9000}]
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: shop}
spec:
  selector: {app: nothing}
  ports: [{port: 81}]
`,
      },
    ],
    { demoApps: new Set(['caller']) },
  ),
);

function ctx(ip: string): PodContext {
  return {
    ip,
    hostIp: '10.244.0.1',
    nodeName: 'lab',
    podDir: '/state/pods/p',
    node: '/repo/node',
    meshtapBin: '/repo/bin/meshtap.ts',
    meshtapPodBin: '/repo/dist/meshtap-pod.js',
    appsDir: '/repo/lab/apps',
    workingDir: '/repo',
    path: '/repo/bin:/usr/bin',
    defaultUid: 1000,
    serviceEnv: buildServiceEnv(scenario.services),
    exactEnvContainers: MESHTAP_CONTAINER_NAMES,
  };
}

/** What the webhook would answer, applied the way the lab applies it. */
function admit(pod: Pod): Pod {
  const config = resolveInjectorConfig({ collectorAddr: '10.244.0.1:9400' });
  const decision = injectPod({ pod: structuredClone(pod) as unknown as PodLike, namespace: pod.metadata.namespace, namespaceLabels: { 'meshtap.io/inject': 'enabled' }, config });
  const body = { response: { uid: 'u1', allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(decision.patch)).toString('base64') } };
  return applyAdmissionResponse('u1', pod, body).pod;
}

void t.test('an injected pod runs init, then the sidecar with exactly its env, then the app', async (t) => {
  const web = scenario.pods.find((p) => p.pod.metadata.name === 'web')!;
  const pod = admit(web.pod);
  const plan = buildPodPlan(pod, ctx(web.ip));
  t.same(plan.processes.map((p) => [p.container, p.role, p.uid]), [
    ['meshtap-init', 'init', 0],
    ['meshtap-proxy', 'sidecar', 1337],
    ['app', 'app', 1000],
  ]);
  const [init, sidecar, app] = plan.processes;
  t.same(init.argv.slice(0, 3), ['/repo/node', '/repo/dist/meshtap-pod.js', 'init'], 'the pod commands run compiled, on the pinned Node, as in the image');
  t.same(sidecar.argv.slice(0, 3 + SIDECAR_NODE_FLAGS.length), ['/repo/node', ...SIDECAR_NODE_FLAGS, '/repo/dist/meshtap-pod.js', 'sidecar'], "the sidecar with its V8 flags on node's command line, as the image's launcher runs it");
  t.equal(init.env.XTABLES_LOCKFILE, '/state/pods/p/volumes/meshtap-tmp/xtables.lock', 'paths under a mount are mapped to the volume');
  t.match(sidecar.env, {
    POD_NAME: 'web',
    POD_NAMESPACE: 'shop',
    POD_IP: web.ip,
    NODE_NAME: 'lab',
    SERVICE_ACCOUNT: 'default',
    MESHTAP_COLLECTOR_ADDR: '10.244.0.1:9400',
    MESHTAP_TOKEN_FILE: '/state/pods/p/volumes/meshtap-token/meshtap-token',
    MESHTAP_TRUST_BUNDLE: '/state/pods/p/volumes/meshtap-trust-bundle/ca.crt',
  });
  const patchEnv = (pod.spec.initContainers ?? []).find((c) => c.name === 'meshtap-proxy')!.env!.map((e) => e.name);
  t.same(Object.keys(sidecar.env).sort(), [...patchEnv, 'PATH', 'HOSTNAME', 'TMPDIR'].sort(), 'the sidecar gets the patch env, no service variables');
  t.match(sidecar.startupProbe, { httpGet: { path: '/ready', port: 15020 } });
  t.same(app.argv, ['meshtap-demo', '--port', '8080', '--greeting', 'hi from $(MY_POD) $(literal)'], '$(VAR) expanded in order (a later variable stays as written), $$ escapes');
  t.match(app.env, { MY_POD: 'web', MY_IP: web.ip, TEAM: 'a', GREETING: 'hi from $(MY_POD)', WEB_SERVICE_HOST: scenario.services[0].clusterIP, WEB_SERVICE_PORT: '80', WEB_SERVICE_PORT_ADMIN: '9000' });
  t.equal(resolveProbePort(pod, 'http'), 8080);
  t.same(plan.volumes.map((v) => [v.name, v.type]), [['meshtap-token', 'token'], ['meshtap-trust-bundle', 'trustBundle'], ['meshtap-tmp', 'emptyDir']]);
  const mountedBy = Object.fromEntries(plan.volumes.map((v) => [v.name, v.mountedBy.map((m) => `${m.container}:${m.uid}:${m.gid}`)]));
  t.same(mountedBy['meshtap-token'], ['meshtap-proxy:1337:1337'], 'only the sidecar (uid 1337) mounts the token, so only it may read it');
  t.same(mountedBy['meshtap-trust-bundle'], ['meshtap-proxy:1337:1337']);
  t.same(mountedBy['meshtap-tmp'].map((m) => m.split(':')[0]).sort(), ['meshtap-init', 'meshtap-proxy']);
});

void t.test('users come from the securityContext; demo images run the demo app', async (t) => {
  const job = scenario.pods.find((p) => p.pod.metadata.name === 'root-job')!;
  const plan = buildPodPlan(job.pod, ctx(job.ip));
  t.same(plan.processes.map((p) => [p.container, p.uid, p.gid]), [['job', 2000, 3000]]);
  t.same(plan.processes[0].argv, ['/repo/node', '/repo/lab/apps/caller.ts', 'x']);
  t.equal(plan.processes[0].workingDir, '/repo', 'the image\'s working directory is the repository');
});

void t.test('expandVars leaves unknown references alone', async (t) => {
  t.equal(expandVars('$(A)-$(B)-$$(A)', { A: '1' }), '1-$(B)-$(A)');
});

void t.test('service rules on the node: DNAT per endpoint with random spreading, the kube-dns VIP, hairpin SNAT', async (t) => {
  const podIps = scenario.pods.map((p) => p.ip);
  const text = buildNodeServiceRestore({ services: scenario.services, podIps, dns: { vip: '10.96.0.10', ip: '10.244.0.254' } });
  t.match(text, new RegExp(`^\\*nat\\n:${SERVICES_CHAIN} - \\[0:0\\]\\n:${POSTROUTING_CHAIN} - \\[0:0\\]`));
  t.match(text, `-I PREROUTING 1 -i mtlab0 -d 10.96.0.0/16 -m comment --comment "meshtap lab: service VIPs" -j ${SERVICES_CHAIN}`);
  t.match(text, `-I POSTROUTING 1 -o mtlab0 -m comment --comment "meshtap lab: hairpin" -j ${POSTROUTING_CHAIN}`);
  t.notMatch(text, /OUTPUT/, 'nothing in OUTPUT: pods reach VIPs through the node');
  t.match(text, /\*filter\n:MTLAB-FORWARD - \[0:0\]\n-A MTLAB-FORWARD -o mtlab0 .*-j ACCEPT\n-A MTLAB-FORWARD .*-j REJECT --reject-with icmp-net-unreachable\n-I FORWARD 1 -i mtlab0 .*-j MTLAB-FORWARD\nCOMMIT\n$/, 'the node forwards pods\' packets only back to the bridge');
  const web = scenario.services.find((s) => s.name === 'web')!;
  t.match(text, `-d ${web.clusterIP}/32 -p tcp -m tcp --dport 80`);
  t.match(text, `-j DNAT --to-destination ${scenario.pods[0].ip}:8080`);
  t.match(text, `-j DNAT --to-destination ${scenario.pods[0].ip}:9000`, 'a numeric target port needs no declared container port');
  t.notMatch(text, /--dport 81 /, 'a port without endpoints has no DNAT');
  for (const proto of ['udp', 'tcp']) t.match(text, `-d 10.96.0.10/32 -p ${proto} -m ${proto} --dport 53 -m comment --comment "kube-system/kube-dns:dns-${proto} cluster IP" -j DNAT --to-destination 10.244.0.254:53`);
  for (const ip of podIps) t.match(text, `-A ${POSTROUTING_CHAIN} -s ${ip}/32 -d ${ip}/32 -m comment --comment "hairpin: a pod calling its own service" -j SNAT --to-source 10.244.0.1`);
  t.match(buildRejectRestore(scenario.services) ?? '', /-d 10\.96\.0\.\d+\/32 -p tcp -m tcp --dport 81 .*-j REJECT/, 'a service without endpoints is refused in the pod');

  const two = structuredClone(web);
  two.ports = [{ ...web.ports[0], endpoints: [{ pod: 'a', ip: '10.244.0.2', port: 1 }, { pod: 'b', ip: '10.244.0.3', port: 1 }, { pod: 'c', ip: '10.244.0.4', port: 1 }] }];
  const three = buildNodeServiceRestore({ services: [two], podIps: [] });
  t.match(three, /--probability 0\.3333333333 -j DNAT --to-destination 10\.244\.0\.2:1/);
  t.match(three, /--probability 0\.5000000000 -j DNAT --to-destination 10\.244\.0\.3:1/);
  t.match(three, /"shop\/web:http -> c" -j DNAT --to-destination 10\.244\.0\.4:1/);
  t.notMatch(three, /--dport 53/, 'no DNS VIP unless asked');
});

void t.test('node rules cleanup: only the lab\'s jumps and chains, from iptables-save output', async (t) => {
  const saved = [
    '# Generated by iptables-save',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':DOCKER - [0:0]',
    `:${SERVICES_CHAIN} - [0:0]`,
    ':MTLAB-SVC-ABC - [0:0]',
    `-A PREROUTING -d 10.96.0.0/16 -i mtlab0 -m comment --comment "meshtap lab: service VIPs" -j ${SERVICES_CHAIN}`,
    '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
    `-A ${SERVICES_CHAIN} -d 10.96.0.11/32 -p tcp -j MTLAB-SVC-ABC`,
    'COMMIT',
    '*filter',
    ':FORWARD ACCEPT [0:0]',
    '-A FORWARD -j ACCEPT',
    'COMMIT',
    '',
  ].join('\n');
  t.equal(
    buildNodeCleanupRestore(saved),
    [
      '*nat',
      `-D PREROUTING -d 10.96.0.0/16 -i mtlab0 -m comment --comment "meshtap lab: service VIPs" -j ${SERVICES_CHAIN}`,
      `-F ${SERVICES_CHAIN}`,
      '-F MTLAB-SVC-ABC',
      `-X ${SERVICES_CHAIN}`,
      '-X MTLAB-SVC-ABC',
      'COMMIT',
      '',
    ].join('\n'),
  );
  t.equal(buildNodeCleanupRestore('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j DOCKER\nCOMMIT\n'), undefined, 'nothing of the lab: nothing to do');
});

void t.test('hosts and resolv.conf: the kubelet\'s, names come from the cluster DNS', async (t) => {
  t.equal(buildHostsFile({ name: 'p', namespace: 'shop', ip: '10.244.0.9' }), "# meshtap lab: this pod's /etc/hosts (services resolve through the cluster DNS)\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.244.0.9\tp\n");
  t.match(buildResolvConf('shop'), /\nsearch shop\.svc\.cluster\.local svc\.cluster\.local cluster\.local\nnameserver 10\.96\.0\.10\noptions ndots:5\n$/);
});

void t.test('admission review and patch application', async (t) => {
  const pod = scenario.pods[0].pod;
  const review = buildAdmissionReview('u9', pod) as { request: Record<string, unknown> };
  t.match(review, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u9', operation: 'CREATE', namespace: 'shop', name: 'web' } });
  t.same(applyAdmissionResponse('u9', pod, { response: { uid: 'u9', allowed: true } }).pod, pod, 'no patch: unchanged');
  t.throws(() => applyAdmissionResponse('u9', pod, { response: { uid: 'other', allowed: true } }), { code: 'LAB_ERR_ADMISSION' });
  const ops = [{ op: 'add', path: '/metadata/annotations/x', value: 'y' }];
  const res = applyAdmissionResponse('u9', pod, { response: { uid: 'u9', allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') } });
  t.equal(res.pod.metadata.annotations.x, 'y');
  t.equal(pod.metadata.annotations.x, undefined, 'the original is not modified');
  t.ok(fastJsonPatch.validate(ops as never) === undefined);
});

void t.test('lab exec finds pods by name, namespace/name or Deployment prefix', async (t) => {
  const pods = [
    { name: 'client', namespace: 'hello' },
    { name: 'greeter-abc-1', namespace: 'hello', workload: 'Deployment/greeter' },
    { name: 'greeter-abc-2', namespace: 'hello', workload: 'Deployment/greeter' },
    { name: 'visitor-xyz-1', namespace: 'outside', workload: 'Deployment/visitor' },
    { name: 'client', namespace: 'outside' },
  ] as PodState[];
  t.equal(findPod(pods, 'visitor').name, 'visitor-xyz-1');
  t.equal(findPod(pods, 'greeter-abc-2').name, 'greeter-abc-2');
  t.equal(findPod(pods, 'outside/client').namespace, 'outside');
  t.throws(() => findPod(pods, 'greeter'), { code: 'LAB_ERR_POD_NOT_FOUND', message: /matches several pods/ });
  t.throws(() => findPod(pods, 'client'), { code: 'LAB_ERR_POD_NOT_FOUND', message: /matches several pods/ });
  t.throws(() => findPod(pods, 'nobody'), { code: 'LAB_ERR_POD_NOT_FOUND', message: /no pod "nobody"/ });
  // A prefix of a Deployment's name, as the help says (`vis` for visitor); one shared by several pods says so.
  t.equal(findPod(pods, 'vis').name, 'visitor-xyz-1');
  t.equal(findPod(pods, 'outside/vis').name, 'visitor-xyz-1');
  t.throws(() => findPod(pods, 'gree'), { code: 'LAB_ERR_POD_NOT_FOUND', message: /"gree" matches several pods: hello\/greeter-abc-1, hello\/greeter-abc-2/ });
  t.throws(() => findPod(pods, 'hello/vis'), { code: 'LAB_ERR_POD_NOT_FOUND', message: /no pod "hello\/vis"/ });
});
