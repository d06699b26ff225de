/**
 * Starting the lab's cluster DNS (the IO around `cluster-dns.ts`): the DNS pod's namespace on
 * the bridge, its records file, dnsmasq inside it, and a wait until it answers.
 */
import type { ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { writeFileSync } from 'node:fs';
import { MeshtapError } from '../lib/errors.ts';
import { BRIDGE, GATEWAY_IP, NODE_POD_PREFIX_LENGTH } from './addresses.ts';
import {
  DNS_HOST_IF,
  DNS_NETNS,
  DNS_POD_IF,
  DNS_POD_IP,
  DNS_SERVICE,
  DNS_VIP,
  buildDnsHosts,
  buildDnsmasqArgv,
  dnsServiceRecord,
  serviceFqdn,
  type DnsPod,
  type DnsService,
} from './cluster-dns.ts';
import { LAB_ERR_PROCESS_FAILED } from './errors.ts';
import { createPodNetns } from './node-network.ts';
import { tailLog } from './processes.ts';

export interface DnsServerState {
  netns: string;
  hostIf: string;
  ip: string;
  vip: string;
  hostsFile: string;
  log: string;
  pid?: number;
}

export interface DnsServerContext {
  hostsFile: string;
  log: string;
  services: readonly DnsService[];
  pods: readonly DnsPod[];
  /** Records the state before anything is created (`lab down` works from it). */
  record: (state: DnsServerState) => void;
  /** Starts a detached process inside a namespace, output to `log`. */
  start: (argv: string[], netns: string, log: string) => ChildProcess;
  timeoutMs?: number;
}

/** Asks the server directly (not through the VIP: the host has no service rules of its own). */
async function answers(name: string): Promise<boolean> {
  const resolver = new Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([DNS_POD_IP]);
  try {
    return (await resolver.resolve4(name)).includes(DNS_VIP);
  } catch {
    return false;
  } finally {
    resolver.cancel();
  }
}

export async function startDnsServer(ctx: DnsServerContext): Promise<DnsServerState> {
  const services = [dnsServiceRecord(), ...ctx.services];
  const state: DnsServerState = { netns: DNS_NETNS, hostIf: DNS_HOST_IF, ip: DNS_POD_IP, vip: DNS_VIP, hostsFile: ctx.hostsFile, log: ctx.log };
  ctx.record(state);
  await createPodNetns({ netns: DNS_NETNS, hostIf: DNS_HOST_IF, podIf: DNS_POD_IF, ip: DNS_POD_IP, prefixLength: NODE_POD_PREFIX_LENGTH, gateway: GATEWAY_IP, bridge: BRIDGE });
  writeFileSync(ctx.hostsFile, buildDnsHosts(services, ctx.pods), { mode: 0o644 });
  const child = ctx.start(buildDnsmasqArgv({ hostsFile: ctx.hostsFile, services }), DNS_NETNS, ctx.log);
  state.pid = child.pid;
  ctx.record(state);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const probe = serviceFqdn(DNS_SERVICE);
  const deadline = Date.now() + (ctx.timeoutMs ?? 10_000);
  while (Date.now() < deadline && exited === undefined) {
    if (await answers(probe)) return state;
    await new Promise((r) => setTimeout(r, 100));
  }
  const why = exited !== undefined ? `exited (${exited})` : `did not answer ${probe} within ${(ctx.timeoutMs ?? 10_000) / 1000} s`;
  throw new MeshtapError(LAB_ERR_PROCESS_FAILED, `the cluster DNS (dnsmasq) ${why}; log ${ctx.log}:\n${tailLog(ctx.log)}`);
}
