/**
 * Optional pods: a pod whose command (or a program its `lab.meshtap.io/requires` annotation
 * names) is not on the node is left out of the lab with a note; its Service stays, with no
 * endpoints. `requiredPrograms` is pure; `LabStarter`'s constructor decides (nothing is created
 * before `claim()`).
 */
import { join } from 'node:path';
import t from 'tap';
import { REQUIRES_ANNOTATION, requiredPrograms } from '../../lab/pod-plan.ts';
import { REPO, resolveScenario } from '../../lab/paths.ts';
import { parseScenario, type ScenarioFile } from '../../lab/scenario.ts';
import { LabStarter } from '../../lab/up.ts';

const files = (missing: string): ScenarioFile[] => [
  {
    path: 'x/all.yaml',
    text: `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata:
      labels: {app: db}
      annotations: {${REQUIRES_ANNOTATION}: "sh, ${missing}"}
    spec:
      containers:
        - {name: db, command: [node, lab/apps/postgres.ts]}
---
apiVersion: v1
kind: Pod
metadata: {name: cache, namespace: shop, labels: {app: cache}}
spec:
  containers:
    - {name: cache, command: [no-such-server-${process.pid}, --port, "1"]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  initContainers:
    - {name: setup, command: [sh, -c, "true"]}
  containers:
    - {name: web, command: [meshtap, tap]}
    - {name: helper, command: [./bin/helper]}
    - {name: app, image: meshtap/demo-hello-server}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`,
  },
];

void t.test('requiredPrograms: commands other than node/meshtap, and the annotation', async (t) => {
  const scenario = parseScenario(files('/opt/db/bin/postgres'), { demoApps: new Set(['hello-server']) });
  const of = (name: string) => requiredPrograms(scenario.pods.find((p) => p.pod.metadata.name.startsWith(name))!.pod);
  t.same(of('db'), ['sh', '/opt/db/bin/postgres'], 'node is the lab\'s; the annotation lists the rest');
  t.same(of('cache'), [`no-such-server-${process.pid}`]);
  t.same(of('web'), ['sh'], 'init containers count; meshtap, relative paths and demo images do not');
});

void t.test('a pod whose program is missing is skipped; its service keeps no endpoints', async (t) => {
  const lines: string[] = [];
  const starter = new LabStarter({
    scenario: { name: 'x', dir: '/nonexistent/x', files: files('/nonexistent/bin/postgres') },
    stateDir: '/nonexistent/state',
    grpcPort: 1,
    httpPort: 2,
    env: {},
    progress: (l) => lines.push(l),
  });
  t.same(
    starter.state.pods.map((p) => p.name),
    ['web'],
    'only the pod whose programs exist',
  );
  t.same(
    starter.state.services.map((s) => s.name),
    ['db', 'web'],
    'every service is kept',
  );
  const skipped = (starter as unknown as { skipped: string[] }).skipped;
  t.match(skipped, [/^skipping pod shop\/db-\S+: command "\/nonexistent\/bin\/postgres" not found$/, new RegExp(`^skipping pod shop/cache: command "no-such-server-${process.pid}" not found on PATH$`)]);
  const addressed = (starter as unknown as { addressed: { services: Array<{ name: string; ports: Array<{ endpoints: unknown[] }> }> } }).addressed;
  t.same(addressed.services.find((s) => s.name === 'db')?.ports[0].endpoints, [], 'no endpoint for the skipped pod');
  t.equal(addressed.services.find((s) => s.name === 'web')?.ports[0].endpoints.length, 1);
});

void t.test('the shop here: postgres and redis run when their binaries are installed', async (t) => {
  const shop = resolveScenario('shop', REPO);
  const starter = new LabStarter({ scenario: shop, stateDir: join('/nonexistent', 'state'), grpcPort: 1, httpPort: 2, env: {}, progress: () => {} });
  const names = starter.state.pods.map((p) => p.name.replace(/-[a-z0-9]+-[a-z0-9]+$/, ''));
  for (const name of ['frontend', 'gateway', 'auth', 'catalog', 'payment', 'orders', 'inventory', 'loadgen', 'legacy-client']) t.ok(names.includes(name), `${name} runs`);
  const skipped = (starter as unknown as { skipped: string[] }).skipped;
  t.comment(skipped.length > 0 ? skipped.join('\n') : 'nothing skipped');
  t.equal(names.length + skipped.length, 11, 'every pod either runs or is skipped with a note');
});
