/**
 * The peer the budget is measured against: Debian's haproxy in tcp mode on the sidecar ports of
 * each pod, behind the pods' meshtap rules (the transparent-proxy peer, no capture). The mTLS
 * variant originates TLS with a client certificate in the client pod and terminates it in the
 * server pod (`verify required` on both ends), with certificates from a throwaway openssl CA.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execInNetns, sh, spawnInNetns, type PodNetns } from '../lab/netns.ts';
import { PairStats, containerPids, rssMiB } from './proc-stats.ts';
import { stopInNetns, type ProxyPair } from './proxy-pair.ts';
import { PROXY_UID, sleep } from './settings.ts';

const SERVER_NAME = 'bench-server.bench.svc';

export const HAPROXY_TCP_CONFIG = `global
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
# Outbound: the original destination of the redirected connection (0.0.0.0 = use it, the
# port likewise), as the proxy uid, which the rules never redirect.
frontend outbound
  bind 0.0.0.0:15001
  default_backend original_destination
backend original_destination
  server original 0.0.0.0
# Inbound: to the app at the original destination, from the passthrough source.
frontend inbound
  bind 0.0.0.0:15006
  default_backend app
backend app
  server app 0.0.0.0 source 127.0.0.6
`;

/**
 * The mTLS peer: the client pod's outbound listener originates TLS with a client certificate to
 * the original destination (which the server pod's rules send to its inbound listener), and the
 * inbound listener terminates TLS, both with `verify required` against the bench CA. RSA 2048
 * keys, like meshtap's workload certificates. Same listeners, rules and timeouts as the tcp pair.
 */
export function haproxyMtlsConfig(pki: string): string {
  return `global
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.2
  ssl-default-server-options ssl-min-ver TLSv1.2
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend outbound
  bind 0.0.0.0:15001
  default_backend mesh_peer
backend mesh_peer
  server peer 0.0.0.0 ssl crt ${join(pki, 'client.pem')} ca-file ${join(pki, 'ca.crt')} verify required sni str(${SERVER_NAME}) verifyhost ${SERVER_NAME}
frontend inbound
  bind 0.0.0.0:15006 ssl crt ${join(pki, 'server.pem')} ca-file ${join(pki, 'ca.crt')} verify required
  default_backend app
backend app
  server app 0.0.0.0 source 127.0.0.6
`;
}

/** A throwaway CA and one server and one client certificate (cert + key in one PEM, as haproxy reads them). */
export async function makeHaproxyPki(dir: string): Promise<string> {
  const pki = join(dir, 'haproxy-pki');
  mkdirSync(pki, { mode: 0o755 });
  chmodSync(pki, 0o755);
  const at = (name: string) => join(pki, name);
  await sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.crt'), '-days', '1', '-subj', '/CN=bench haproxy CA']);
  const leaves = [
    { name: 'server', ext: `subjectAltName=DNS:${SERVER_NAME}\nextendedKeyUsage=serverAuth\n` },
    { name: 'client', ext: 'subjectAltName=DNS:bench-client.bench.svc\nextendedKeyUsage=clientAuth\n' },
  ];
  for (const { name, ext } of leaves) {
    await sh('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`), '-subj', `/CN=bench-${name}`]);
    writeFileSync(at(`${name}.ext`), ext);
    await sh('openssl', ['x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', at(`${name}.ext`), '-out', at(`${name}.crt`)]);
    writeFileSync(at(`${name}.pem`), readFileSync(at(`${name}.crt`), 'utf8') + readFileSync(at(`${name}.key`), 'utf8'));
  }
  // haproxy runs as the proxy uid; the keys are throwaway and the directory goes with the run.
  for (const name of ['ca.crt', 'server.pem', 'client.pem']) chmodSync(at(name), 0o644);
  return pki;
}

export async function startHaproxyPair(pods: PodNetns[], dir: string, configText: string): Promise<ProxyPair> {
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, configText, { mode: 0o644 });
  const children = pods.map((pod) => spawnInNetns(pod.netns, 'haproxy', ['-db', '-f', config], { uid: PROXY_UID }));
  // haproxy prints nothing when it starts cleanly: wait for its listener instead.
  for (const pod of pods) {
    for (let i = 0; ; i++) {
      const { stdout } = await execInNetns(pod.netns, 'ss', ['-ltnH', 'sport = :15006']);
      if (stdout.trim()) break;
      if (i > 100) throw new Error(`haproxy did not start in ${pod.netns}`);
      await sleep(50);
    }
  }
  const roots = children.map((c) => c.pid!) as [number, number];
  return {
    stats: new PairStats(roots),
    rssIdleMiB: roots.map((root) => rssMiB(containerPids(root))) as [number, number],
    stop: async () => {
      await Promise.all(children.map((c) => stopInNetns(c, 10_000)));
    },
  };
}

/** Plaintext from the client pod's proxy uid (which the rules never redirect) must get no answer from the server pod. */
export async function verifyHaproxyRefusesPlaintext(client: PodNetns, url: string): Promise<void> {
  const answered = await execInNetns(client.netns, 'setpriv', [`--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', 'curl', '-sS', '-m', '5', '--data-binary', 'x', url]).then(
    () => true,
    () => false,
  );
  if (answered) throw new Error('haproxy mTLS: the server pod answered plaintext; the pair is not enforcing TLS');
}
