/**
 * `run(argv, io)` in process: flags, exit codes and output. Where iptables is involved, PATH
 * points at a directory of stand-in scripts, so these tests need no namespace and touch nothing.
 */
import t from 'tap';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { CommandIO } from '../../../lib/cli.ts';
import { run } from '../../../sidecar/init/cli.ts';
import { parseBackend, runInit as runInitInProcess } from '../../../sidecar/init/apply.ts';
import { resolveInitConfig } from '../../../sidecar/init/options.ts';
import { appliedTable, planApply, planCleanup, planRules, renderRuleSpec } from '../../../sidecar/init/plan.ts';
import { appliedIpv6Table, planIpv6Apply, planIpv6Cleanup } from '../../../sidecar/init/plan-ipv6.ts';
import { appliedIpv6NatTable, planIpv6DnsApply } from '../../../sidecar/init/plan-ipv6-dns.ts';
import { appliedDnsWatchTable, planDnsWatchApply } from '../../../sidecar/init/plan-dns-watch.ts';

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function runInit(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Captured> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const io: CommandIO = { stdin: new PassThrough(), stdout, stderr, env };
  const code = await run(argv, io);
  return { code, stdout: out, stderr: err };
}

void t.test('help and usage errors', async (t) => {
  const help = await runInit(['--help']);
  t.equal(help.code, 0);
  for (const flag of ['--proxy-uid', '--proxy-gid', '--inbound-port', '--outbound-port', '--admin-port', '--exclude-inbound-ports', '--exclude-outbound-ports', '--exclude-outbound-cidrs', '--dns-port', '--no-dns-capture', '--backend', '--dry-run', '--cleanup']) {
    t.match(help.stdout, flag, `help lists ${flag}`);
  }
  t.match(help.stdout, '127.0.0.6', 'help states the inbound passthrough source');

  for (const argv of [['--nope'], ['extra'], ['--inbound-port'], ['--dry-run=yes'], ['--proxy-uid', 'x']]) {
    const res = await runInit(argv);
    t.equal(res.code, 2, `${argv.join(' ')}: exit 2`);
    t.match(res.stderr, /^meshtap init: (CLI_ERR_USAGE|SC_ERR_INIT_BAD_OPTION): /, `${argv.join(' ')}: coded message`);
    t.match(res.stderr, 'meshtap init --help');
    t.equal(res.stdout, '', 'nothing on stdout');
  }
});

void t.test('a flag given empty: "needs a value", except a list, where it means none', async (t) => {
  const hint = 'Run "meshtap init --help" for its options.\n';
  for (const [flag, what] of [
    ['--proxy-uid', 'a numeric id 1-2147483647'],
    ['--proxy-gid', 'a numeric id 1-2147483647'],
    ['--inbound-port', 'a port number 1-65535'],
    ['--outbound-port', 'a port number 1-65535'],
    ['--admin-port', 'a port number 1-65535'],
    ['--dns-port', 'a port number 1-65535'],
    ['--backend', 'one of auto, nft, legacy'],
  ]) {
    for (const value of ['', ' ']) {
      const res = await runInit(['--dry-run', flag, value], { PATH: '/nonexistent' });
      t.equal(res.code, 2, `${flag} "${value}": exit 2`);
      t.equal(res.stderr, `meshtap init: CLI_ERR_USAGE: ${flag} needs a value (${what}), got "${value}"\n${hint}`);
      t.equal(res.stdout, '');
    }
  }
  const env = { PATH: '/nonexistent', MESHTAP_EXCLUDE_OUTBOUND_CIDRS: '10.0.0.0/8', MESHTAP_EXCLUDE_INBOUND_PORTS: '22', MESHTAP_EXCLUDE_OUTBOUND_PORTS: '5432' };
  const fromEnv = await runInit(['--dry-run'], env);
  t.match(fromEnv.stdout, /-A MESHTAP_OUTPUT -d 10\.0\.0\.0\/8 /, 'the variable lists a CIDR');
  const none = await runInit(['--dry-run', '--exclude-outbound-cidrs', '', '--exclude-inbound-ports', '', '--exclude-outbound-ports', ''], env);
  t.equal(none.code, 0, 'an empty list flag is accepted');
  t.equal(none.stderr, '');
  t.equal(none.stdout, (await runInit(['--dry-run'], { PATH: '/nonexistent' })).stdout, "it means none, over the variables' lists");
  const help = await runInit(['--help']);
  t.match(help.stdout, /--exclude-inbound-ports a,b .*'' for none/);
  t.match(help.stdout, /--exclude-outbound-ports a,b .*'' for none/);
  t.match(help.stdout, /--exclude-outbound-cidrs c,d [^\n]*\n\s+'' for none/);
  t.match(help.stdout, /A list flag given '' means none, overriding its variable; any other flag given '' is an error\./);
  const blank = await runInit(['--dry-run'], { PATH: '/nonexistent', MESHTAP_PROXY_UID: ' ', MESHTAP_IPTABLES_BACKEND: '' });
  t.equal(blank.code, 0, 'an empty or blank variable counts as unset');
});

void t.test('a bad value names the flag or the variable it came from, never the option key', async (t) => {
  const hint = 'Run "meshtap init --help" for its options.\n';
  const flag = await runInit(['--dry-run', '--proxy-uid', '0'], { PATH: '/nonexistent' });
  t.equal(flag.code, 2);
  t.equal(flag.stderr, `meshtap init: SC_ERR_INIT_BAD_OPTION: invalid init options: --proxy-uid must be a numeric id 1-2147483647 (0 would exempt every root process from capture), got "0"\n${hint}`);
  const variable = await runInit(['--dry-run'], { PATH: '/nonexistent', MESHTAP_INBOUND_PORT: '15001' });
  t.equal(variable.code, 2);
  t.equal(variable.stderr, `meshtap init: SC_ERR_INIT_BAD_OPTION: invalid init options: MESHTAP_INBOUND_PORT must differ from --outbound-port (its default) (both are 15001): each listener needs its own port\n${hint}`);
  const both = await runInit(['--dry-run', '--backend', 'iptables', '--exclude-outbound-cidrs', '10.0.0.0/33'], { PATH: '/nonexistent', MESHTAP_ADMIN_PORT: 'admin' });
  t.equal(
    both.stderr,
    'meshtap init: SC_ERR_INIT_BAD_OPTION: invalid init options: MESHTAP_ADMIN_PORT must be a port number 1-65535, got "admin"; ' +
      '--exclude-outbound-cidrs must list IPv4 or IPv6 CIDRs: "10.0.0.0/33" is not an IPv4 CIDR: the prefix length must be 0-32; ' +
      `--backend must be one of auto, nft, legacy, got "iptables"\n${hint}`,
  );
});

void t.test('dry run prints the restore text and needs nothing', async (t) => {
  const res = await runInit(
    ['--dry-run', '--proxy-uid=2000', '--exclude-inbound-ports', '22', '--exclude-inbound-ports', '8081,9000', '--exclude-outbound-cidrs=10.96.0.0/12'],
    { PATH: '/nonexistent', MESHTAP_OUTBOUND_PORT: '16001', MESHTAP_DNS_SERVERS: '10.96.0.10,fd00::10' },
  );
  t.equal(res.code, 0, 'exit 0 without iptables on PATH');
  const config = resolveInitConfig({ proxyUid: 2000, excludeInboundPorts: [22, 8081, 9000], excludeOutboundCidrs: ['10.96.0.0/12'], outboundPort: 16001, dnsServers: '10.96.0.10,fd00::10' });
  const [v4, v6] = res.stdout.split(/(?=^# meshtap init --dry-run: ip6tables)/m);
  const [header, ...rest] = v4.split('\n');
  t.match(header, /^# meshtap init --dry-run: iptables-restore/, 'a comment header, which iptables-restore ignores');
  t.equal(rest.join('\n'), planApply(config).text, 'then exactly the plan: repeated flags add up, env fills the rest');
  t.equal(v6.split('\n').slice(1).join('\n'), planIpv6Apply(config).text, 'then, after its own header, the IPv6 plan');

  const noDns = await runInit(['--dry-run', '--no-dns-capture', '--dns-port', '5353'], { PATH: '/nonexistent' });
  t.equal(noDns.code, 0);
  t.equal(
    noDns.stdout.split(/(?=^# meshtap init --dry-run: ip6tables)/m)[0].split('\n').slice(1).join('\n'),
    planApply(resolveInitConfig({ dnsCapture: false, dnsPort: 5353 })).text,
    '--no-dns-capture and --dns-port reach the plan',
  );
  t.notMatch(noDns.stdout, /udp|--dport 53 /, 'no DNS rule without DNS capture');
  const withDns = await runInit(['--dry-run', '--dns-port', '5353', '--dns-servers', '10.96.0.10', '--dns-servers', '169.254.20.10'], { PATH: '/nonexistent' });
  t.match(withDns.stdout, /-A MESHTAP_DNS -d 10\.96\.0\.10\/32 -p udp .* -j REDIRECT --to-ports 5353/, 'the DNS port reaches the redirect');
  t.match(withDns.stdout, /-A MESHTAP_DNS -d 169\.254\.20\.10\/32 -p tcp .* -j REDIRECT --to-ports 5353/, 'repeated --dns-servers add up');
  const noResolver = await runInit(['--dry-run', '--dns-servers', ''], { PATH: '/nonexistent' });
  t.equal(noResolver.code, 0);
  t.notMatch(noResolver.stdout, /-A MESHTAP_DNS6? .*-j REDIRECT/, 'no resolver: nothing is redirected');
  t.match(noResolver.stderr, /meshtap init: warning: no resolver to capture DNS for \(--dns-servers \/ MESHTAP_DNS_SERVERS, by default the nameservers of \/etc\/resolv\.conf, lists none\): the app's DNS is not captured/);

  const cleanup = await runInit(['--dry-run', '--cleanup'], { PATH: '/nonexistent' });
  t.equal(cleanup.code, 0);
  const [c4, c6] = cleanup.stdout.split(/(?=^# meshtap init --dry-run: ip6tables)/m);
  t.equal(c4.split('\n').slice(1).join('\n'), planCleanup(appliedTable(resolveInitConfig())).text, 'dry-run cleanup prints the cleanup plan');
  t.equal(c6.split('\n').slice(1).join('\n'), planIpv6Cleanup(appliedIpv6Table(resolveInitConfig())).text, 'and the IPv6 one');
});

void t.test('a MESHTAP_ variable init does not read is named on stderr, with the likely one', async (t) => {
  const res = await runInit(['--dry-run'], { PATH: '/nonexistent', MESHTAP_EXCLUDE_INBOUND_PORT: '8080', MESHTAP_BOGUS: '1', MESHTAP_OUTBOUND_PORT: '16001' });
  t.equal(res.code, 0, 'a warning, not a failure');
  t.match(res.stderr, 'meshtap init: warning: unknown variable MESHTAP_EXCLUDE_INBOUND_PORT is ignored (did you mean MESHTAP_EXCLUDE_INBOUND_PORTS?)');
  t.match(res.stderr, 'meshtap init: warning: unknown variable MESHTAP_BOGUS is ignored\n');
  t.notMatch(res.stderr, /MESHTAP_OUTBOUND_PORT/, 'the ones it reads are not named');
});

void t.test('excluding every outbound address of a family (a /0 CIDR) is a warning saying what that means', async (t) => {
  const v4 = await runInit(['--dry-run'], { PATH: '/nonexistent', MESHTAP_EXCLUDE_OUTBOUND_CIDRS: '10.0.0.0/8,0.0.0.0/0' });
  t.equal(v4.code, 0, 'a warning, not a failure');
  t.match(v4.stderr, 'meshtap init: warning: --exclude-outbound-cidrs / MESHTAP_EXCLUDE_OUTBOUND_CIDRS lists 0.0.0.0/0: no outbound IPv4 traffic of this pod is captured, only what comes in\n');
  const both = await runInit(['--dry-run', '--exclude-outbound-cidrs', '::/0,0.0.0.0/0'], { PATH: '/nonexistent' });
  t.match(both.stderr, /lists 0\.0\.0\.0\/0: no outbound IPv4 traffic/);
  t.match(both.stderr, /lists ::\/0: outbound IPv6 TCP, otherwise refused, leaves this pod past the sidecar, unseen and unencrypted \(in strict mTLS mode too\)\n/);
  const some = await runInit(['--dry-run', '--exclude-outbound-cidrs', '10.0.0.0/8'], { PATH: '/nonexistent' });
  t.notMatch(some.stderr, /warning/, 'a narrower exclusion says nothing');
});

void t.test('backend detection from the version line', async (t) => {
  t.equal(parseBackend('iptables v1.8.9 (nf_tables)\n'), 'nft');
  t.equal(parseBackend('iptables v1.8.7 (legacy)\n'), 'legacy');
  t.equal(parseBackend('iptables v1.6.1\n'), 'legacy', 'before 1.8 there was only legacy');
  t.equal(parseBackend('iptables v1.8.9\n'), undefined, 'a 1.8 without a backend is not guessed');
  t.equal(parseBackend(''), undefined);
});

void t.test('with stand-in iptables tools', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'init-fake-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fed = path.join(dir, 'restore-input');
  const fed6 = path.join(dir, 'restore6-input');
  const argsFile = path.join(dir, 'restore-args');
  const fed6nat = path.join(dir, 'restore6-nat-input');
  const fedMangle = path.join(dir, 'restore-mangle-input');
  const fed6mangle = path.join(dir, 'restore6-mangle-input');
  const emptyMangle = '*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n';
  const emptyFilter = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';
  const emptyNat6 = '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n';

  /** Shell builtins only: PATH holds nothing but these scripts. */
  async function tools(
    version: string,
    save: string,
    restore: { exit: number; stderr?: string } = { exit: 0 },
    names = ['iptables-save', 'iptables-restore'],
    saveStderr = '',
    save6: string | null = emptyFilter,
    save6nat: string = emptyNat6,
    saveMangle: string = emptyMangle,
  ) {
    const script = (body: string) => `#!/bin/sh\n${body}\n`;
    await writeFile(path.join(dir, 'iptables'), script(`echo '${version}'`));
    const warn = saveStderr ? `; echo '${saveStderr}' >&2` : '';
    await writeFile(
      path.join(dir, names[0]),
      script(`if [ "$2" = mangle ]; then printf '%s' '${saveMangle}'; exit 0; fi\nprintf '%s' '${save.replace(/'/g, "'\\''")}'${warn}${save.startsWith('FAIL') ? '; echo "read error" >&2; exit 1' : ''}`),
    );
    await writeFile(
      path.join(dir, names[1]),
      script(
        // The nat input goes to one file, the mangle input (the DNS watch) to another.
        `echo "$@" > '${argsFile}'\nIFS= read -r first\nout='${fed}'\n[ "$first" = '*mangle' ] && out='${fedMangle}'\n: > "$out"\nprintf '%s\\n' "$first" >> "$out"\n` +
          `while IFS= read -r line; do printf '%s\\n' "$line" >> "$out"; done\n` +
          (restore.stderr ? `echo '${restore.stderr}' >&2\n` : '') +
          `exit ${restore.exit}`,
      ),
    );
    const names6 = names.map((n) => n.replace('iptables', 'ip6tables'));
    await rm(path.join(dir, names6[0]), { force: true });
    await rm(path.join(dir, names6[1]), { force: true });
    await rm(fed6, { force: true });
    await rm(fed6nat, { force: true });
    await rm(fed6mangle, { force: true });
    await rm(fedMangle, { force: true });
    if (save6 !== null) {
      // The IPv6 side: the filter and nat tables as given, and a restore that only records its input, by table.
      await writeFile(
        path.join(dir, names6[0]),
        script(`if [ "$2" = nat ]; then printf '%s' '${save6nat}'; elif [ "$2" = mangle ]; then printf '%s' '${saveMangle}'; else printf '%s' '${save6}'; fi`),
      );
      await writeFile(
        path.join(dir, names6[1]),
        script(
          `IFS= read -r first\nout='${fed6}'\n[ "$first" = '*nat' ] && out='${fed6nat}'\n[ "$first" = '*mangle' ] && out='${fed6mangle}'\n: > "$out"\nprintf '%s\\n' "$first" >> "$out"\n` +
            `while IFS= read -r line; do printf '%s\\n' "$line" >> "$out"; done`,
        ),
      );
      for (const f of names6) await chmod(path.join(dir, f), 0o755);
    }
    await rm(fed, { force: true });
    for (const f of ['iptables', ...names]) await chmod(path.join(dir, f), 0o755);
  }
  // The resolvers given, not the test machine's resolv.conf.
  const env = { PATH: dir, MESHTAP_DNS_SERVERS: '10.96.0.10,fd00::10' };
  const userTable = '*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -d 10.99.0.0/16 -j RETURN\nCOMMIT\n';

  await t.test('apply feeds the plan to iptables-restore --noflush', async (t) => {
    await tools('iptables v1.8.9 (nf_tables)', userTable);
    const res = await runInit([], env);
    t.equal(res.code, 0, res.stderr);
    t.equal(await readFile(fed, 'utf8'), planApply(resolveInitConfig({}, env)).text, 'restore got the plan');
    t.equal((await readFile(argsFile, 'utf8')).trim(), '--noflush --wait', 'in no-flush mode, waiting for the lock');
    t.match(res.stdout, /applied 22 nat rules in chains MESHTAP_INBOUND, MESHTAP_IN_REDIRECT, MESHTAP_OUTPUT, MESHTAP_REDIRECT, MESHTAP_DNS .*\(nft backend, iptables-restore\)/);
    t.equal(await readFile(fed6, 'utf8'), planIpv6Apply(resolveInitConfig({}, env)).text, 'ip6tables-restore got the IPv6 plan');
    t.match(res.stdout, /applied 10 IPv6 filter rules in chains MESHTAP_INBOUND6, MESHTAP_OUTPUT6: new IPv6 TCP connections are refused \(nft backend, ip6tables-restore\)/);
    t.equal(await readFile(fed6nat, 'utf8'), planIpv6DnsApply(resolveInitConfig({}, env)).text, 'ip6tables-restore got the IPv6 DNS plan for the nat table');
    t.match(res.stdout, /applied 7 IPv6 nat rules in chain MESHTAP_DNS6: IPv6 DNS goes to the DNS listener \(nft backend, ip6tables-restore\)/);
    t.equal(await readFile(fedMangle, 'utf8'), planDnsWatchApply(resolveInitConfig({}, env), 4).text, 'iptables-restore got the DNS watch for the mangle table');
    t.equal(await readFile(fed6mangle, 'utf8'), planDnsWatchApply(resolveInitConfig({}, env), 6).text, 'and ip6tables-restore the IPv6 one');
    t.match(res.stdout, /applied 3 mangle rules in chain MESHTAP_DNS_WATCH: DNS bypasses a sidecar that is not listening \(nft backend, iptables-restore\)/);
  });

  await t.test('IPv6: a kernel without it is skipped with a warning, a missing ip6tables fails before anything changes', async (t) => {
    await tools('iptables v1.8.9 (nf_tables)', userTable, { exit: 0 }, undefined, '', null);
    // No ip6tables at all: without IPv6 in the kernel they are never needed.
    const noIpv6 = await runInitInProcess(resolveInitConfig({}, env), { env, ipv6ProcFile: path.join(dir, 'no-if_inet6') });
    t.equal(noIpv6.action, 'applied', 'the IPv4 rules are applied');
    t.equal(noIpv6.ipv6.action, 'no-ipv6', 'no IPv6 rules are needed: the ip6tables tools are not even looked for');
    t.match(noIpv6.warnings, [/the kernel has no IPv6 \(.*no-if_inet6 is missing\): no IPv6 traffic can bypass the sidecar/]);

    await tools('iptables v1.8.9 (nf_tables)', userTable, { exit: 0 }, undefined, '', null);
    await writeFile(path.join(dir, 'if_inet6'), '');
    await t.rejects(runInitInProcess(resolveInitConfig({}, env), { env, ipv6ProcFile: path.join(dir, 'if_inet6') }), { code: 'SC_ERR_INIT_IPTABLES_MISSING', message: /ip6tables-save not found on PATH/ });
    await t.rejects(readFile(fed, 'utf8'), { code: 'ENOENT' }, 'iptables-restore was not run: nothing changed');
    const res = await runInit([], env);
    t.equal(res.code, 1, 'through the command: exit 1 (this machine has IPv6)');
    t.match(res.stderr, /SC_ERR_INIT_IPTABLES_MISSING: ip6tables-save not found on PATH/);
  });

  await t.test('explicit backends use the suffixed tools', async (t) => {
    await tools('iptables v1.8.9 (nf_tables)', userTable, { exit: 0 }, ['iptables-legacy-save', 'iptables-legacy-restore']);
    const res = await runInit(['--backend=legacy'], env);
    t.equal(res.code, 0, res.stderr);
    t.match(res.stdout, '(legacy backend, iptables-legacy-restore)');
  });

  await t.test('an applied table is left alone', async (t) => {
    const config = resolveInitConfig({}, env);
    const applied = appliedTable(config);
    const save = ['*nat', ...applied.chains.map((c) => `:${c} ${c.startsWith('MESHTAP') ? '-' : 'ACCEPT'} [0:0]`), ...applied.rules.map((r) => `-A ${r.chain} ${r.spec}`), 'COMMIT', ''].join('\n');
    t.equal(applied.rules.length, planRules(config).length);
    t.ok(applied.rules.every((r, i) => r.spec === renderRuleSpec(planRules(config)[i])));
    const applied6 = appliedIpv6Table(config);
    const save6 = ['*filter', ...applied6.chains.map((c) => `:${c} ${c.startsWith('MESHTAP') ? '-' : 'ACCEPT'} [0:0]`), ...applied6.rules.map((r) => `-A ${r.chain} ${r.spec}`), 'COMMIT', ''].join('\n');
    const applied6nat = appliedIpv6NatTable(config);
    const save6nat = ['*nat', ...applied6nat.chains.map((c) => `:${c} ${c.startsWith('MESHTAP') ? '-' : 'ACCEPT'} [0:0]`), ...applied6nat.rules.map((r) => `-A ${r.chain} ${r.spec}`), 'COMMIT', ''].join('\n');
    const watch = appliedDnsWatchTable(config, 4);
    const saveMangle = ['*mangle', ...watch.chains.map((c) => `:${c} ${c.startsWith('MESHTAP') ? '-' : 'ACCEPT'} [0:0]`), ...watch.rules.map((r) => `-A ${r.chain} ${r.spec}`), 'COMMIT', ''].join('\n');
    await tools('iptables v1.8.9 (nf_tables)', save, { exit: 9 }, undefined, '', save6, save6nat, saveMangle);
    const res = await runInit([], env);
    t.equal(res.code, 0, 'restore is not even called (it would fail)');
    t.match(res.stdout, /the nat rules are already in place/);
    t.match(res.stdout, /the IPv6 filter rules are already in place/);
    t.match(res.stdout, /the IPv6 DNS rules are already in place/);
    await t.rejects(readFile(fed6, 'utf8'), { code: 'ENOENT' }, 'ip6tables-restore was not called either');
    await t.rejects(readFile(fed6nat, 'utf8'), { code: 'ENOENT' }, 'not for the nat table either');
  });

  await t.test('cleanup of a table without our rules runs nothing', async (t) => {
    await tools('iptables v1.8.9 (nf_tables)', userTable, { exit: 9 });
    const res = await runInit(['--cleanup'], env);
    t.equal(res.code, 0, res.stderr);
    t.match(res.stdout, /nothing to remove/);
  });

  await t.test('a warning when legacy tables hide next to nft', async (t) => {
    await tools('iptables v1.8.9 (nf_tables)', userTable, { exit: 0 }, undefined, '# Warning: iptables-legacy tables present, use iptables-legacy-save to see them');
    const res = await runInit([], env);
    t.equal(res.code, 0);
    t.match(res.stderr, /warning: legacy iptables tables also exist/);
  });

  await t.test('failures map to codes and exit 1', async (t) => {
    await tools('iptables v1.8.9 (something)', userTable);
    let res = await runInit([], env);
    t.equal(res.code, 1);
    t.match(res.stderr, /SC_ERR_INIT_BACKEND_UNKNOWN: cannot tell the iptables backend .*pass --backend nft or --backend legacy/);

    await tools('iptables v1.8.9 (nf_tables)', 'FAIL');
    res = await runInit([], env);
    t.equal(res.code, 1);
    t.match(res.stderr, /SC_ERR_INIT_READ_FAILED: iptables-save -t nat failed: read error/);

    await tools('iptables v1.8.9 (nf_tables)', userTable, { exit: 2, stderr: 'iptables-restore: line 7 failed' });
    res = await runInit([], env);
    t.equal(res.code, 1);
    t.match(res.stderr, /SC_ERR_INIT_APPLY_FAILED: iptables-restore --noflush --wait failed: iptables-restore: line 7 failed/);

    await tools('iptables v1.8.9 (nf_tables)', userTable, { exit: 4, stderr: 'iptables-restore v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)' });
    res = await runInit([], env);
    t.equal(res.code, 1);
    t.match(res.stderr, /SC_ERR_INIT_NOT_PERMITTED: .*run init as root or with CAP_NET_ADMIN/);

    await chmod(path.join(dir, 'iptables'), 0o644);
    res = await runInit([], env);
    t.equal(res.code, 1, 'a tool that cannot be executed');
    t.match(res.stderr, /SC_ERR_INIT_NOT_PERMITTED: iptables cannot be executed/);

    res = await runInit([], { PATH: path.join(dir, 'nothing-here') });
    t.equal(res.code, 1);
    t.match(res.stderr, /SC_ERR_INIT_IPTABLES_MISSING: iptables not found on PATH/);
  });
});
