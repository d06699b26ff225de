import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { assignAddresses, parseScenario, type ScenarioFile } from '../../lab/scenario.ts';

const demoApps = new Set(['hello-server', 'caller']);
const opts = { demoApps };

function files(...docs: Array<[string, string]>): ScenarioFile[] {
  return docs.map(([path, text]) => ({ path, text }));
}

const NS = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    meshtap.io/inject: enabled\n';
const DEPLOY = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
        - name: app
          image: meshtap/demo-hello-server:1.0
          ports: [{name: http, containerPort: 8080}]
`;
const SVC = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`;

void t.test('the built-in hello scenario parses', async (t) => {
  const dir = fileURLToPath(new URL('../../lab/scenarios/hello/', import.meta.url));
  const list = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => ({ path: `hello/${f}`, text: readFileSync(dir + f, 'utf8') }));
  const s = assignAddresses(parseScenario(list, opts));
  t.same(s.namespaces.map((n) => [n.name, n.labels['meshtap.io/inject'] ?? null]).sort(), [['default', null], ['hello', 'enabled'], ['outside', null]]);
  t.equal(s.pods.length, 5);
  t.same(s.services.map((svc) => svc.name), ['greeter', 'mirror']);
  t.equal(s.services[0].ports[0].endpoints.length, 2, 'both greeter replicas are endpoints');
  t.same(s.services[1].ports[0].endpoints.map((e) => e.pod), ['mirror-0'], 'the mirror Service selects the pod that calls it');
});

void t.test('Deployments become ReplicaSet-style pods', async (t) => {
  const s = parseScenario(files(['ns.yaml', NS], ['web.yaml', DEPLOY]), opts);
  t.equal(s.pods.length, 3);
  const names = s.pods.map((p) => p.pod.metadata.name);
  for (const n of names) t.match(n, /^web-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  t.equal(new Set(names).size, 3, 'distinct names');
  const hash = names[0].split('-')[1];
  t.ok(names.every((n) => n.split('-')[1] === hash), 'one ReplicaSet');
  const pod = s.pods[0].pod;
  t.same(pod.metadata.labels, { app: 'web', tier: 'front', 'pod-template-hash': hash });
  t.match(pod.metadata.ownerReferences, [{ kind: 'ReplicaSet', name: `web-${hash}`, controller: true }]);
  t.same(s.pods[0].owner, { kind: 'Deployment', name: 'web', replicaSet: `web-${hash}` });
  t.same(parseScenario(files(['ns.yaml', NS], ['web.yaml', DEPLOY]), opts).pods.map((p) => p.pod.metadata.name), names, 'names are stable across runs');
});

void t.test('addresses: pods from 10.244.0.2, VIPs from 10.96.0.11, named target ports resolved', async (t) => {
  const explicit = SVC.replace('name: web, namespace: shop}', 'name: api, namespace: shop}').replace('spec:\n', 'spec:\n  clusterIP: 10.96.0.11\n');
  const s = assignAddresses(parseScenario(files(['ns.yaml', NS], ['web.yaml', DEPLOY], ['svc.yaml', SVC], ['api.yaml', explicit]), opts));
  t.same(s.pods.map((p) => p.ip), ['10.244.0.2', '10.244.0.3', '10.244.0.4']);
  t.equal(s.services.find((x) => x.name === 'api')!.clusterIP, '10.96.0.11', 'a clusterIP in the YAML is kept');
  t.equal(s.services.find((x) => x.name === 'web')!.clusterIP, '10.96.0.12', 'the next free VIP is assigned');
  t.same(s.services[0].ports[0].endpoints.map((e) => `${e.ip}:${e.port}`), ['10.244.0.2:8080', '10.244.0.3:8080', '10.244.0.4:8080']);
});

void t.test('errors name the file and the object', async (t) => {
  const cases: Array<[string, ScenarioFile[], RegExp]> = [
    ['unknown kind', files(['x.yaml', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n']), /x\.yaml: ConfigMap "c"|x\.yaml: document 1: kind "ConfigMap" is not supported/],
    ['undeclared namespace', files(['p.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: nope}\nspec: {containers: [{name: a, command: [sleep, "1"]}]}\n']), /p\.yaml: Pod "nope\/p": namespace "nope" is not declared/],
    ['image without command', files(['p.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: nginx}]}\n']), /p\.yaml: Pod "default\/p" container "a": has no command, and image "nginx" is not a built-in demo app/],
    ['unknown demo app', files(['p.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: meshtap/demo-nothing}]}\n']), /demo app "nothing", which does not exist \(built-in: caller, hello-server\)/],
    ['secret env', files(['p.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, command: [x], env: [{name: K, valueFrom: {secretKeyRef: {name: s, key: k}}}]}]}\n']), /container "a": env\[0\] \(K\): valueFrom.secretKeyRef is not supported/],
    ['bad port', files(['s.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {selector: {a: b}, ports: [{port: 70000}]}\n']), /s\.yaml: Service "default\/s": spec.ports\[0\].port must be a port number 1-65535/],
    ['selector mismatch', files(['d.yaml', DEPLOY.replace('namespace: shop', 'namespace: default').replace('matchLabels: {app: web}', 'matchLabels: {app: other}')]), /d\.yaml: Deployment "default\/web": spec.selector.matchLabels does not match/],
    ['wrong apiVersion', files(['d.yaml', DEPLOY.replace('apps/v1', 'v1')]), /d\.yaml: Deployment "web": apiVersion must be "apps\/v1"/],
    ['NodePort', files(['s.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: NodePort, selector: {a: b}, ports: [{port: 80}]}\n']), /spec.type "NodePort" is not supported/],
    ['hostNetwork', files(['p.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {hostNetwork: true, containers: [{name: a, command: [x]}]}\n']), /hostNetwork pods are not supported/],
    ['duplicate pod', files(['p.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, command: [x]}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, command: [x]}]}\n']), /already exists/],
    ['bad YAML', files(['y.yaml', 'kind: [\n']), /y\.yaml: document 1 is not valid YAML/],
    ['no pods', files(['ns.yaml', NS]), /creates no pods/],
    ['clusterIP out of range', files(['s.yaml', 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {clusterIP: 10.0.0.1, selector: {a: b}, ports: [{port: 80}]}\n']), /clusterIP must be an address in 10.96.0.0\/16/],
  ];
  for (const [what, input, message] of cases) {
    t.throws(() => parseScenario(input, opts), { code: 'LAB_ERR_SCENARIO', message }, what);
  }
});

void t.test('a clusterIP used twice is refused', async (t) => {
  const a = 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: 10.96.0.20, selector: {x: z}, ports: [{port: 80}]}\n';
  const pod = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, command: [x]}]}\n';
  const s = parseScenario(files(['a.yaml', a], ['b.yaml', a.replace('name: a', 'name: b')], ['p.yaml', pod]), opts);
  t.throws(() => assignAddresses(s), { code: 'LAB_ERR_SCENARIO', message: /10\.96\.0\.20 is also used by default\/a/ });
});
