import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import t from 'tap';
import { MANIFESTS_ROOT, MODELS, ingressAllowed, kubectlAvailable, parseFile, render, yamlFiles } from './helpers.ts';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { COLLECTOR_TLS_SECRET } from '../../controller/collector-cert-publisher.ts';

const root = MANIFESTS_ROOT;





const files = yamlFiles(root);
const kustomizationDirs = files.filter((f) => f.endsWith('/kustomization.yaml')).map(dirname);

void t.test('there is a base and a demo example', async (t) => {
  t.ok(kustomizationDirs.includes(join(root, 'base')));
  t.ok(kustomizationDirs.includes(join(root, 'examples/demo')));
});

void t.test('every object validates against the Kubernetes OpenAPI schema', async (t) => {
  for (const file of files) {
    for (const obj of parseFile(file)) {
      const where = `${relative(root, file)}: ${obj.kind}/${obj.metadata?.name ?? ''}`;
      if (obj.kind === 'Kustomization') {
        t.equal(obj.apiVersion, 'kustomize.config.k8s.io/v1beta1', where);
        continue;
      }
      const Model = MODELS[`${obj.apiVersion}/${obj.kind}`];
      t.ok(Model, `${where}: a known kind`);
      if (!Model) continue;
      t.doesNotThrow(() => new Model(obj).validate(), where);
    }
  }
});

void t.test('the schema check catches mistakes (so the test above can fail)', async (t) => {
  const deploy = render(join(root, 'base')).find((o) => o.kind === 'Deployment');
  const broken = structuredClone(deploy);
  broken.spec.template.spec.containers[0].ports[0].containerPort = '9443';
  t.throws(() => new Deployment(broken).validate(), /containerPort must be integer/);
  const mwc = structuredClone(render(join(root, 'base')).find((o) => o.kind === 'MutatingWebhookConfiguration'));
  mwc.webhooks[0].failurePolicy = 'Ignored';
  t.throws(() => new MutatingWebhookConfiguration(mwc).validate(), /failurePolicy/);
});

void t.test('each kustomization lists every YAML file of its directory, and only existing ones', async (t) => {
  for (const dir of kustomizationDirs) {
    const k = parseFile(join(dir, 'kustomization.yaml'))[0];
    const listed = (k.resources as string[]).filter((r) => !statSync(join(dir, r)).isDirectory()).sort();
    const present = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort();
    t.same(listed, present, relative(root, dir));
    for (const r of k.resources as string[]) t.ok(existsSync(join(dir, r)), `${relative(root, dir)}: ${r} exists`);
  }
});


void t.test('kustomize renders the same objects (checked with kubectl when installed)', async (t) => {
  const ids = (objs: any[]) => objs.map((o) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata.name}`).sort();
  const ours = ids(render(join(root, 'base')));
  t.equal(ours.length, 11);
  if (!kubectlAvailable()) {
    t.comment('kubectl not installed: rendered from the resources lists only');
    return;
  }
  for (const dir of kustomizationDirs) {
    const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 30_000 });
    const rendered = parseAllDocuments(out).map((d) => d.toJS());
    t.same(ids(rendered), ids(render(dir)), relative(root, dir));
    for (const o of rendered) t.equal(o.metadata.labels?.['app.kubernetes.io/part-of'] ?? 'meshtap', 'meshtap');
  }
});

const base = render(join(root, 'base'));
const find = (kind: string, name: string) => base.find((o) => o.kind === kind && o.metadata.name === name);

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** Kubernetes label-selector semantics, to check the webhooks select exactly the contract. */
function matches(sel: Selector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const v = labels[e.key];
    const ok =
      e.operator === 'In' ? has && e.values!.includes(v)
      : e.operator === 'NotIn' ? !has || !e.values!.includes(v)
      : e.operator === 'Exists' ? has
      : e.operator === 'DoesNotExist' ? !has
      : false;
    if (!ok) return false;
  }
  return true;
}

void t.test('the webhook configuration follows the contract', async (t) => {
  const mwc = find('MutatingWebhookConfiguration', 'meshtap');
  t.ok(mwc);
  t.equal(mwc.metadata.labels['meshtap.io/ca-bundle'], 'managed');
  t.equal(mwc.webhooks.length, 2);
  for (const w of mwc.webhooks) {
    t.equal(w.failurePolicy, 'Ignore', `${w.name}: failurePolicy`);
    t.equal(w.sideEffects, 'None');
    t.equal(w.timeoutSeconds, 5);
    t.equal(w.reinvocationPolicy, 'IfNeeded');
    t.same(w.admissionReviewVersions, ['v1']);
    t.same(w.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    t.match(w.clientConfig.service, { name: 'meshtap-controller', namespace: 'meshtap-system', path: '/mutate', port: 443 });
    t.notOk(w.clientConfig.caBundle, 'no caBundle in git: provisioned at start');
    t.notOk(w.clientConfig.url);
  }
  const [byNamespace, byPod] = mwc.webhooks;
  t.same(byNamespace.namespaceSelector.matchLabels, { 'meshtap.io/inject': 'enabled' });
  t.same(byNamespace.objectSelector, { matchExpressions: [{ key: 'meshtap.io/inject', operator: 'NotIn', values: ['false'] }] });
  t.ok(byPod.namespaceSelector.matchExpressions.some((e: any) => e.key === 'meshtap.io/inject' && e.operator === 'DoesNotExist'));
  t.same(byPod.objectSelector, { matchExpressions: [{ key: 'meshtap.io/inject', operator: 'In', values: ['true'] }] });

  const ns = (name: string, labels: Record<string, string> = {}) => ({ 'kubernetes.io/metadata.name': name, ...labels });
  const selected = (nsLabels: Record<string, string>, podLabels: Record<string, string>) =>
    mwc.webhooks.filter((w: any) => matches(w.namespaceSelector, nsLabels) && matches(w.objectSelector, podLabels)).map((w: any) => w.name);
  const enabled = { 'meshtap.io/inject': 'enabled' };
  t.same(selected(ns('shop', enabled), { app: 'web' }), ['namespace.inject.meshtap.io'], 'opted-in namespace');
  t.same(selected(ns('shop', enabled), { 'meshtap.io/inject': 'true' }), ['namespace.inject.meshtap.io'], 'never both');
  t.same(selected(ns('shop', enabled), { 'meshtap.io/inject': 'false' }), [], 'pod opt-out');
  t.same(selected(ns('shop'), { 'meshtap.io/inject': 'true' }), ['pod.inject.meshtap.io'], 'pod opt-in in an unlabelled namespace');
  t.same(selected(ns('shop'), { app: 'web' }), [], 'unlabelled namespace, unlabelled pod');
  t.same(selected(ns('shop', { 'meshtap.io/inject': 'disabled' }), { 'meshtap.io/inject': 'true' }), [], 'namespace explicitly not enabled');
  for (const system of ['kube-system', 'kube-public', 'kube-node-lease', 'meshtap-system']) {
    t.same(selected(ns(system, enabled), {}), [], `${system} even if labelled`);
    t.same(selected(ns(system), { 'meshtap.io/inject': 'true' }), [], `${system} even for an opted-in pod`);
  }
  const meshtapNs = find('Namespace', 'meshtap-system');
  t.same(selected({ ...meshtapNs.metadata.labels, 'kubernetes.io/metadata.name': 'meshtap-system' }, { 'meshtap.io/inject': 'true' }), [], 'meshtap-system as labelled');
});

void t.test('RBAC is least privilege', async (t) => {
  const role = find('ClusterRole', 'meshtap-controller');
  t.same(role.rules, [
    { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['pods', 'services'], verbs: ['list', 'watch'] },
    { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
    { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['meshtap-trust-bundle'], verbs: ['get', 'update'] },
    { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], resourceNames: ['meshtap'], verbs: ['get', 'patch'] },
    { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
  ]);
  for (const rule of role.rules) t.notOk(rule.verbs.includes('*') || rule.resources.includes('*'), 'no wildcards');
  // Reading or changing ConfigMaps is limited to the trust bundle (secrets are never granted).
  for (const rule of role.rules.filter((r: any) => r.resources.includes('configmaps') && !(r.verbs.length === 1 && r.verbs[0] === 'create'))) {
    t.same(rule.resourceNames, ['meshtap-trust-bundle'], 'configmap reads and updates only by name');
  }
  t.notOk(role.rules.some((r: any) => r.resources.includes('secrets')), 'no access to secrets');
  const binding = find('ClusterRoleBinding', 'meshtap-controller');
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'meshtap-controller' });
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: 'meshtap-controller', namespace: 'meshtap-system' }]);
  t.ok(find('ServiceAccount', 'meshtap-controller'));

  // Secrets: only the collector's ingest certificate, only in meshtap-system (a Role, not the ClusterRole).
  const secrets = find('Role', 'meshtap-controller');
  t.equal(secrets.metadata.namespace, 'meshtap-system');
  t.same(secrets.rules, [
    { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    { apiGroups: [''], resources: ['secrets'], resourceNames: [COLLECTOR_TLS_SECRET], verbs: ['get', 'update'] },
  ], 'create (which cannot be limited by name) and get/update of the one Secret the controller keeps');
  for (const rule of secrets.rules) t.notOk(rule.verbs.some((v: string) => ['list', 'watch', '*'].includes(v)), 'no listing: other Secrets stay unreadable');
  const secretsBinding = find('RoleBinding', 'meshtap-controller');
  t.equal(secretsBinding.metadata.namespace, 'meshtap-system');
  t.same(secretsBinding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'meshtap-controller' });
  t.same(secretsBinding.subjects, [{ kind: 'ServiceAccount', name: 'meshtap-controller', namespace: 'meshtap-system' }]);
  const args: string[] = find('Deployment', 'meshtap-controller').spec.template.spec.containers[0].args;
  t.notOk(args.includes('--no-collector-cert'), 'the controller keeps the collector certificate');
});

void t.test('the controller Deployment, Service and PDB fit together', async (t) => {
  const nsObj = find('Namespace', 'meshtap-system');
  t.equal(nsObj.metadata.labels['meshtap.io/inject'], 'disabled');
  const d = find('Deployment', 'meshtap-controller');
  t.equal(d.metadata.namespace, 'meshtap-system');
  t.equal(d.spec.replicas, 2);
  const pod = d.spec.template;
  t.ok(matches(d.spec.selector, pod.metadata.labels), 'selector matches the template');
  t.equal(pod.metadata.labels['meshtap.io/inject'], 'false', 'the controller is never injected');
  t.equal(pod.spec.serviceAccountName, 'meshtap-controller');
  t.ok(pod.spec.topologySpreadConstraints.length >= 1);
  for (const c of pod.spec.topologySpreadConstraints) t.ok(matches(c.labelSelector, pod.metadata.labels));
  t.equal(pod.spec.securityContext.runAsNonRoot, true);
  t.equal(pod.spec.containers.length, 1);
  const c = pod.spec.containers[0];
  t.equal(c.image, 'ghcr.io/meshtap/meshtap:0.1.0');
  t.equal(c.args[0], 'controller');
  const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1];
  t.equal(arg('--webhook-cert-dir'), '/etc/meshtap/webhook');
  t.equal(arg('--webhook-port'), '9443');
  t.equal(arg('--ca-dir'), '/etc/meshtap/ca');
  t.equal(arg('--grpc-port'), '15012');
  t.equal(arg('--patch-webhook-config'), 'meshtap');
  t.ok(c.args.includes('--publish-trust-bundle'));
  t.notOk(c.args.includes('--token-key') || c.args.includes('--inventory-file'), 'TokenReview and informers in a cluster');
  const { parseControllerArgs } = await import('../../controller/cli.ts');
  t.match(parseControllerArgs(c.args.slice(1)), { webhookPort: 9443, grpcPort: 15012, publishTrustBundle: true }, 'the args parse');
  t.match(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
  t.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory);
  const portNames = c.ports.map((p: any) => p.name);
  t.same(c.ports.map((p: any) => [p.name, p.containerPort]), [['https-webhook', 9443], ['grpc-ca', 15012]]);
  for (const probe of [c.readinessProbe, c.livenessProbe]) {
    t.match(probe.httpGet, { path: '/healthz', scheme: 'HTTPS' });
    t.ok(portNames.includes(probe.httpGet.port) || probe.httpGet.port === 9443);
  }
  const mount = c.volumeMounts.find((m: any) => m.mountPath === '/etc/meshtap/webhook');
  t.equal(mount.readOnly, true);
  const vol = pod.spec.volumes.find((v: any) => v.name === mount.name);
  t.equal(vol.secret.secretName, 'meshtap-webhook-certs');
  const caMount = c.volumeMounts.find((m: any) => m.mountPath === '/etc/meshtap/ca');
  t.equal(caMount?.readOnly, true, 'the CA is mounted read-only');
  const caVol = pod.spec.volumes.find((v: any) => v.name === caMount?.name);
  t.equal(caVol?.secret.secretName, 'meshtap-ca');
  t.equal(caVol?.secret.defaultMode, 0o440, 'not world-readable');

  const svc = find('Service', 'meshtap-controller');
  t.ok(matches({ matchLabels: svc.spec.selector }, pod.metadata.labels), 'service selects the controller pods');
  const https = svc.spec.ports.find((p: any) => p.port === 443);
  t.ok(https.targetPort === 9443 || c.ports.find((p: any) => p.name === https.targetPort)?.containerPort === 9443, '443 → 9443');
  const grpc = svc.spec.ports.find((p: any) => p.name === 'grpc-ca');
  t.equal(grpc.port, 15012);
  const mwc = find('MutatingWebhookConfiguration', 'meshtap');
  for (const w of mwc.webhooks) t.ok(svc.spec.ports.some((p: any) => p.port === w.clientConfig.service.port));

  const pdb = find('PodDisruptionBudget', 'meshtap-controller');
  t.equal(pdb.spec.minAvailable, 1);
  t.ok(matches(pdb.spec.selector, pod.metadata.labels));
});

void t.test('the demo example is an opted-in namespace with a small app', async (t) => {
  const demo = render(join(root, 'examples/demo'));
  const ns = demo.find((o) => o.kind === 'Namespace');
  t.equal(ns.metadata.name, 'demo');
  t.equal(ns.metadata.labels['meshtap.io/inject'], 'enabled');
  const d = demo.find((o) => o.kind === 'Deployment');
  t.equal(d.metadata.namespace, 'demo');
  const mwc = find('MutatingWebhookConfiguration', 'meshtap');
  const nsLabels = { 'kubernetes.io/metadata.name': 'demo', ...ns.metadata.labels };
  t.ok(
    mwc.webhooks.some((w: any) => matches(w.namespaceSelector, nsLabels) && matches(w.objectSelector, d.spec.template.metadata.labels)),
    'its pods are sent to the webhook',
  );
});

void t.test('a NetworkPolicy opens only the controller\'s serving ports', async (t) => {
  const policy = find('NetworkPolicy', 'meshtap-controller');
  t.ok(policy, 'the controller has a NetworkPolicy');
  const deploy = find('Deployment', 'meshtap-controller');
  const podLabels = deploy.spec.template.metadata.labels;
  const ports: { name: string; containerPort: number }[] = deploy.spec.template.spec.containers[0].ports;
  const anyNamespace = { 'kubernetes.io/metadata.name': 'shop' };
  for (const p of ports) t.ok(ingressAllowed(policy, podLabels, anyNamespace, p.name, p.containerPort), `${p.name} reachable from any namespace`);
  t.same(ports.map((p) => p.name).sort(), ['grpc-ca', 'https-webhook']);
  t.notOk(ingressAllowed(policy, podLabels, anyNamespace, 'debug', 9229), 'any other port is closed');
  t.notOk(ingressAllowed({ spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [] } }, podLabels, anyNamespace, 'grpc-ca', 15012), 'the evaluator can say no');
  for (const rule of policy.spec.ingress) {
    for (const p of rule.ports) t.ok(ports.some((c) => c.name === p.port), `policy port ${p.port} names a container port`);
  }
});
