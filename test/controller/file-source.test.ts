import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createFileSource, parseInventoryFile } from '../../controller/membership/file-source.ts';

interface Line {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function capture(): { log: { info: (f: object, m: string) => void; warn: (f: object, m: string) => void; error: (f: object, m: string) => void }; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: object, msg: string) => lines.push({ level, fields: fields as Record<string, unknown>, msg });
  return { log: { info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshtap-inventory-file-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const doc = (pods: number) => ({
  pods: Array.from({ length: pods }, (_, i) => ({ name: `web-${i}`, namespace: 'shop', ip: `10.244.0.${10 + i}`, serviceAccount: 'web', meshed: true })),
  services: [{ name: 'web', namespace: 'shop', vip: '10.96.0.10', ports: [{ port: 80, targetPort: 8080 }], endpoints: [{ ip: '10.244.0.10', port: 8080 }] }],
});

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

void t.test('the documented format parses into the builder input', async (t) => {
  const input = parseInventoryFile(
    JSON.stringify({
      pods: [
        { name: 'a', namespace: 'n', ip: '10.0.0.1', serviceAccount: 'sa', meshed: true, note: 'ignored' },
        { name: 'b', namespace: 'n', ips: ['10.0.0.2', 'fd00::2'], meshed: false },
      ],
      services: [{ name: 's', namespace: 'n', vip: '10.96.0.1', ports: [80, { port: 443, targetPort: 8443, name: 'tls' }], endpoints: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2', port: 8443 }] }],
    }),
  );
  t.same(input.pods, [
    { name: 'a', namespace: 'n', ips: ['10.0.0.1'], serviceAccount: 'sa', injected: true },
    { name: 'b', namespace: 'n', ips: ['10.0.0.2', 'fd00::2'], serviceAccount: undefined, injected: false },
  ]);
  t.same(input.services[0].ports, [{ port: 80 }, { port: 443, targetPort: 8443, name: 'tls' }]);
  t.same(input.services[0].endpoints, [
    { ip: '10.0.0.1', port: 80, portName: '' },
    { ip: '10.0.0.1', port: 8443, portName: 'tls' },
    { ip: '10.0.0.2', port: 8443 },
  ], 'an endpoint without a port serves every port at its target');
  t.same(parseInventoryFile('{}'), { pods: [], services: [] });
  t.throws(() => parseInventoryFile('{"pods": ['), /not valid JSON/);
  t.throws(() => parseInventoryFile('{"pods": [{"name": "a", "namespace": "n", "meshed": true}]}'), /pods\.0.*"ip"/);
  t.throws(() => parseInventoryFile('{"pods": [{"name": "a", "namespace": "n", "ip": "1.2.3.4", "meshed": "yes"}]}'), /pods\.0\.meshed/);
  t.throws(() => parseInventoryFile('{"services": [{"name": "s", "namespace": "n", "ports": [70000]}]}'), /services\.0\.ports/);
});

void t.test('loads, follows changes (in place and by rename), keeps the last good state on a bad file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'inventory.json');
  writeFileSync(file, JSON.stringify(doc(1)));
  const { log, lines } = capture();
  const source = createFileSource({ file, pollMs: 100, settleMs: 20, log });
  let changes = 0;
  source.onChange(() => changes++);
  await source.start();
  t.teardown(() => source.stop());
  t.equal(source.read()?.pods.length, 1, 'read at start');
  t.equal(changes, 1);

  writeFileSync(file, JSON.stringify(doc(2)));
  await until(() => source.read()?.pods.length === 2, 'the in-place change');
  t.equal(changes, 2);

  writeFileSync(join(dir, 'next.tmp'), JSON.stringify(doc(3)));
  renameSync(join(dir, 'next.tmp'), file);
  await until(() => source.read()?.pods.length === 3, 'the replaced file');

  writeFileSync(file, '{"pods": [ {"name": ');
  await until(() => lines.some((l) => l.fields.event === 'inventory-file-rejected'), 'the rejection log');
  const rejected = lines.find((l) => l.fields.event === 'inventory-file-rejected')!;
  t.equal(rejected.level, 'warn');
  t.match(String(rejected.fields.error), /not valid JSON/);
  t.equal(rejected.fields.keepingLastGood, true);
  t.equal(source.read()?.pods.length, 3, 'last good state kept');

  writeFileSync(file, JSON.stringify({ pods: [{ name: 'x', namespace: 'n', meshed: true }] }));
  await until(() => lines.filter((l) => l.fields.event === 'inventory-file-rejected').length === 2, 'the schema rejection');
  t.equal(source.read()?.pods.length, 3, 'still the last good state');

  rmSync(file);
  await until(() => lines.some((l) => /does not exist/.test(String(l.fields.error))), 'the missing-file log');
  t.equal(source.read()?.pods.length, 3, 'a removed file keeps the state too');

  const changesBefore = changes;
  writeFileSync(file, JSON.stringify(doc(1)));
  await until(() => source.read()?.pods.length === 1, 'recovery');
  t.equal(changes, changesBefore + 1, 'one change signal for the good file');
});

void t.test('a file that appears after start is picked up', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'inventory.json');
  const source = createFileSource({ file, pollMs: 30, settleMs: 5 });
  await source.start();
  t.teardown(() => source.stop());
  t.equal(source.read(), undefined, 'no file yet: no state');
  writeFileSync(file, JSON.stringify(doc(2)));
  await until(() => source.read()?.pods.length === 2, 'the file to appear');
  t.pass('picked up');
});

void t.test('a path that is not a regular file is refused with a reason, not read without end', async (t) => {
  const { log, lines } = capture();
  const source = createFileSource({ file: '/dev/zero', pollMs: 30, settleMs: 5, log });
  await source.start();
  t.teardown(() => source.stop());
  await until(() => lines.some((l) => l.fields.event === 'inventory-file-rejected'), 'the rejection log');
  t.match(String(lines.find((l) => l.fields.event === 'inventory-file-rejected')!.fields.error), /not a regular file/);
  t.equal(source.read(), undefined, 'no state');
});
