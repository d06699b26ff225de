/**
 * The lab's cluster DNS, as pure text: what dnsmasq is started with and the records it serves.
 *
 * Like a cluster's CoreDNS, it runs as its own "pod" (network namespace `mtlab-dns` on the
 * bridge, at a fixed address) and pods reach it through the `kube-dns` Service VIP
 * 10.96.0.10, which the node DNATs like any other service (`node-services.ts`). It answers:
 *
 * - `<svc>.<ns>.svc.cluster.local` A → the service VIP; SRV `_<port>._tcp.<svc>.<ns>.svc.cluster.local`
 *   for named ports (priority 0, weight 100, target the service name, as CoreDNS does);
 * - `<a-b-c-d>.<ns>.pod.cluster.local` A → the pod IP, and the PTR records of both;
 * - NXDOMAIN for every other name under `cluster.local` (`--local`), so a typo fails at once;
 * - REFUSED for names outside the cluster: it has no upstream server at all, so nothing a pod
 *   asks ever leaves the machine.
 *
 * dnsmasq rather than a server of our own: it is a small, well-known Debian package that
 * already speaks UDP and TCP, EDNS, truncation, SRV and PTR, and it reads exactly the
 * hosts-file format written here.
 */
import { CLUSTER_DOMAIN, NAME_PREFIX } from './addresses.ts';
import type { AddressedScenario } from './scenario.ts';

/** The `kube-dns` Service's cluster IP (kubeadm's default), below the first scenario VIP (.11). */
export const DNS_VIP = '10.96.0.10';
/** The DNS pod's own address: the last host of the node's /24, far from the pods counted up from .2. */
export const DNS_POD_IP = '10.244.0.254';
export const DNS_NETNS = `${NAME_PREFIX}-dns`;
/** At most 15 characters; `lab down` removes every `mtlab*` link by name. */
export const DNS_HOST_IF = `${NAME_PREFIX}vdns`;
export const DNS_POD_IF = `${NAME_PREFIX}pdns`;
export const DNS_PROGRAM = '/usr/sbin/dnsmasq';
/** CoreDNS's kubernetes plugin answers with a 5 s TTL. */
export const DNS_TTL_SECONDS = 5;
export const DNS_SERVICE = { name: 'kube-dns', namespace: 'kube-system' } as const;

export interface DnsService {
  name: string;
  namespace: string;
  clusterIP: string;
  ports: ReadonlyArray<{ name?: string; port: number }>;
}

export interface DnsPod {
  name: string;
  namespace: string;
  ip: string;
}

export function serviceFqdn(svc: { name: string; namespace: string }): string {
  return `${svc.name}.${svc.namespace}.svc.${CLUSTER_DOMAIN}`;
}

/** `10-244-0-5.shop.pod.cluster.local`: the A record Kubernetes gives every pod. */
export function podFqdn(pod: { namespace: string; ip: string }): string {
  return `${pod.ip.replaceAll('.', '-')}.${pod.namespace}.pod.${CLUSTER_DOMAIN}`;
}

/** The kube-dns Service itself, listed with the scenario's so it resolves like any other. */
export function dnsServiceRecord(): DnsService {
  return { ...DNS_SERVICE, clusterIP: DNS_VIP, ports: [{ name: 'dns', port: 53 }] };
}

/**
 * The scenario as the inventory files show it: with the `kube-system` namespace and the
 * `kube-dns` Service, so the collector names the resolver of DNS records (`dst` 10.96.0.10:53)
 * as a cluster's would. Its DNS pod is the lab's and has no endpoint listed: no sidecar talks
 * mTLS to it.
 */
export function withClusterDns(scenario: AddressedScenario): AddressedScenario {
  if (scenario.services.some((s) => s.clusterIP === DNS_VIP)) return scenario;
  const hasNamespace = scenario.namespaces.some((n) => n.name === DNS_SERVICE.namespace);
  return {
    ...scenario,
    namespaces: hasNamespace ? scenario.namespaces : [...scenario.namespaces, { name: DNS_SERVICE.namespace, labels: {}, annotations: {}, source: 'lab' }],
    services: [
      ...scenario.services,
      {
        ...DNS_SERVICE,
        clusterIP: DNS_VIP,
        selector: { 'k8s-app': 'kube-dns' },
        source: 'lab',
        ports: [
          { name: 'dns', port: 53, targetPort: 53, endpoints: [] },
        ],
      },
    ],
  };
}

/** The hosts file dnsmasq serves (`--addn-hosts`): services, then pods. */
export function buildDnsHosts(services: readonly DnsService[], pods: readonly DnsPod[]): string {
  const lines = ['# meshtap lab: the cluster DNS records (services, then pods)'];
  for (const svc of services) lines.push(`${svc.clusterIP}\t${serviceFqdn(svc)}`);
  for (const pod of pods) lines.push(`${pod.ip}\t${podFqdn(pod)}`);
  return `${lines.join('\n')}\n`;
}

/** `--srv-host` values: one per named service port (`_http._tcp.greeter.hello.svc.cluster.local`). */
export function srvRecords(services: readonly DnsService[]): string[] {
  const out: string[] = [];
  for (const svc of services) {
    for (const p of svc.ports) {
      if (!p.name) continue;
      out.push(`_${p.name}._tcp.${serviceFqdn(svc)},${serviceFqdn(svc)},${p.port},0,100`);
    }
  }
  return out;
}

/** dnsmasq's command line: no config file, no /etc/hosts, no upstream, only the lab's records. */
export function buildDnsmasqArgv(options: { hostsFile: string; services: readonly DnsService[]; listenIp?: string }): string[] {
  return [
    DNS_PROGRAM,
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-poll',
    '--no-hosts',
    `--addn-hosts=${options.hostsFile}`,
    `--local=/${CLUSTER_DOMAIN}/`,
    // Reverse lookups of private addresses it has no record for: NXDOMAIN, never forwarded.
    '--bogus-priv',
    '--domain-needed',
    `--local-ttl=${DNS_TTL_SECONDS}`,
    `--listen-address=${options.listenIp ?? DNS_POD_IP}`,
    '--bind-interfaces',
    '--port=53',
    '--pid-file=',
    '--log-facility=-',
    ...srvRecords(options.services).map((s) => `--srv-host=${s}`),
  ];
}

/** The resolv.conf of every pod: the kube-dns VIP and the kubelet's search path for its namespace. */
export function buildResolvConf(namespace: string): string {
  return [
    '# meshtap lab: cluster DNS through the kube-dns Service, as the kubelet writes it',
    `search ${namespace}.svc.${CLUSTER_DOMAIN} svc.${CLUSTER_DOMAIN} ${CLUSTER_DOMAIN}`,
    `nameserver ${DNS_VIP}`,
    'options ndots:5',
    '',
  ].join('\n');
}

/** A pod's /etc/hosts, as the kubelet writes it: localhost and the pod's own name. Services resolve through DNS. */
export function buildHostsFile(pod: { name: string; namespace: string; ip: string }): string {
  return [
    '# meshtap lab: this pod\'s /etc/hosts (services resolve through the cluster DNS)',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `${pod.ip}\t${pod.name}`,
    '',
  ].join('\n');
}

/** What `lab status --json` lists as `dns`. */
export function dnsStatus(state: { ip: string; vip: string; netns: string; pid?: number; log: string }, running: boolean): Record<string, unknown> {
  return {
    server: 'dnsmasq',
    service: `${DNS_SERVICE.namespace}/${DNS_SERVICE.name}`,
    vip: state.vip,
    ip: state.ip,
    netns: state.netns,
    ...(state.pid !== undefined ? { pid: state.pid } : {}),
    running,
    log: state.log,
    domain: CLUSTER_DOMAIN,
  };
}
