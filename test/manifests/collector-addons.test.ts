import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import t from 'tap';
import { MANIFESTS_ROOT, MODELS, ingressAllowed, kubectlAvailable, parseFile, render, yamlFiles } from './helpers.ts';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Service } from 'kubernetes-models/v1/Service';
import { resolveInjectorConfig } from '../../webhook/injector-config.ts';
import { parseControllerArgs, resolveCollectorCertTarget, type ControllerCliOptions } from '../../controller/cli.ts';
import { COLLECTOR_TLS_SECRET } from '../../controller/collector-cert-publisher.ts';
import { resolveCollectorConfig, type CollectorFlags } from '../../collector/config.ts';
import { INVENTORY_RESOURCES } from '../../lib/kube/inventory/inventory.ts';
import { resolveOtelConfig } from '../../collector/otel/config.ts';
import { resolveLokiConfig } from '../../collector/loki/config.ts';
import { buildLokiLine } from '../../collector/loki/line.ts';
import { buildLokiMetadata } from '../../collector/loki/entry.ts';
import type { CallRecord } from '../../record/record.ts';
import { paymentCallRecord } from '../proto/record-fixtures.ts';

const root = MANIFESTS_ROOT;
const repo = fileURLToPath(new URL('../../', import.meta.url));
/** The directories this file covers; ../base and ../examples have manifests.test.ts. */
const OWN_DIRS = ['collector', 'addons', 'overlays'];
const NAMESPACE = 'meshtap-system';





const id = (o: any) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata.name}`;
const ids = (objs: any[]) => objs.map(id).sort();

const files = OWN_DIRS.flatMap((d) => yamlFiles(join(root, d)));
const kustomizationDirs = files.filter((f) => f.endsWith('/kustomization.yaml')).map(dirname);
const rel = (p: string) => relative(root, p);

const collector = render(join(root, 'collector'));
const jaeger = render(join(root, 'addons/jaeger'));
const loki = render(join(root, 'addons/loki'));
const grafana = render(join(root, 'addons/grafana'));
const full = render(join(root, 'overlays/full'));
const pick = (objs: any[], kind: string, name: string) => {
  const found = objs.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name}`);
  return found;
};

interface Selector {
  matchLabels?: Record<string, string>;
}
const selects = (sel: Selector | Record<string, string>, labels: Record<string, string>) =>
  Object.entries((sel as Selector).matchLabels ?? sel).every(([k, v]) => labels[k] === v);

/** The container port a Service port lands on (targetPort by name or number). */
function targetContainerPort(svcPort: any, container: any): number | undefined {
  const target = svcPort.targetPort ?? svcPort.port;
  const port = container.ports.find((p: any) => p.name === target || p.containerPort === target);
  return port?.containerPort;
}

/** The one workload behind a Service: the Deployment whose pods its selector picks. */
function backend(objs: any[], svc: any): any {
  const matches = objs.filter((o) => o.kind === 'Deployment' && selects(svc.spec.selector, o.spec.template.metadata.labels));
  if (matches.length !== 1) throw new Error(`${svc.metadata.name}: ${matches.length} Deployments behind the Service`);
  return matches[0];
}

function servicePort(svc: any, port: number): any {
  const p = svc.spec.ports.find((x: any) => x.port === port);
  if (!p) throw new Error(`${svc.metadata.name} has no port ${port}`);
  return p;
}

/** The ConfigMap key a container sees at `path`, through a configMap volume mount. */
function mountedConfig(objs: any[], deploy: any, path: string): any {
  const pod = deploy.spec.template.spec;
  const mount = pod.containers[0].volumeMounts.find((m: any) => path.startsWith(`${m.mountPath}/`));
  if (!mount) throw new Error(`${deploy.metadata.name}: nothing mounted at ${path}`);
  const vol = pod.volumes.find((v: any) => v.name === mount.name);
  if (!vol.configMap) throw new Error(`${deploy.metadata.name}: ${path} is not from a ConfigMap`);
  const cm = pick(objs, 'ConfigMap', vol.configMap.name);
  const key = posix.relative(mount.mountPath, path);
  if (!(key in cm.data)) throw new Error(`${cm.metadata.name} has no key ${key}`);
  return parse(cm.data[key]);
}


void t.test('the collector, every addon and both overlays are here', async (t) => {
  t.same(
    kustomizationDirs.map(rel).sort(),
    ['addons/grafana', 'addons/jaeger', 'addons/loki', 'collector', 'overlays/default', 'overlays/full'],
  );
});

void t.test('every object validates against the Kubernetes OpenAPI schema', async (t) => {
  let objects = 0;
  for (const file of files) {
    for (const obj of parseFile(file)) {
      const where = `${rel(file)}: ${obj.kind}/${obj.metadata?.name ?? ''}`;
      if (obj.kind === 'Kustomization') {
        t.equal(obj.apiVersion, 'kustomize.config.k8s.io/v1beta1', where);
        continue;
      }
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      t.ok(Model, `${where}: a known kind`);
      if (!Model) continue;
      t.doesNotThrow(() => new Model(obj).validate(), where);
      objects++;
    }
  }
  t.equal(objects, 7 + 3 * 3 + 1, 'collector 7, three addons of 3, the full overlay 1');
});

void t.test('the schema check catches mistakes (so the test above can fail)', async (t) => {
  const cm = structuredClone(pick(loki, 'ConfigMap', 'loki-config'));
  cm.data.retention = 72;
  t.throws(() => new ConfigMap(cm).validate(), /must be string/);
  const svc = structuredClone(pick(collector, 'Service', 'meshtap-collector'));
  svc.spec.ports[0].port = '9400';
  t.throws(() => new Service(svc).validate(), /port must be integer/);
  const d = structuredClone(pick(grafana, 'Deployment', 'grafana'));
  d.spec.template.spec.containers[0].env[0].value = true;
  t.throws(() => new Deployment(d).validate(), /value must be string/);
});

void t.test('each kustomization lists every YAML file of its directory, and only existing paths', async (t) => {
  for (const dir of kustomizationDirs) {
    const k = parseFile(join(dir, 'kustomization.yaml'))[0];
    // Only what render() understands, so the fallback renders what kustomize would.
    t.same(Object.keys(k).filter((key) => !['apiVersion', 'kind', 'resources', 'labels'].includes(key)), [], `${rel(dir)}: only resources and labels`);
    for (const l of k.labels ?? []) {
      t.same(l, { pairs: { 'app.kubernetes.io/part-of': 'meshtap' }, includeSelectors: false }, `${rel(dir)}: labels`);
    }
    const resources = k.resources as string[];
    for (const r of resources) t.ok(existsSync(join(dir, r)), `${rel(dir)}: ${r} exists`);
    const listed = resources.filter((r) => existsSync(join(dir, r)) && !statSync(join(dir, r)).isDirectory()).sort();
    const present = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
    t.same(listed, present, `${rel(dir)}: every file listed`);
    for (const r of resources.filter((x) => existsSync(join(dir, x)) && statSync(join(dir, x)).isDirectory())) {
      t.ok(existsSync(join(dir, r, 'kustomization.yaml')), `${rel(dir)}: ${r} is a kustomization`);
    }
  }
});

void t.test('the overlays render, with the objects expected', async (t) => {
  const base = render(join(root, 'base'));
  const expected = {
    'overlays/default': ids([...base, ...collector]),
    'overlays/full': ids([...base, ...collector, ...jaeger, ...loki, ...grafana, pick(full, 'ConfigMap', 'meshtap-collector-config')]),
  };
  t.equal(collector.length, 7);
  t.same([jaeger.length, loki.length, grafana.length], [3, 3, 3]);
  t.equal(expected['overlays/full'].length, expected['overlays/default'].length + 10);
  for (const [dir, want] of Object.entries(expected)) {
    const got = ids(render(join(root, dir)));
    t.same(got, want, `${dir} from the resources lists`);
    t.equal(new Set(got).size, got.length, `${dir}: no object twice`);
  }
  if (!kubectlAvailable()) {
    t.comment('kubectl not installed: rendered from the resources lists only');
    return;
  }
  for (const dir of kustomizationDirs) {
    const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 });
    const rendered = parseAllDocuments(out).map((d) => d.toJS());
    t.same(ids(rendered), ids(render(dir)), `kubectl kustomize ${rel(dir)}`);
    const want = expected[rel(dir) as keyof typeof expected];
    if (want) t.equal(rendered.length, want.length, `${rel(dir)}: ${want.length} objects`);
    for (const o of rendered) t.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'meshtap', `${rel(dir)}: ${id(o)} part-of`);
  }
});

void t.test('every pod is locked down and fits the restricted Pod Security level of meshtap-system', async (t) => {
  const ns = pick(render(join(root, 'base')), 'Namespace', NAMESPACE);
  t.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  for (const o of [...collector, ...jaeger, ...loki, ...grafana, pick(full, 'ConfigMap', 'meshtap-collector-config')]) {
    if (!['ClusterRole', 'ClusterRoleBinding'].includes(o.kind)) t.equal(o.metadata.namespace, NAMESPACE, `${id(o)}: namespace`);
  }
  for (const d of [...collector, ...jaeger, ...loki, ...grafana].filter((o) => o.kind === 'Deployment')) {
    const name = d.metadata.name;
    const pod = d.spec.template;
    t.ok(selects(d.spec.selector, pod.metadata.labels), `${name}: selector matches its pods`);
    t.equal(pod.metadata.labels['meshtap.io/inject'], 'false', `${name}: never injected`);
    t.match(pod.spec.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }, `${name}: pod securityContext`);
    t.ok(pod.spec.securityContext.runAsUser > 0, `${name}: a numeric non-root user`);
    for (const c of pod.spec.containers) {
      t.match(
        c.securityContext,
        { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
        `${name}/${c.name}: container securityContext`,
      );
      t.notOk(c.securityContext.capabilities.add, `${name}/${c.name}: no added capabilities`);
      t.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory && c.resources.limits.cpu, `${name}/${c.name}: resources`);
      t.match(c.image, /^[\w./-]+:\d+\.\d+\.\d+$/, `${name}/${c.name}: a pinned release tag`);
      t.ok(c.readinessProbe && c.livenessProbe, `${name}/${c.name}: probes`);
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        const port = probe.httpGet.port;
        t.ok(c.ports.some((p: any) => p.name === port || p.containerPort === port), `${name}/${c.name}: probe port ${port} is a container port`);
      }
      for (const m of c.volumeMounts) t.ok(pod.spec.volumes.some((v: any) => v.name === m.name), `${name}: volume ${m.name} exists`);
    }
    for (const v of pod.spec.volumes) {
      const type = Object.keys(v).find((k) => k !== 'name');
      t.ok(['configMap', 'emptyDir', 'secret', 'projected', 'persistentVolumeClaim'].includes(type!), `${name}: volume ${v.name} is a restricted-level type`);
      if (v.emptyDir) t.ok(v.emptyDir.sizeLimit, `${name}: emptyDir ${v.name} has a sizeLimit`);
    }
    if (name !== 'meshtap-collector') t.equal(pod.spec.automountServiceAccountToken, false, `${name}: no API token`);
  }
});

void t.test('the collector Service is where the injector sends sidecars', async (t) => {
  const svc = pick(collector, 'Service', 'meshtap-collector');
  t.same(
    svc.spec.ports.map((p: any) => [p.name, p.port, p.appProtocol]),
    [['grpc-ingest', 9400, 'grpc'], ['http', 8080, 'http']],
  );
  const d = backend(collector, svc);
  t.equal(d.metadata.name, 'meshtap-collector');
  const c = d.spec.template.spec.containers[0];
  t.equal(targetContainerPort(servicePort(svc, 9400), c), 9400);
  t.equal(targetContainerPort(servicePort(svc, 8080), c), 8080);

  const grpc = svc.spec.ports.find((p: any) => p.name === 'grpc-ingest');
  const serviceAddr = `${svc.metadata.name}.${svc.metadata.namespace}.svc:${grpc.port}`;
  t.equal(serviceAddr, 'meshtap-collector.meshtap-system.svc:9400');
  t.equal(resolveInjectorConfig().collectorAddr, serviceAddr, "the injector's default MESHTAP_COLLECTOR_ADDR");
});

void t.test('the collector Deployment runs the collector the way its flags mean', async (t) => {
  const d = pick(collector, 'Deployment', 'meshtap-collector');
  t.equal(d.spec.replicas, 1, 'one replica: the embedded store is per replica');
  const pod = d.spec.template.spec;
  t.equal(pod.serviceAccountName, 'meshtap-collector');
  const c = pod.containers[0];
  t.equal(c.image, 'ghcr.io/meshtap/meshtap:0.1.0');
  t.equal(c.args[0], 'collector');

  // The real command line parser accepts every flag (an unknown one exits 2 before --help).
  const cli = spawnSync(process.execPath, [join(repo, 'bin/meshtap.ts'), ...c.args, '--help'], { encoding: 'utf8', timeout: 30_000 });
  t.equal(cli.status, 0, `meshtap ${c.args.join(' ')}: ${cli.stderr.trim()}`);

  const flags: Record<string, string> = {};
  const rest = c.args.slice(1) as string[];
  for (let i = 0; i < rest.length; i += 2) {
    t.match(rest[i], /^--[a-z-]+$/, 'flags come as "--name value" pairs');
    flags[rest[i].slice(2)] = rest[i + 1];
  }
  // Only the flags matter: the pod's own MESHTAP_COLLECTOR_* variables cannot move the ports.
  const config = resolveCollectorConfig(flags as CollectorFlags, { MESHTAP_COLLECTOR_GRPC_PORT: '1', MESHTAP_COLLECTOR_HTTP_PORT: '2' });
  t.equal(config.grpcPort, 9400);
  t.equal(config.httpPort, 8080);
  t.equal(config.store, 'sqlite');
  const dataMount = c.volumeMounts.find((m: any) => config.dbPath.startsWith(`${m.mountPath}/`));
  t.ok(dataMount, `the database (${config.dbPath}) is on a mounted volume`);
  const dataVolume = pod.volumes.find((v: any) => v.name === dataMount?.name);
  t.ok(dataVolume?.emptyDir?.sizeLimit, 'an emptyDir with a sizeLimit by default');
  t.ok(config.retentionMaxMb * 2 ** 20 < parseQuantity(dataVolume.emptyDir.sizeLimit), 'retention keeps the database well inside the volume');
  t.notOk(c.volumeMounts.find((m: any) => m.name === dataMount?.name).readOnly);

  // Ingest over mTLS by default, with the certificate the controller keeps; sidecars match.
  t.ok(config.tlsCertDir, '--tls-cert-dir is given');
  const tlsMount = c.volumeMounts.find((m: any) => m.mountPath === config.tlsCertDir);
  t.ok(tlsMount?.readOnly, 'the TLS directory is a read-only mount');
  const tlsVolume = pod.volumes.find((v: any) => v.name === tlsMount?.name);
  t.equal(tlsVolume?.secret?.secretName, COLLECTOR_TLS_SECRET, "the Secret the controller issues from the CA");
  t.notOk(tlsVolume?.secret?.optional, 'not optional: the collector never falls back to plaintext');
  t.equal(tlsVolume?.secret?.defaultMode, 0o440);
  const svc = pick(collector, 'Service', 'meshtap-collector');
  t.same(resolveCollectorCertTarget(parseControllerArgs(['--webhook-cert-dir', 'w', '--ca-dir', 'c']) as ControllerCliOptions, {}), { secretName: COLLECTOR_TLS_SECRET, namespace: svc.metadata.namespace, service: svc.metadata.name }, 'the certificate names this Service');
  t.equal(resolveInjectorConfig({}).collectorTls, 'on', 'injected sidecars ship over mTLS by default');

  t.same(c.envFrom, [{ configMapRef: { name: 'meshtap-collector-config', optional: true } }], 'OTel and Loki settings from an optional ConfigMap');
  for (const probe of [c.readinessProbe, c.livenessProbe]) {
    t.equal(probe.httpGet.path, '/healthz');
    t.ok(probe.httpGet.port === 'http' || probe.httpGet.port === 8080);
    t.equal(c.ports.find((p: any) => p.name === probe.httpGet.port || p.containerPort === probe.httpGet.port).containerPort, 8080);
  }
});

function parseQuantity(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) throw new Error(`not a binary quantity: ${q}`);
  return Number(m[1]) * 1024 ** ['', 'Ki', 'Mi', 'Gi', 'Ti'].indexOf(m[2] ?? '');
}

void t.test('the collector RBAC is read-only and covers what the inventory watches', async (t) => {
  const role = pick(collector, 'ClusterRole', 'meshtap-collector');
  const granted = new Map<string, Set<string>>();
  // The API's authentication (--auth kubernetes) asks who a token is and what it may see: it
  // creates reviews, which change nothing and read nothing stored.
  const reviews = role.rules.filter((r: any) => ['authentication.k8s.io', 'authorization.k8s.io'].includes(r.apiGroups[0]));
  t.same(
    reviews.map((r: any) => ({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs })),
    [
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ],
  );
  for (const rule of role.rules.filter((r: any) => !reviews.includes(r))) {
    t.same(rule.verbs.filter((v: string) => !['get', 'list', 'watch'].includes(v)), [], `no verbs beyond get/list/watch: ${rule.verbs}`);
    t.notOk(rule.resourceNames, 'no resourceNames (informers list everything)');
    t.notOk(rule.nonResourceURLs);
    for (const group of rule.apiGroups) {
      t.not(group, '*', 'no wildcard groups');
      for (const resource of rule.resources) {
        t.not(resource, '*', 'no wildcard resources');
        t.notOk(resource.includes('/'), 'no subresources');
        const key = `${group}/${resource}`;
        granted.set(key, new Set([...(granted.get(key) ?? []), ...rule.verbs]));
      }
    }
  }
  // Which API group each inventory resource lives in; a resource added to the inventory fails here first.
  const GROUPS: Record<string, string> = {
    pods: '',
    services: '',
    nodes: '',
    namespaces: '',
    endpointslices: 'discovery.k8s.io',
    replicasets: 'apps',
    jobs: 'batch',
  };
  t.same(Object.keys(GROUPS).sort(), [...INVENTORY_RESOURCES].sort(), 'every inventory resource has a group here');
  for (const resource of INVENTORY_RESOURCES) {
    const verbs = granted.get(`${GROUPS[resource]}/${resource}`);
    t.ok(verbs?.has('list') && verbs.has('watch'), `list and watch ${resource}`);
  }
  t.same([...granted.keys()].sort(), INVENTORY_RESOURCES.map((r) => `${GROUPS[r]}/${r}`).sort(), 'nothing else');
  t.notOk(granted.has('/secrets') || granted.has('/configmaps'));

  const binding = pick(collector, 'ClusterRoleBinding', 'meshtap-collector');
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'meshtap-collector' });
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: 'meshtap-collector', namespace: NAMESPACE }]);
  pick(collector, 'ServiceAccount', 'meshtap-collector');
});

void t.test('Jaeger receives OTLP on 4317/4318, serves its UI on 16686, keeps a bounded number of traces', async (t) => {
  const svc = pick(jaeger, 'Service', 'jaeger');
  const d = backend(jaeger, svc);
  const c = d.spec.template.spec.containers[0];
  t.match(c.image, /^jaegertracing\/jaeger:2\.\d+\.\d+$/, 'Jaeger v2');
  for (const port of [4317, 4318, 16686]) t.equal(targetContainerPort(servicePort(svc, port), c), port, `Service ${port} → container ${port}`);
  t.equal(servicePort(svc, 4317).appProtocol, 'grpc');

  const configPath = c.args[c.args.indexOf('--config') + 1];
  const config = mountedConfig(jaeger, d, configPath);
  const endpointPort = (e: string) => Number(e.split(':').at(-1));
  t.equal(endpointPort(config.receivers.otlp.protocols.grpc.endpoint), 4317);
  t.equal(endpointPort(config.receivers.otlp.protocols.http.endpoint), 4318);
  t.equal(endpointPort(config.extensions.jaeger_query.http.endpoint), 16686);
  for (const e of [config.receivers.otlp.protocols.grpc.endpoint, config.receivers.otlp.protocols.http.endpoint, config.extensions.jaeger_query.http.endpoint]) {
    t.match(e, /^0\.0\.0\.0:/, `${e}: reachable from other pods`);
  }
  const service = config.service;
  t.same(service.pipelines.traces.receivers, ['otlp']);
  for (const ext of service.extensions) t.ok(ext in config.extensions, `extension ${ext} configured`);
  for (const name of service.pipelines.traces.processors) t.ok(name in config.processors);
  const storage = config.exporters.jaeger_storage_exporter.trace_storage;
  t.equal(config.extensions.jaeger_query.storage.traces, storage, 'the UI reads what the pipeline writes');
  const maxTraces = config.extensions.jaeger_storage.backends[storage].memory.max_traces;
  t.ok(Number.isInteger(maxTraces) && maxTraces > 0, `in-memory storage bounded at ${maxTraces} traces`);
  const health = endpointPort(config.extensions.healthcheckv2.http.endpoint);
  t.equal(c.ports.find((p: any) => p.name === c.readinessProbe.httpGet.port).containerPort, health, 'probes hit the health check');
});

void t.test('Loki keeps structured metadata (schema v13, TSDB) with retention', async (t) => {
  const svc = pick(loki, 'Service', 'loki');
  const d = backend(loki, svc);
  const c = d.spec.template.spec.containers[0];
  t.match(c.image, /^grafana\/loki:3\.\d+\.\d+$/, 'Loki 3');
  const configArg = c.args.find((a: string) => a.startsWith('-config.file='));
  const config = mountedConfig(loki, d, configArg.slice('-config.file='.length));
  t.equal(config.limits_config.allow_structured_metadata, true);
  t.equal(targetContainerPort(servicePort(svc, 3100), c), config.server.http_listen_port);
  t.equal(config.server.http_listen_port, 3100);
  const schemas = config.schema_config.configs;
  t.match(schemas.at(-1), { store: 'tsdb', schema: 'v13', object_store: 'filesystem' }, 'the current schema period');
  t.ok(config.common.storage.filesystem, 'filesystem storage');
  t.equal(config.compactor.retention_enabled, true);
  t.match(config.limits_config.retention_period, /^\d+[hd]$/);
  t.equal(config.compactor.delete_request_store, 'filesystem', 'retention needs a delete request store');

  // Everything Loki writes must be on the writable data volume (the root filesystem is read-only).
  const writable = c.volumeMounts.filter((m: any) => !m.readOnly).map((m: any) => m.mountPath);
  for (const p of [config.common.path_prefix, config.common.storage.filesystem.chunks_directory, config.common.storage.filesystem.rules_directory, config.compactor.working_directory, config.ingester.wal.dir]) {
    t.ok(writable.some((m: string) => p === m || p.startsWith(`${m}/`)), `${p} is writable`);
  }
});

void t.test('Grafana links traces and logs both ways on trace_id', async (t) => {
  const svc = pick(grafana, 'Service', 'grafana');
  const d = backend(grafana, svc);
  const c = d.spec.template.spec.containers[0];
  t.equal(targetContainerPort(servicePort(svc, 3000), c), 3000);
  const provisioning = mountedConfig(grafana, d, '/etc/grafana/provisioning/datasources/datasources.yaml');
  t.equal(provisioning.apiVersion, 1);
  const byType = (type: string) => {
    const found = provisioning.datasources.filter((ds: any) => ds.type === type);
    t.equal(found.length, 1, `one ${type} datasource`);
    return found[0];
  };
  const jaegerDs = byType('jaeger');
  const lokiDs = byType('loki');
  t.equal(jaegerDs.uid, 'jaeger');
  t.equal(lokiDs.uid, 'loki');
  t.equal(jaegerDs.url, 'http://jaeger.meshtap-system.svc:16686');
  t.equal(lokiDs.url, 'http://loki.meshtap-system.svc:3100');
  for (const [ds, svcObj, port] of [[jaegerDs, pick(jaeger, 'Service', 'jaeger'), 16686], [lokiDs, pick(loki, 'Service', 'loki'), 3100]] as const) {
    const url = new URL(ds.url);
    t.equal(url.hostname, `${svcObj.metadata.name}.${svcObj.metadata.namespace}.svc`, `${ds.name}: the addon's Service`);
    t.equal(Number(url.port), port);
    servicePort(svcObj, port);
  }

  // Grafana expands $VAR in provisioning files; "$$" leaves a literal "$" for its link variables.
  const unescape = (s: string) => s.replaceAll('$$', '$');
  const toLogs = jaegerDs.jsonData.tracesToLogsV2;
  t.equal(toLogs.datasourceUid, lokiDs.uid, 'span → Loki');
  t.equal(toLogs.customQuery, true);
  const query = unescape(toLogs.query);
  t.match(query, /\|\s*trace_id\s*=~?\s*"[^"]*\$\{__trace\.traceId\}"/, 'filters on the trace_id structured metadata');
  t.notOk(/[^$]\$\{__trace/.test(toLogs.query), 'the variable is escaped from env expansion');

  // The query's regex, as Loki would apply it to a trace id, matches what meshtap writes.
  const record = sampleRecord('00f067aa0ba902b70af4a4b1cf8e6a2c');
  const metadata = Object.fromEntries(buildLokiMetadata(record));
  t.equal(metadata.trace_id, record.trace_id, 'trace_id is structured metadata on the entry');
  const matcher = /trace_id\s*=~\s*"([^"]*)"/.exec(query)![1];
  const jaegerShown = record.trace_id!.replace(/^0+/, '');
  t.ok(new RegExp(`^(?:${matcher.replace('${__trace.traceId}', jaegerShown)})$`).test(metadata.trace_id), 'matches even when Jaeger trims leading zeros');
  t.ok(new RegExp(`^(?:${matcher.replace('${__trace.traceId}', record.trace_id!)})$`).test(metadata.trace_id), 'matches the full id');

  const fields = lokiDs.jsonData.derivedFields;
  const toTrace = fields.find((f: any) => f.datasourceUid === jaegerDs.uid);
  t.ok(toTrace, 'Loki → Jaeger');
  t.equal(toTrace.matcherRegex, '"trace_id":"(\\w+)"');
  t.not(toTrace.matcherType, 'label');
  t.equal(unescape(toTrace.url), '${__value.raw}');
  const line = buildLokiLine(record).line;
  t.equal(new RegExp(toTrace.matcherRegex).exec(line)?.[1], record.trace_id, 'the regex finds the trace id in a real Loki line');
});

function sampleRecord(traceId: string): CallRecord {
  return paymentCallRecord({ trace_id: traceId, span_id: '00f067aa0ba902b7' });
}

void t.test('the full overlay points the collector at its Jaeger and Loki', async (t) => {
  const cm = pick(full, 'ConfigMap', 'meshtap-collector-config');
  const d = pick(full, 'Deployment', 'meshtap-collector');
  t.ok(d.spec.template.spec.containers[0].envFrom.some((e: any) => e.configMapRef?.name === cm.metadata.name), 'the collector reads it');
  t.equal(cm.data.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger.meshtap-system.svc:4317');
  t.equal(cm.data.MESHTAP_LOKI_URL, 'http://loki.meshtap-system.svc:3100');

  // The collector's own resolvers accept the values and aim where the addons listen.
  const otel = resolveOtelConfig(cm.data);
  t.equal(otel.enabled, true);
  if (otel.enabled) {
    t.equal(otel.config.protocol, 'grpc');
    const url = new URL(otel.config.url);
    t.equal(url.protocol, 'http:', 'plaintext inside the cluster');
    const svc = pick(full, 'Service', url.hostname.split('.')[0]);
    t.equal(url.hostname, `${svc.metadata.name}.${svc.metadata.namespace}.svc`);
    t.equal(servicePort(svc, Number(url.port)).name, 'otlp-grpc');
  }
  const lokiConfig = resolveLokiConfig(cm.data);
  t.ok(lokiConfig);
  const url = new URL(lokiConfig!.pushUrl);
  t.equal(url.host, 'loki.meshtap-system.svc:3100');
  t.equal(url.pathname, '/loki/api/v1/push');
  const lokiSvc = pick(full, 'Service', 'loki');
  t.equal(targetContainerPort(servicePort(lokiSvc, Number(url.port)), backend(full, lokiSvc).spec.template.spec.containers[0]), 3100);

  const base = render(join(root, 'overlays/default'));
  t.notOk(base.some((o) => o.kind === 'ConfigMap' && o.metadata.name === cm.metadata.name), 'the default overlay has no outputs configured');
});

void t.test('the collector\'s call data is reachable only from meshtap-system and opted-in namespaces; ingest from all', async (t) => {
  const policy = pick(collector, 'NetworkPolicy', 'meshtap-collector');
  const d = pick(collector, 'Deployment', 'meshtap-collector');
  const podLabels = d.spec.template.metadata.labels;
  const ports: { name: string; containerPort: number }[] = d.spec.template.spec.containers[0].ports;
  const port = (name: string) => ports.find((p) => p.name === name)!.containerPort;
  const app = { 'kubernetes.io/metadata.name': 'shop', 'meshtap.io/inject': 'enabled' };
  const system = { 'kubernetes.io/metadata.name': NAMESPACE };
  const monitoring = { 'kubernetes.io/metadata.name': 'monitoring', 'meshtap.io/collector-api': 'allowed' };
  t.ok(ingressAllowed(policy, podLabels, app, 'grpc-ingest', port('grpc-ingest')), 'sidecars anywhere ship records');
  t.notOk(ingressAllowed(policy, podLabels, app, 'http', port('http')), 'an application namespace cannot read the API');
  t.ok(ingressAllowed(policy, podLabels, system, 'http', port('http')), 'meshtap-system reads the API');
  t.ok(ingressAllowed(policy, podLabels, monitoring, 'http', port('http')), 'a namespace labelled meshtap.io/collector-api=allowed reads the API');
  t.notOk(ingressAllowed(policy, podLabels, app, 'other', 9999), 'any other port is closed');
});

void t.test('meshtap-viewer: get calls.meshtap.io, aggregated into view; a namespaced example grant', async (t) => {
  const viewer = pick(collector, 'ClusterRole', 'meshtap-viewer');
  t.same(viewer.rules, [{ apiGroups: ['meshtap.io'], resources: ['calls'], verbs: ['get'] }]);
  t.equal(viewer.metadata.labels['rbac.authorization.k8s.io/aggregate-to-view'], 'true');
  const example = render(join(root, 'examples/viewer'));
  t.equal(example.length, 1);
  t.match(example[0], { kind: 'RoleBinding', metadata: { namespace: 'demo' }, roleRef: { kind: 'ClusterRole', name: 'meshtap-viewer' } });
  const d = pick(collector, 'Deployment', 'meshtap-collector');
  const args: string[] = d.spec.template.spec.containers[0].args;
  t.equal(args[args.indexOf('--auth') + 1], 'kubernetes', 'the collector checks Kubernetes tokens');
});

void t.test('Grafana needs a login and viewers cannot edit', async (t) => {
  const d = pick(grafana, 'Deployment', 'grafana');
  const env = Object.fromEntries(d.spec.template.spec.containers[0].env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
  t.equal(env.GF_AUTH_ANONYMOUS_ENABLED, 'false');
  t.equal(env.GF_USERS_VIEWERS_CAN_EDIT, 'false');
  t.equal(env.GF_USERS_ALLOW_SIGN_UP, 'false');
  t.notOk('GF_AUTH_ANONYMOUS_ORG_ROLE' in env, 'no anonymous role');
});
