/**
 * The lab node's network: one bridge with the gateway address, and per pod a network
 * namespace joined to it by a veth pair. Creation steps are separate functions so `lab up`
 * can record each name before creating it; removal is idempotent and works from names alone.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { killNetnsProcesses, sh } from './netns.ts';
import { buildNodeCleanupRestore } from './service-rules.ts';

export async function linkExists(name: string): Promise<boolean> {
  return sh('ip', ['link', 'show', 'dev', name]).then(
    () => true,
    () => false,
  );
}

/**
 * The bridge calls iptables for the frames it switches (`nf_call_iptables`, br_netfilter), so the
 * node's conntrack sees both directions of a pod's connection to a service VIP even when the
 * endpoint answers straight over the bridge: without it a reply from the endpoint pod would reach
 * the caller from the pod's own address instead of the VIP.
 */
export async function createBridge(name: string, gateway: string, prefixLength: number): Promise<void> {
  await sh('ip', ['link', 'add', name, 'type', 'bridge', 'nf_call_iptables', '1']);
  await sh('ip', ['addr', 'add', `${gateway}/${prefixLength}`, 'dev', name]);
  // A DNATed packet is routed by the node (the bridge only switches it once its destination is a
  // pod): forwarding on this one interface, never the machine-wide switch, and the node's filter
  // rules (`service-rules.ts`) keep pods' packets from being forwarded anywhere but back to the bridge.
  await writeFile(`/proc/sys/net/ipv4/conf/${name}/forwarding`, '1\n');
  await sh('ip', ['link', 'set', name, 'up']);
}

export interface PodLink {
  netns: string;
  hostIf: string;
  podIf: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  bridge: string;
}

/** A namespace with lo up, eth0 on the bridge, the pod's address and a default route via the gateway. */
export async function createPodNetns(link: PodLink): Promise<void> {
  const { netns, hostIf, podIf } = link;
  await sh('ip', ['netns', 'add', netns]);
  await sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', podIf]);
  await sh('ip', ['link', 'set', podIf, 'netns', netns]);
  await sh('ip', ['link', 'set', hostIf, 'master', link.bridge]);
  // A pod calling its own Service: the node sends the translated packet back out this port.
  await sh('ip', ['link', 'set', hostIf, 'type', 'bridge_slave', 'hairpin', 'on']);
  await sh('ip', ['link', 'set', hostIf, 'up']);
  await sh('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  await sh('ip', ['-n', netns, 'link', 'set', podIf, 'name', 'eth0']);
  await sh('ip', ['-n', netns, 'addr', 'add', `${link.ip}/${link.prefixLength}`, 'dev', 'eth0']);
  await sh('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
  await sh('ip', ['-n', netns, 'route', 'add', 'default', 'via', link.gateway]);
}

/** Writes the files `ip netns exec` bind-mounts over /etc for this namespace. */
export async function writeNetnsEtc(etcDir: string, files: Record<string, string>): Promise<void> {
  await mkdir(etcDir, { recursive: true, mode: 0o755 });
  for (const [name, text] of Object.entries(files)) await writeFile(join(etcDir, name), text, { mode: 0o644 });
}

export async function netnsPids(netns: string): Promise<number[]> {
  const { stdout } = await sh('ip', ['netns', 'pids', netns]).catch(() => ({ stdout: '' }));
  return stdout.split(/\s+/).filter(Boolean).map(Number);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** SIGTERM every process in the namespace, SIGKILL whatever is left after `graceMs`, and wait until none is left. */
export async function stopNetnsProcesses(netns: string, graceMs: number): Promise<void> {
  if ((await netnsPids(netns)).length === 0) return;
  await killNetnsProcesses(netns, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (await netnsPids(netns)).length > 0) await sleep(100);
  for (let i = 0; i < 50 && (await netnsPids(netns)).length > 0; i++) {
    await killNetnsProcesses(netns, 'SIGKILL');
    await sleep(100);
  }
}

/** Removes a pod's namespace, link and /etc/netns files; each step tolerates a missing object. */
export async function removePodNetns(netns: string, hostIf: string | undefined, etcDir: string | undefined): Promise<void> {
  if (hostIf) await sh('ip', ['link', 'del', hostIf]).catch(() => undefined);
  await sh('ip', ['netns', 'del', netns]).catch(() => undefined);
  if (etcDir) await rm(etcDir, { recursive: true, force: true });
}

export async function removeLink(name: string): Promise<void> {
  await sh('ip', ['link', 'del', name]).catch(() => undefined);
}

/** Installs the node's service rules (`buildNodeServiceRestore`) in the host namespace. */
export async function applyNodeRules(restore: string): Promise<void> {
  await sh('iptables-restore', ['--noflush'], restore);
}

/** Removes every lab chain and every jump to one from the host's tables; idempotent, by names alone. */
export async function removeNodeRules(): Promise<number> {
  const saved = await sh('iptables-save', []).catch(() => ({ stdout: '' }));
  const restore = buildNodeCleanupRestore(saved.stdout);
  if (restore === undefined) return 0;
  await sh('iptables-restore', ['--noflush'], restore);
  return restore.split('\n').filter((l) => l.startsWith('-X ')).length;
}
