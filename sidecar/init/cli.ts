/**
 * `meshtap init`: the init container's program. Exit codes: 0 done, 2 usage or bad option,
 * 1 failure (iptables missing, not permitted, rules rejected).
 */
import { readFileSync } from 'node:fs';
import { CLI_ERR_USAGE, flagValue, parseCommandArgs, reportFailure, type CommandIO } from '../../lib/cli.ts';
import { isMeshtapError } from '../../lib/errors.ts';
import { unknownVariableWarnings } from '../../lib/unknown-variables.ts';
import { runInit, type InitResult } from './apply.ts';
import { MESHTAP_IPV6_CHAINS } from './plan-ipv6.ts';
import { MESHTAP_IPV6_NAT_CHAINS } from './plan-ipv6-dns.ts';
import { MESHTAP_DNS_WATCH_CHAINS } from './plan-dns-watch.ts';
import { SC_ERR_INIT_BAD_OPTION } from './errors.ts';
import {
  BACKEND_TAKES,
  ID_TAKES,
  INIT_DEFAULTS,
  OPTION_NAMES,
  PORT_TAKES,
  initConfigWarnings,
  resolveInitConfig,
  type InitConfig,
  type InitOptions,
} from './options.ts';
import { INBOUND_PASSTHROUGH_SOURCE, MESHTAP_CHAINS, renderSavedRule } from './plan.ts';
import { RESOLV_CONF } from '../dns/resolv-conf-source.ts';

const FLAGS = {
  'proxy-uid': { type: 'string' },
  'proxy-gid': { type: 'string' },
  'inbound-port': { type: 'string' },
  'outbound-port': { type: 'string' },
  'admin-port': { type: 'string' },
  'exclude-inbound-ports': { type: 'string', multiple: true },
  'exclude-outbound-ports': { type: 'string', multiple: true },
  'exclude-outbound-cidrs': { type: 'string', multiple: true },
  'dns-port': { type: 'string' },
  'dns-servers': { type: 'string', multiple: true },
  'no-dns-capture': { type: 'boolean' },
  backend: { type: 'string' },
  'dry-run': { type: 'boolean' },
  cleanup: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usage(): string {
  const env = (key: keyof typeof OPTION_NAMES) => OPTION_NAMES[key].env;
  return `usage: meshtap init [options]

Installs the pod's traffic redirection in the nat table of the current network namespace:
inbound TCP to the inbound listener, outbound TCP to the outbound listener, except the
proxy's own traffic, localhost, the admin port and the exclusions below; the app's DNS to the
pod's resolvers (UDP and TCP port 53, any uid but the proxy's, IPv4 and IPv6) to the sidecar's
DNS port (DNS the app sends to another server goes there, as it would without meshtap). IPv6 TCP is not
captured: new IPv6 connections in either direction are refused (ip6tables filter table), with
the same exceptions; a kernel without IPv6 needs no IPv6 rules. Re-running converges to the
same rules; --cleanup removes them. Needs root (or CAP_NET_ADMIN) and a route in the
namespace. The inbound proxy must connect to its app from ${INBOUND_PASSTHROUGH_SOURCE}.

options (environment variable in brackets; flags win):
  --proxy-uid N                 uid of the proxy, never redirected (default ${INIT_DEFAULTS.proxyUid}) [${env('proxyUid')}]
  --proxy-gid N                 gid of the proxy, never redirected (default ${INIT_DEFAULTS.proxyGid}) [${env('proxyGid')}]
  --inbound-port PORT           inbound listener (default ${INIT_DEFAULTS.inboundPort}) [${env('inboundPort')}]
  --outbound-port PORT          outbound listener (default ${INIT_DEFAULTS.outboundPort}) [${env('outboundPort')}]
  --admin-port PORT             admin port, never captured (default ${INIT_DEFAULTS.adminPort}) [${env('adminPort')}]
  --exclude-inbound-ports a,b   inbound ports not captured; '' for none [${env('excludeInboundPorts')}]
  --exclude-outbound-ports a,b  destination ports not captured; '' for none [${env('excludeOutboundPorts')}]
  --exclude-outbound-cidrs c,d  destinations not captured (IPv4) or not refused (IPv6), e.g. 10.0.0.0/8,fd00::/8;
                                '' for none [${env('excludeOutboundCidrs')}]
  --dns-port PORT               the sidecar's DNS listener (default ${INIT_DEFAULTS.dnsPort}) [${env('dnsPort')}]
  --dns-servers a,b             the resolvers whose DNS is captured (default: the nameservers of
                                ${RESOLV_CONF}); '' for none [${env('dnsServers')}]
  --no-dns-capture              leave the app's DNS alone [${env('dnsCapture')}=false]
  --backend auto|nft|legacy     iptables backend (default auto: what "iptables --version" says) [${env('backend')}]
  --dry-run                     print the iptables-restore input for a fresh pod; change nothing
  --cleanup                     remove the jumps and chains init added (${[...MESHTAP_CHAINS, ...MESHTAP_IPV6_CHAINS, ...MESHTAP_IPV6_NAT_CHAINS, ...MESHTAP_DNS_WATCH_CHAINS].join(', ')})
  -h, --help                    show this help

A list flag given '' means none, overriding its variable; any other flag given '' is an error.
An empty variable counts as unset.
`;
}

/**
 * The options the flags give. A list flag given '' means none (flags win: it clears its
 * variable's list); any other flag given '' is a usage error, "needs a value" (lib/cli.ts's
 * rule for every command), never "not given".
 */
function toOptions(values: Record<string, string | boolean | string[] | undefined>): InitOptions {
  const list = (v: unknown) => (Array.isArray(v) ? v.join(',') : undefined);
  const str = (flag: string, what: string) => {
    const v = values[flag];
    return flagValue(`--${flag}`, typeof v === 'string' ? v : undefined, what);
  };
  return {
    proxyUid: str('proxy-uid', ID_TAKES),
    proxyGid: str('proxy-gid', ID_TAKES),
    inboundPort: str('inbound-port', PORT_TAKES),
    outboundPort: str('outbound-port', PORT_TAKES),
    adminPort: str('admin-port', PORT_TAKES),
    excludeInboundPorts: list(values['exclude-inbound-ports']),
    excludeOutboundPorts: list(values['exclude-outbound-ports']),
    excludeOutboundCidrs: list(values['exclude-outbound-cidrs']),
    dnsPort: str('dns-port', PORT_TAKES),
    dnsServers: list(values['dns-servers']),
    dnsCapture: values['no-dns-capture'] === true ? false : undefined,
    // Checked by resolveInitConfig, which names the flag when the value is not a backend.
    backend: str('backend', BACKEND_TAKES) as InitOptions['backend'],
    dryRun: values['dry-run'] === true ? true : undefined,
    cleanup: values.cleanup === true ? true : undefined,
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function reportIpv6(result: InitResult): string {
  const via = result.tools ? `${result.tools.backend} backend, ${result.tools.restore6}` : '';
  const { action, plan } = result.ipv6;
  const chains = MESHTAP_IPV6_CHAINS.join(', ');
  switch (action) {
    case 'dry-run':
    case 'no-ipv6':
      return '';
    case 'applied': {
      const replaced = plan.removedJumps.length > 0 ? `, replacing ${plural(plan.removedJumps.length, 'previous jump')}` : '';
      const rules = plan.added.map((r) => `  ${renderSavedRule(r)}\n`).join('');
      return `meshtap init: applied ${plural(plan.added.length, 'IPv6 filter rule')} in chains ${chains}: new IPv6 TCP connections are refused (${via})${replaced}\n${rules}`;
    }
    case 'unchanged':
      return `meshtap init: the IPv6 filter rules are already in place, nothing changed (${via})\n`;
    case 'removed':
      return `meshtap init: removed ${plural(plan.removedJumps.length, 'IPv6 jump')} and ${plural(plan.removedChains.length, 'IPv6 chain')} (${plan.removedChains.join(', ')}) (${via})\n`;
    case 'nothing-to-remove':
      return `meshtap init: no meshtap IPv6 rules found, nothing to remove (${via})\n`;
  }
}

function reportIpv6Dns(result: InitResult): string {
  const via = result.tools ? `${result.tools.backend} backend, ${result.tools.restore6}` : '';
  const { action, plan } = result.ipv6Dns;
  switch (action) {
    case 'dry-run':
    case 'no-ipv6':
      return '';
    case 'applied': {
      const rules = plan.added.map((r) => `  ${renderSavedRule(r)}\n`).join('');
      return `meshtap init: applied ${plural(plan.added.length, 'IPv6 nat rule')} in chain ${MESHTAP_IPV6_NAT_CHAINS.join(', ')}: IPv6 DNS goes to the DNS listener (${via})\n${rules}`;
    }
    case 'unchanged':
      return `meshtap init: the IPv6 DNS rules are already in place, nothing changed (${via})\n`;
    case 'removed':
      return `meshtap init: removed ${plural(plan.removedJumps.length, 'IPv6 DNS jump')} and ${plural(plan.removedChains.length, 'IPv6 nat chain')} (${plan.removedChains.join(', ')}) (${via})\n`;
    case 'nothing-to-remove':
      return `meshtap init: no meshtap IPv6 DNS rules found, nothing to remove (${via})\n`;
  }
}

function reportDnsWatch(result: InitResult, family: 4 | 6): string {
  const restoreTool = family === 4 ? result.tools?.restore : result.tools?.restore6;
  const via = result.tools ? `${result.tools.backend} backend, ${restoreTool}` : '';
  const { action, plan } = family === 4 ? result.dnsWatch : result.dnsWatch6;
  const label = family === 4 ? 'mangle' : 'IPv6 mangle';
  switch (action) {
    case 'dry-run':
    case 'no-ipv6':
      return '';
    case 'applied': {
      const rules = plan.added.map((r) => `  ${renderSavedRule(r)}\n`).join('');
      return `meshtap init: applied ${plural(plan.added.length, `${label} rule`)} in chain ${MESHTAP_DNS_WATCH_CHAINS.join(', ')}: DNS bypasses a sidecar that is not listening (${via})\n${rules}`;
    }
    case 'unchanged':
      return `meshtap init: the ${label} DNS watch rules are already in place, nothing changed (${via})\n`;
    case 'removed':
      return `meshtap init: removed ${plural(plan.removedJumps.length, `${label} jump`)} and ${plural(plan.removedChains.length, `${label} chain`)} (${plan.removedChains.join(', ')}) (${via})\n`;
    case 'nothing-to-remove':
      return `meshtap init: no meshtap ${label} rules found, nothing to remove (${via})\n`;
  }
}

function report(config: InitConfig, result: InitResult): { out: string; err: string } {
  const { out, err } = reportIpv4(config, result);
  return { out: out + reportIpv6(result) + reportIpv6Dns(result) + reportDnsWatch(result, 4) + reportDnsWatch(result, 6), err };
}

function reportIpv4(config: InitConfig, result: InitResult): { out: string; err: string } {
  const via = result.tools ? `${result.tools.backend} backend, ${result.tools.restore}` : '';
  const err = result.warnings.map((w) => `meshtap init: warning: ${w}\n`).join('');
  switch (result.action) {
    case 'dry-run': {
      const what = config.cleanup ? 'would remove from a pod set up with these options' : 'would apply to a pod without meshtap rules';
      return {
        out:
          `# meshtap init --dry-run: iptables-restore --noflush input init ${what}\n${result.plan.text}` +
          `# meshtap init --dry-run: ip6tables-restore --noflush input init ${what}\n${result.ipv6.plan.text}` +
          `# meshtap init --dry-run: ip6tables-restore --noflush input (nat: IPv6 DNS) init ${what}\n${result.ipv6Dns.plan.text}` +
          `# meshtap init --dry-run: iptables-restore --noflush input (mangle: DNS fails open) init ${what}\n${result.dnsWatch.plan.text}` +
          `# meshtap init --dry-run: ip6tables-restore --noflush input (mangle: IPv6 DNS fails open) init ${what}\n${result.dnsWatch6.plan.text}`,
        err,
      };
    }
    case 'applied': {
      const replaced = result.plan.removedJumps.length > 0 ? `, replacing ${plural(result.plan.removedJumps.length, 'previous jump')}` : '';
      const rules = result.plan.added.map((r) => `  ${renderSavedRule(r)}\n`).join('');
      return {
        out: `meshtap init: applied ${plural(result.plan.added.length, 'nat rule')} in chains ${MESHTAP_CHAINS.join(', ')} (${via})${replaced}\n${rules}`,
        err,
      };
    }
    case 'unchanged':
      return { out: `meshtap init: the nat rules are already in place, nothing changed (${via})\n`, err };
    case 'removed':
      return {
        out:
          `meshtap init: removed ${plural(result.plan.removedJumps.length, 'jump')} and ` +
          `${plural(result.plan.removedChains.length, 'chain')} (${result.plan.removedChains.join(', ')}) (${via})\n`,
        err,
      };
    case 'nothing-to-remove':
      return { out: `meshtap init: no meshtap rules found, nothing to remove (${via})\n`, err };
  }
}

/** The pod's resolv.conf (the init container shares the pod's), or nothing when it cannot be read. */
function readResolvConf(): string | undefined {
  try {
    return readFileSync(RESOLV_CONF, 'utf8');
  } catch {
    return undefined;
  }
}

const INIT_ENV_VARS: readonly string[] = Object.values(OPTION_NAMES).flatMap((n) => (n.env === undefined ? [] : [n.env]));

export async function run(argv: string[], io: CommandIO): Promise<number> {
  let config: InitConfig;
  try {
    const { values } = parseCommandArgs(argv, FLAGS);
    if (values.help) {
      io.stdout.write(usage());
      return 0;
    }
    config = resolveInitConfig(toOptions(values), io.env, readResolvConf());
    // A misspelt variable would otherwise leave its setting at the default without a word.
    for (const warning of [...unknownVariableWarnings(io.env, INIT_ENV_VARS), ...initConfigWarnings(config)]) io.stderr.write(`meshtap init: warning: ${warning}\n`);
  } catch (err) {
    if (isMeshtapError(err, CLI_ERR_USAGE) || isMeshtapError(err, SC_ERR_INIT_BAD_OPTION)) {
      return reportFailure(io.stderr, 'init', err, true);
    }
    throw err;
  }
  try {
    const result = await runInit(config, { env: io.env });
    const { out, err } = report(config, result);
    if (err) io.stderr.write(err);
    io.stdout.write(out);
    return 0;
  } catch (err) {
    return reportFailure(io.stderr, 'init', err);
  }
}
