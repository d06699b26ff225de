/**
 * The failures an init container meets, through the real command: iptables not installed,
 * not root, bad options. Each must exit non-zero with a code and a message that says what to do,
 * and leave the table as it was.
 */
import t from 'tap';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PodNetwork, listNetns, sh } from '../../../lab/netns.ts';
import { BIN, NODE, natState, runCommand, runInitIn } from './helpers/init-harness.ts';

async function which(cmd: string): Promise<string> {
  const { stdout } = await sh('sh', ['-c', `command -v ${cmd}`]);
  return stdout.trim();
}

void t.test('init fails clearly and changes nothing', async (t) => {
  const net = new PodNetwork();
  const dirs: string[] = [];
  t.teardown(async () => {
    await net.destroy();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  await net.create();
  const pod = await net.addPod('a');
  const ip = await which('ip');
  const pristine = await natState(pod.netns, 'nft');
  const pristineLegacy = await natState(pod.netns, 'legacy');

  /** init in the pod with PATH set to `dir` only: `ip` and Node are given by absolute path. */
  const initWithPath = (dir: string, args: string[]) =>
    runCommand(ip, ['netns', 'exec', pod.netns, NODE, BIN, 'init', ...args], { env: { PATH: dir } });

  await t.test('iptables is not installed', async (t) => {
    const empty = await mkdtemp(path.join(tmpdir(), 'init-path-'));
    dirs.push(empty);
    const backends = ['auto', 'nft', 'legacy'];
    const exits = await Promise.all(backends.map((backend) => initWithPath(empty, [`--backend=${backend}`])));
    backends.forEach((backend, i) => {
      const exit = exits[i];
      t.equal(exit.code, 1, `--backend ${backend}: exit code 1`);
      const tool = backend === 'auto' ? 'iptables' : `iptables-${backend}-save`;
      t.match(exit.stderr, `SC_ERR_INIT_IPTABLES_MISSING: ${tool} not found on PATH`, `--backend ${backend}: names the missing tool`);
      t.match(exit.stderr, /install iptables/, `--backend ${backend}: says what to do`);
    });
    const cleanup = await initWithPath(empty, ['--cleanup']);
    t.equal(cleanup.code, 1, 'cleanup fails the same way');
    t.match(cleanup.stderr, 'SC_ERR_INIT_IPTABLES_MISSING');
  });

  await t.test('iptables is there but iptables-restore is not', async (t) => {
    const partial = await mkdtemp(path.join(tmpdir(), 'init-path-'));
    dirs.push(partial);
    for (const tool of ['iptables', 'iptables-save', 'ip6tables-save', 'ip6tables-restore']) await symlink(await which(tool), path.join(partial, tool));
    const exit = await initWithPath(partial, []);
    t.equal(exit.code, 1, 'exit code 1');
    t.match(exit.stderr, 'SC_ERR_INIT_IPTABLES_MISSING: iptables-restore not found on PATH');
    t.equal(await natState(pod.netns, 'nft'), pristine, 'the table is unchanged');
  });

  await t.test('iptables is there but ip6tables is not, in a namespace with IPv6', async (t) => {
    const ipv4Only = await mkdtemp(path.join(tmpdir(), 'init-path-'));
    dirs.push(ipv4Only);
    for (const tool of ['iptables', 'iptables-save', 'iptables-restore']) await symlink(await which(tool), path.join(ipv4Only, tool));
    const exit = await initWithPath(ipv4Only, []);
    t.equal(exit.code, 1, 'exit code 1: IPv6 TCP would bypass the sidecar');
    t.match(exit.stderr, 'SC_ERR_INIT_IPTABLES_MISSING: ip6tables-save not found on PATH');
    t.equal(await natState(pod.netns, 'nft'), pristine, 'and the IPv4 table was not changed either: both are read first');
  });

  await t.test('not root', async (t) => {
    const runs = [['--backend=auto'], ['--backend=nft'], ['--backend=legacy'], ['--backend=auto', '--cleanup'], ['--backend=legacy', '--cleanup']];
    const exits = await Promise.all(runs.map((args) => runInitIn(pod.netns, args, { uid: 1000, gid: 1000 })));
    runs.forEach((args, i) => {
      const exit = exits[i];
      const what = args.join(' ');
      t.equal(exit.code, 1, `${what}: exit code 1`);
      t.match(exit.stderr, 'SC_ERR_INIT_NOT_PERMITTED', `${what}: NOT_PERMITTED`);
      t.match(exit.stderr, /run init as root or with CAP_NET_ADMIN/, `${what}: says what to do`);
      t.match(exit.stderr, /Permission denied/, `${what}: keeps the tool's own words`);
    });
    const dry = await runInitIn(pod.netns, ['--dry-run'], { uid: 1000, gid: 1000 });
    t.equal(dry.code, 0, 'a dry run needs no privileges');
    t.match(dry.stdout, /-j REDIRECT --to-ports 15001/);
  });

  await t.test('bad usage exits 2 before touching anything', async (t) => {
    // The in-process CLI tests cover every usage error; these prove the real command's exit codes.
    const cases: [string[], RegExp][] = [
      [['--bogus'], /Unknown option '--bogus'/],
      [['--inbound-port=http'], /--inbound-port must be a port number 1-65535, got "http"/],
      [['--inbound-port='], /--inbound-port needs a value \(a port number 1-65535\), got ""/],
      [['--exclude-outbound-cidrs=fd00::/129'], /not an IPv6 CIDR/],
      [['--admin-port=15001'], /--admin-port must differ from --outbound-port/],
    ];
    const exits = await Promise.all(cases.map(([args]) => runInitIn(pod.netns, args)));
    cases.forEach(([args, message], i) => {
      t.equal(exits[i].code, 2, `${args.join(' ')}: exit code 2`);
      t.match(exits[i].stderr, message, `${args.join(' ')}: explains`);
    });
    const help = await runInitIn(pod.netns, ['--help']);
    t.equal(help.code, 0, '--help exits 0');
    t.match(help.stdout, /usage: meshtap init/);
  });

  t.equal(await natState(pod.netns, 'nft'), pristine, 'nft table untouched by every failure');
  t.equal(await natState(pod.netns, 'legacy'), pristineLegacy, 'legacy table untouched by every failure');
  await net.destroy();
  t.same(await listNetns(net.prefix), [], 'namespace removed');
});
