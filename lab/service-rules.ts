/**
 * Services the way kube-proxy's iptables mode makes them, on the node: the host's nat
 * PREROUTING jumps, for traffic coming from the pods' bridge to the service range, to a
 * `MTLAB-SERVICES` chain that matches VIP:port and jumps to a per-port chain that DNATs to one
 * endpoint, picked at random with `-m statistic`.
 *
 * So, as in a cluster, a connection to a VIP leaves the pod: meshtap init redirects the app's
 * connection to its sidecar, the sidecar's upstream connection (its uid is never redirected)
 * goes out through eth0 to the node, is translated there and enters the endpoint's pod through
 * its PREROUTING, where the inbound sidecar takes it. That includes a pod calling its own
 * Service (the hairpin): the node sends the packet back out the port it came in on (the bridge
 * ports are in hairpin mode) and `MTLAB-POSTROUTING` rewrites its source to the node's bridge
 * address — kube-proxy's masquerade for hairpin traffic — or the pod would answer itself
 * directly and the caller, which spoke to the VIP, would reset the reply.
 *
 * Replies between pods on the one bridge are un-translated by the node's conntrack because the
 * bridge calls iptables (`nf_call_iptables`, br_netfilter), as kubenet requires.
 *
 * The kube-dns VIP is one more service: UDP and TCP 53 DNAT to the DNS pod (`cluster-dns.ts`).
 *
 * The node forwards only on the bridge (`net.ipv4.conf.mtlab0.forwarding`, set by `lab up`;
 * the machine's `ip_forward` is left alone) and `MTLAB-FORWARD` accepts only what goes back to
 * the bridge: pods reach nothing beyond the node through it.
 *
 * VIPs without any endpoint are refused at once inside each pod (`buildRejectRestore`), as
 * kube-proxy does with a REJECT in the filter table, rather than left to time out.
 *
 * Everything here is pure text; `node-network.ts` applies and removes it.
 */
import { createHash } from 'node:crypto';
import { BRIDGE, GATEWAY_IP, NAME_PREFIX, SERVICE_CIDR } from './addresses.ts';
import type { AddressedService } from './scenario.ts';

export const SERVICES_CHAIN = 'MTLAB-SERVICES';
export const POSTROUTING_CHAIN = 'MTLAB-POSTROUTING';
export const FORWARD_CHAIN = 'MTLAB-FORWARD';
const PORT_CHAIN_PREFIX = 'MTLAB-SVC-';
/** Every chain the lab makes on the node starts with this; `lab down` removes them by name. */
export const NODE_CHAIN_PREFIX = NAME_PREFIX.toUpperCase();

/** A short stable chain name per service port (iptables chain names are at most 28 characters). */
export function servicePortChain(svc: { namespace: string; name: string }, port: number, protocol = 'tcp'): string {
  const key = protocol === 'tcp' ? `${svc.namespace}/${svc.name}:${port}` : `${svc.namespace}/${svc.name}:${port}/${protocol}`;
  const h = createHash('sha256').update(key).digest('hex').slice(0, 12).toUpperCase();
  return `${PORT_CHAIN_PREFIX}${h}`;
}

export interface NodeServiceInput {
  services: readonly AddressedService[];
  /** Every pod's address: a connection from a pod to itself through a VIP gets the node's source address. */
  podIps: readonly string[];
  /** The cluster DNS: its VIP and the DNS pod's address (UDP and TCP 53). */
  dns?: { vip: string; ip: string };
}

/** The `iptables-restore --noflush` input installing every service on the node (host namespace). */
export function buildNodeServiceRestore(input: NodeServiceInput): string {
  const lines = ['*nat', `:${SERVICES_CHAIN} - [0:0]`, `:${POSTROUTING_CHAIN} - [0:0]`];
  const body: string[] = [];
  for (const svc of input.services) {
    for (const p of svc.ports) {
      const chain = servicePortChain(svc, p.port);
      const comment = `${svc.namespace}/${svc.name}${p.name ? `:${p.name}` : ''}`;
      if (p.endpoints.length === 0) continue;
      lines.push(`:${chain} - [0:0]`);
      body.push(`-A ${SERVICES_CHAIN} -d ${svc.clusterIP}/32 -p tcp -m tcp --dport ${p.port} -m comment --comment "${comment} cluster IP" -j ${chain}`);
      p.endpoints.forEach((ep, i) => {
        const left = p.endpoints.length - i;
        const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
        body.push(`-A ${chain} -p tcp -m comment --comment "${comment} -> ${ep.pod}"${pick} -j DNAT --to-destination ${ep.ip}:${ep.port}`);
      });
    }
  }
  if (input.dns) {
    for (const proto of ['udp', 'tcp']) {
      body.push(`-A ${SERVICES_CHAIN} -d ${input.dns.vip}/32 -p ${proto} -m ${proto} --dport 53 -m comment --comment "kube-system/kube-dns:dns-${proto} cluster IP" -j DNAT --to-destination ${input.dns.ip}:53`);
    }
  }
  for (const ip of input.podIps) {
    body.push(`-A ${POSTROUTING_CHAIN} -s ${ip}/32 -d ${ip}/32 -m comment --comment "hairpin: a pod calling its own service" -j SNAT --to-source ${GATEWAY_IP}`);
  }
  lines.push(
    ...body,
    `-I PREROUTING 1 -i ${BRIDGE} -d ${SERVICE_CIDR} -m comment --comment "meshtap lab: service VIPs" -j ${SERVICES_CHAIN}`,
    `-I POSTROUTING 1 -o ${BRIDGE} -m comment --comment "meshtap lab: hairpin" -j ${POSTROUTING_CHAIN}`,
    'COMMIT',
    // The bridge forwards (for the DNAT above) but only between pods: nothing a pod sends is
    // routed off the node, and a VIP with no rule is refused rather than sent to the default route.
    '*filter',
    `:${FORWARD_CHAIN} - [0:0]`,
    `-A ${FORWARD_CHAIN} -o ${BRIDGE} -m comment --comment "pod to pod through the node" -j ACCEPT`,
    `-A ${FORWARD_CHAIN} -m comment --comment "nothing leaves the lab through the node" -j REJECT --reject-with icmp-net-unreachable`,
    `-I FORWARD 1 -i ${BRIDGE} -m comment --comment "meshtap lab: pods" -j ${FORWARD_CHAIN}`,
    'COMMIT',
    '',
  );
  return lines.join('\n');
}

/**
 * The `iptables-restore --noflush` input removing every lab rule and chain from `iptables-save`
 * output: the jumps from built-in chains first, then the chains. Undefined when there is none,
 * so `lab down` works from names alone after a crash.
 */
export function buildNodeCleanupRestore(saved: string): string | undefined {
  const out: string[] = [];
  let table: string | undefined;
  let deletes: string[] = [];
  let chains: string[] = [];
  const flush = () => {
    if (table !== undefined && (deletes.length > 0 || chains.length > 0)) {
      out.push(`*${table}`, ...deletes, ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`), 'COMMIT');
    }
    deletes = [];
    chains = [];
  };
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) {
      flush();
      table = line.slice(1).trim();
    } else if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0];
      if (name.startsWith(NODE_CHAIN_PREFIX)) chains.push(name);
    } else if (line.startsWith('-A ')) {
      const [, chain] = line.split(' ');
      const target = /\s-j\s+(\S+)/.exec(line)?.[1];
      if (!chain.startsWith(NODE_CHAIN_PREFIX) && target?.startsWith(NODE_CHAIN_PREFIX)) deletes.push(`-D${line.slice(2)}`);
    } else if (line.startsWith('COMMIT')) {
      flush();
      table = undefined;
    }
  }
  return out.length === 0 ? undefined : `${out.join('\n')}\n`;
}

/**
 * VIPs without any endpoint are refused at once (kube-proxy does the same with a REJECT in the
 * filter table) rather than leaving connections to time out.
 */
export function buildRejectRestore(services: readonly AddressedService[]): string | undefined {
  const rules: string[] = [];
  for (const svc of services) {
    for (const p of svc.ports) {
      if (p.endpoints.length > 0) continue;
      rules.push(`-A OUTPUT -d ${svc.clusterIP}/32 -p tcp -m tcp --dport ${p.port} -m comment --comment "${svc.namespace}/${svc.name} has no endpoints" -j REJECT --reject-with icmp-port-unreachable`);
    }
  }
  return rules.length === 0 ? undefined : ['*filter', ...rules, 'COMMIT', ''].join('\n');
}
