/**
 * The IO shell of `meshtap init`: picks the iptables backend, reads the nat table (and the IPv6
 * filter table), and feeds the planners' texts to one `iptables-restore --noflush` (one
 * transaction: a half-applied capture never exists) and one `ip6tables-restore --noflush`.
 * Both tables are read before either is changed, so a missing tool changes nothing. Everything
 * it decides comes from `plan.ts` and `plan-ipv6.ts`.
 */
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import {
  SC_ERR_INIT_APPLY_FAILED,
  SC_ERR_INIT_BACKEND_UNKNOWN,
  SC_ERR_INIT_IPTABLES_MISSING,
  SC_ERR_INIT_NOT_PERMITTED,
  SC_ERR_INIT_READ_FAILED,
  initError,
  type InitErrorCode,
} from './errors.ts';
import type { InitConfig, IptablesBackendChoice } from './options.ts';
import { appliedTable, isApplied, parseNatTable, planApply, planCleanup, planRules, type NatTable, type RestorePlan } from './plan.ts';
import {
  IPV6_TABLE,
  MESHTAP_IPV6_CHAINS,
  appliedIpv6Table,
  parseIpv6Table,
  planIpv6Apply,
  planIpv6Cleanup,
  planIpv6Rules,
} from './plan-ipv6.ts';
import {
  MESHTAP_IPV6_NAT_CHAINS,
  appliedIpv6NatTable,
  parseIpv6NatTable,
  planIpv6DnsApply,
  planIpv6DnsCleanup,
  planIpv6DnsRules,
} from './plan-ipv6-dns.ts';
import { MESHTAP_DNS_WATCH_CHAINS, DNS_WATCH_TABLE, appliedDnsWatchTable, parseDnsWatchTable, planDnsWatchApply, planDnsWatchCleanup, planDnsWatchRules } from './plan-dns-watch.ts';
import type { IpFamily } from './dns-bypass.ts';

export type IptablesBackend = 'nft' | 'legacy';

export interface IptablesTools {
  readonly backend: IptablesBackend;
  readonly save: string;
  readonly restore: string;
  /** The same backend's IPv6 tools. */
  readonly save6: string;
  readonly restore6: string;
}

/** The tools for an explicit backend; `auto` uses the unsuffixed names, which follow `iptables`. */
export function toolsFor(backend: IptablesBackend, explicit: boolean): IptablesTools {
  if (!explicit) return { backend, save: 'iptables-save', restore: 'iptables-restore', save6: 'ip6tables-save', restore6: 'ip6tables-restore' };
  return {
    backend,
    save: `iptables-${backend}-save`,
    restore: `iptables-${backend}-restore`,
    save6: `ip6tables-${backend}-save`,
    restore6: `ip6tables-${backend}-restore`,
  };
}

/** Reads the backend from `iptables --version`: "iptables v1.8.9 (nf_tables)" or "(legacy)". */
export function parseBackend(versionOutput: string): IptablesBackend | undefined {
  if (/\(nf_tables\)/.test(versionOutput)) return 'nft';
  if (/\(legacy\)/.test(versionOutput)) return 'legacy';
  // Releases before 1.8 had no nft backend and do not say which one they are.
  const m = /iptables v(\d+)\.(\d+)/.exec(versionOutput);
  if (m && (Number(m[1]) < 1 || (Number(m[1]) === 1 && Number(m[2]) < 8))) return 'legacy';
  return undefined;
}

export interface ShellOptions {
  /** Environment of the iptables processes (PATH decides which binaries run). */
  readonly env?: NodeJS.ProcessEnv;
  /** The kernel's list of IPv6 addresses: absent when the kernel has no IPv6 at all. */
  readonly ipv6ProcFile?: string;
}

export const IPV6_PROC_FILE = '/proc/net/if_inet6';

interface ToolResult {
  readonly stdout: string;
  readonly stderr: string;
}

const NOT_PERMITTED = /permission denied|you must be root|operation not permitted|can't initialize iptables table/i;

/** Runs one iptables tool; failures become init errors that say what to do. */
function runTool(cmd: string, args: string[], options: ShellOptions, failureCode: InitErrorCode, input?: string): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined); // the tool may exit before reading; its exit status says why
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(
          initError(
            SC_ERR_INIT_IPTABLES_MISSING,
            `${cmd} not found on PATH: install iptables in the init container image (Debian: apt-get install iptables), or choose another --backend`,
            err,
          ),
        );
      } else if (err.code === 'EACCES' || err.code === 'EPERM') {
        reject(initError(SC_ERR_INIT_NOT_PERMITTED, `${cmd} cannot be executed: ${err.message}`, err));
      } else {
        reject(initError(failureCode, `${cmd} could not be started: ${err.message}`, err));
      }
    });
    child.on('close', (code, signal) => {
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const detail = stderr.trim() || stdout.trim() || (signal ? `killed by ${signal}` : `exit code ${code}`);
      if (NOT_PERMITTED.test(stderr)) {
        reject(
          initError(
            SC_ERR_INIT_NOT_PERMITTED,
            `${cmd} was not permitted to change the pod's network: run init as root or with CAP_NET_ADMIN (and CAP_NET_RAW) in the pod's network namespace (${detail})`,
          ),
        );
      } else {
        reject(initError(failureCode, `${cmd} ${args.join(' ')} failed: ${detail}`));
      }
    });
    child.stdin.end(input ?? '');
  });
}

export async function resolveTools(choice: IptablesBackendChoice, options: ShellOptions = {}): Promise<IptablesTools> {
  if (choice !== 'auto') return toolsFor(choice, true);
  const { stdout, stderr } = await runTool('iptables', ['--version'], options, SC_ERR_INIT_APPLY_FAILED);
  const backend = parseBackend(stdout || stderr);
  if (backend === undefined) {
    throw initError(
      SC_ERR_INIT_BACKEND_UNKNOWN,
      `cannot tell the iptables backend from "${(stdout || stderr).trim()}": pass --backend nft or --backend legacy`,
    );
  }
  return toolsFor(backend, false);
}

export async function readNatTable(tools: IptablesTools, options: ShellOptions = {}): Promise<{ text: string; stderr: string; table: NatTable }> {
  const { stdout, stderr } = await runTool(tools.save, ['-t', 'nat'], options, SC_ERR_INIT_READ_FAILED);
  return { text: stdout, stderr, table: parseNatTable(stdout) };
}

/**
 * The IPv6 filter table, or undefined when the kernel has no IPv6: then no IPv6 socket can
 * exist in the pod, nothing can bypass the sidecar over it, and there is nothing to program.
 * With IPv6 present, a missing or failing `ip6tables` is an error like its IPv4 twin.
 */
export async function readIpv6Table(tools: IptablesTools, options: ShellOptions = {}): Promise<NatTable | undefined> {
  const present = await access(options.ipv6ProcFile ?? IPV6_PROC_FILE).then(
    () => true,
    () => false,
  );
  if (!present) return undefined;
  const { stdout } = await runTool(tools.save6, ['-t', IPV6_TABLE], options, SC_ERR_INIT_READ_FAILED);
  return parseIpv6Table(stdout);
}

/** One family's mangle table, where the DNS fail-open watch lives (plan-dns-watch.ts). */
export async function readDnsWatchTable(tools: IptablesTools, family: IpFamily, options: ShellOptions = {}): Promise<NatTable> {
  const { stdout } = await runTool(family === 4 ? tools.save : tools.save6, ['-t', DNS_WATCH_TABLE], options, SC_ERR_INIT_READ_FAILED);
  return parseDnsWatchTable(stdout);
}

/** The IPv6 nat table, where the IPv6 DNS redirect lives; read only when the kernel has IPv6. */
export async function readIpv6NatTable(tools: IptablesTools, options: ShellOptions = {}): Promise<NatTable> {
  const { stdout } = await runTool(tools.save6, ['-t', 'nat'], options, SC_ERR_INIT_READ_FAILED);
  return parseIpv6NatTable(stdout);
}

async function restore(tool: string, text: string, options: ShellOptions): Promise<void> {
  // --wait: the legacy backend serialises writers with a lock; nft accepts and ignores it.
  await runTool(tool, ['--noflush', '--wait'], options, SC_ERR_INIT_APPLY_FAILED, text);
}

export type InitAction = 'applied' | 'unchanged' | 'removed' | 'nothing-to-remove' | 'dry-run';

export interface Ipv6Outcome {
  /** `no-ipv6`: the kernel has no IPv6, nothing to do (a warning says so). */
  readonly action: InitAction | 'no-ipv6';
  /** What was (or would be) fed to ip6tables-restore. */
  readonly plan: RestorePlan;
}

export interface InitResult {
  readonly action: InitAction;
  /** What was (or, for a dry run, would be) fed to iptables-restore. */
  readonly plan: RestorePlan;
  /** The IPv6 side: IPv6 TCP refused rather than captured (see plan-ipv6.ts). */
  readonly ipv6: Ipv6Outcome;
  /** The IPv6 DNS redirect in the IPv6 nat table (see plan-ipv6-dns.ts). */
  readonly ipv6Dns: Ipv6Outcome;
  /** DNS failing open: the watch on the DNS listener's refusals, per family (see plan-dns-watch.ts). */
  readonly dnsWatch: Ipv6Outcome;
  readonly dnsWatch6: Ipv6Outcome;
  /** Undefined for a dry run: it never looks at the machine. */
  readonly tools?: IptablesTools;
  readonly warnings: readonly string[];
}

const NO_PLAN: RestorePlan = Object.freeze({ text: '', removedJumps: [], removedChains: [], added: [] });

/**
 * Carries out `config`: apply (converging from whatever meshtap left before), cleanup, or a dry
 * run, which only renders the plan for a pod without meshtap rules and touches nothing, so it
 * needs neither iptables nor privileges.
 */
export async function runInit(config: InitConfig, options: ShellOptions = {}): Promise<InitResult> {
  if (config.dryRun) {
    const plan = config.cleanup ? planCleanup(appliedTable(config)) : planApply(config);
    const plan6 = config.cleanup ? planIpv6Cleanup(appliedIpv6Table(config)) : planIpv6Apply(config);
    const plan6dns = config.cleanup ? planIpv6DnsCleanup(appliedIpv6NatTable(config)) : planIpv6DnsApply(config);
    const watch = (family: IpFamily): Ipv6Outcome => ({
      action: 'dry-run',
      plan: config.cleanup ? planDnsWatchCleanup(appliedDnsWatchTable(config, family)) : planDnsWatchApply(config, family),
    });
    return {
      action: 'dry-run',
      plan,
      ipv6: { action: 'dry-run', plan: plan6 },
      ipv6Dns: { action: 'dry-run', plan: plan6dns },
      dnsWatch: watch(4),
      dnsWatch6: watch(6),
      warnings: [],
    };
  }
  const tools = await resolveTools(config.backend, options);
  const { stderr, table } = await readNatTable(tools, options);
  const table6 = await readIpv6Table(tools, options);
  const table6nat = table6 === undefined ? undefined : await readIpv6NatTable(tools, options);
  const watchTable = await readDnsWatchTable(tools, 4, options);
  const watchTable6 = table6 === undefined ? undefined : await readDnsWatchTable(tools, 6, options);
  const warnings: string[] = [];
  if (tools.backend === 'nft' && /iptables-legacy tables present/.test(stderr)) {
    warnings.push('legacy iptables tables also exist in this network namespace: if they hold nat rules, consider --backend legacy');
  }
  if (table6 === undefined) {
    warnings.push(`the kernel has no IPv6 (${options.ipv6ProcFile ?? IPV6_PROC_FILE} is missing): no IPv6 traffic can bypass the sidecar, so no IPv6 rules were installed`);
  }
  const v4 = await converge(config, table, {
    restore: tools.restore,
    cleanup: planCleanup,
    applied: (t) => isApplied(planRules(config), t),
    apply: (t) => planApply(config, t),
  }, options);
  const ipv6: Ipv6Outcome =
    table6 === undefined
      ? { action: 'no-ipv6', plan: NO_PLAN }
      : await converge(config, table6, {
          restore: tools.restore6,
          cleanup: planIpv6Cleanup,
          applied: (t) => isApplied(planIpv6Rules(config), t, MESHTAP_IPV6_CHAINS),
          apply: (t) => planIpv6Apply(config, t),
        }, options);
  const ipv6Dns: Ipv6Outcome =
    table6nat === undefined
      ? { action: 'no-ipv6', plan: NO_PLAN }
      : await converge(config, table6nat, {
          restore: tools.restore6,
          cleanup: planIpv6DnsCleanup,
          applied: (t) => isApplied(planIpv6DnsRules(config), t, MESHTAP_IPV6_NAT_CHAINS),
          apply: (t) => planIpv6DnsApply(config, t),
        }, options);
  const watchFamily = (family: IpFamily, restoreTool: string) => ({
    restore: restoreTool,
    cleanup: planDnsWatchCleanup,
    applied: (t: NatTable) => isApplied(planDnsWatchRules(config, family), t, MESHTAP_DNS_WATCH_CHAINS),
    apply: (t: NatTable) => planDnsWatchApply(config, family, t),
  });
  const dnsWatch: Ipv6Outcome = await converge(config, watchTable, watchFamily(4, tools.restore), options);
  const dnsWatch6: Ipv6Outcome =
    watchTable6 === undefined ? { action: 'no-ipv6', plan: NO_PLAN } : await converge(config, watchTable6, watchFamily(6, tools.restore6), options);
  return { ...v4, ipv6, ipv6Dns, dnsWatch, dnsWatch6, tools, warnings };
}

interface Family {
  readonly restore: string;
  cleanup(current: NatTable): RestorePlan;
  applied(current: NatTable): boolean;
  apply(current: NatTable): RestorePlan;
}

/** Apply (converging from whatever meshtap left before) or clean up one table. */
async function converge(config: InitConfig, current: NatTable, family: Family, options: ShellOptions): Promise<{ action: InitAction; plan: RestorePlan }> {
  if (config.cleanup) {
    const plan = family.cleanup(current);
    if (plan.text === '') return { action: 'nothing-to-remove', plan };
    await restore(family.restore, plan.text, options);
    return { action: 'removed', plan };
  }
  if (family.applied(current)) return { action: 'unchanged', plan: NO_PLAN };
  const plan = family.apply(current);
  await restore(family.restore, plan.text, options);
  return { action: 'applied', plan };
}
