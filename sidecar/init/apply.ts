/**
 * The IO shell of `meshtap init`: picks the iptables backend, reads the nat table, and feeds the
 * planner's text to one `iptables-restore --noflush` (one transaction: a half-applied capture
 * never exists). Everything it decides comes from `plan.ts`.
 */
import { spawn } from 'node:child_process';
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

export type IptablesBackend = 'nft' | 'legacy';

export interface IptablesTools {
  readonly backend: IptablesBackend;
  readonly save: string;
  readonly restore: string;
}

/** The tools for an explicit backend; `auto` uses the unsuffixed names, which follow `iptables`. */
export function toolsFor(backend: IptablesBackend, explicit: boolean): IptablesTools {
  if (!explicit) return { backend, save: 'iptables-save', restore: 'iptables-restore' };
  return { backend, save: `iptables-${backend}-save`, restore: `iptables-${backend}-restore` };
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
}

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

async function restore(tools: IptablesTools, text: string, options: ShellOptions): Promise<void> {
  // --wait: the legacy backend serialises writers with a lock; nft accepts and ignores it.
  await runTool(tools.restore, ['--noflush', '--wait'], options, SC_ERR_INIT_APPLY_FAILED, text);
}

export type InitAction = 'applied' | 'unchanged' | 'removed' | 'nothing-to-remove' | 'dry-run';

export interface InitResult {
  readonly action: InitAction;
  /** What was (or, for a dry run, would be) fed to iptables-restore. */
  readonly plan: RestorePlan;
  /** Undefined for a dry run: it never looks at the machine. */
  readonly tools?: IptablesTools;
  readonly warnings: readonly string[];
}

/**
 * Carries out `config`: apply (converging from whatever meshtap left before), cleanup, or a dry
 * run, which only renders the plan for a pod without meshtap rules and touches nothing, so it
 * needs neither iptables nor privileges.
 */
export async function runInit(config: InitConfig, options: ShellOptions = {}): Promise<InitResult> {
  if (config.dryRun) {
    const plan = config.cleanup ? planCleanup(appliedTable(config)) : planApply(config);
    return { action: 'dry-run', plan, warnings: [] };
  }
  const tools = await resolveTools(config.backend, options);
  const { stderr, table } = await readNatTable(tools, options);
  const warnings: string[] = [];
  if (tools.backend === 'nft' && /iptables-legacy tables present/.test(stderr)) {
    warnings.push('legacy iptables tables also exist in this network namespace: if they hold nat rules, consider --backend legacy');
  }
  if (config.cleanup) {
    const plan = planCleanup(table);
    if (plan.text === '') return { action: 'nothing-to-remove', plan, tools, warnings };
    await restore(tools, plan.text, options);
    return { action: 'removed', plan, tools, warnings };
  }
  if (isApplied(planRules(config), table)) {
    return { action: 'unchanged', plan: { text: '', removedJumps: [], removedChains: [], added: [] }, tools, warnings };
  }
  const plan = planApply(config, table);
  await restore(tools, plan.text, options);
  return { action: 'applied', plan, tools, warnings };
}
