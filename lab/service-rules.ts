/**
 * Services the way kube-proxy's iptables mode makes them, but inside each pod's namespace
 * (the lab has no node-wide nat path between pods): a `MESHTAP_LAB_SERVICES` chain appended to
 * nat OUTPUT matches VIP:port and jumps to a per-port chain that DNATs to one endpoint, picked
 * at random with `-m statistic`. meshtap init inserts its own jump at the top of OUTPUT, so an
 * app's connection to a VIP is redirected to the sidecar first and the sidecar's upstream
 * connection (its uid is never redirected) is the one translated here.
 *
 * Names resolve through `/etc/hosts`: `ip netns exec` bind-mounts `/etc/netns/<netns>/hosts`
 * over it, so each pod gets one listing every service (short names for its own namespace) and
 * a resolv.conf whose nameserver is the pod's own loopback, so unknown names fail fast inside
 * the pod instead of leaving the machine. Everything here is pure text.
 */
import { createHash } from 'node:crypto';
import { CLUSTER_DOMAIN } from './addresses.ts';
import type { AddressedService } from './scenario.ts';

export const SERVICES_CHAIN = 'MESHTAP_LAB_SERVICES';
const PORT_CHAIN_PREFIX = 'MTLAB-SVC-';

/** A short stable chain name per service port (iptables chain names are at most 28 characters). */
export function servicePortChain(svc: { namespace: string; name: string }, port: number): string {
  const h = createHash('sha256').update(`${svc.namespace}/${svc.name}:${port}`).digest('hex').slice(0, 12).toUpperCase();
  return `${PORT_CHAIN_PREFIX}${h}`;
}

/** The `iptables-restore --noflush` input installing every service in one pod's namespace. */
export function buildServiceRestore(services: readonly AddressedService[]): string {
  const lines = ['*nat', `:${SERVICES_CHAIN} - [0:0]`];
  const body: string[] = [];
  for (const svc of services) {
    for (const p of svc.ports) {
      const chain = servicePortChain(svc, p.port);
      const comment = `${svc.namespace}/${svc.name}${p.name ? `:${p.name}` : ''}`;
      lines.push(`:${chain} - [0:0]`);
      if (p.endpoints.length === 0) continue;
      body.push(`-A ${SERVICES_CHAIN} -d ${svc.clusterIP}/32 -p tcp -m tcp --dport ${p.port} -m comment --comment "${comment} cluster IP" -j ${chain}`);
      p.endpoints.forEach((ep, i) => {
        const left = p.endpoints.length - i;
        const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(10)}` : '';
        body.push(`-A ${chain} -p tcp -m comment --comment "${comment} -> ${ep.pod}"${pick} -j DNAT --to-destination ${ep.ip}:${ep.port}`);
      });
    }
  }
  lines.push(...body, `-A OUTPUT -m comment --comment "meshtap lab: service VIPs" -j ${SERVICES_CHAIN}`, 'COMMIT', '');
  return lines.join('\n');
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

/** The names a pod can use for a service: the short name only inside the service's namespace. */
export function serviceNames(svc: { namespace: string; name: string }, podNamespace: string): string[] {
  const names = [`${svc.name}.${svc.namespace}.svc.${CLUSTER_DOMAIN}`, `${svc.name}.${svc.namespace}.svc`, `${svc.name}.${svc.namespace}`];
  if (svc.namespace === podNamespace) names.push(svc.name);
  return names;
}

export function buildHostsFile(pod: { name: string; namespace: string; ip: string }, services: readonly AddressedService[]): string {
  const lines = [
    '# meshtap lab: this pod\'s /etc/hosts (services and the pod itself)',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `${pod.ip}\t${pod.name}`,
  ];
  for (const svc of services) lines.push(`${svc.clusterIP}\t${serviceNames(svc, pod.namespace).join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export function buildResolvConf(namespace: string): string {
  return [
    '# meshtap lab: names resolve from /etc/hosts; nothing answers DNS inside the pod',
    `search ${namespace}.svc.${CLUSTER_DOMAIN} svc.${CLUSTER_DOMAIN} ${CLUSTER_DOMAIN}`,
    'nameserver 127.0.0.1',
    'options ndots:5 timeout:1 attempts:1',
    '',
  ].join('\n');
}
