/**
 * The lab's fixed names and addresses, in one place: the state directory, the bridge, how
 * pods' namespaces and links are named, the pod and service ranges, and the ports of the
 * host-side processes. `lab down` recognises leftovers by these names alone, so a lab whose
 * state file was lost is still removable.
 */

/** Everything a running lab knows about itself lives here; `lab down` removes it. */
export { LAB_STATE_DIR as STATE_DIR, LAB_STATE_FILE as STATE_FILE } from '../lib/lab-locator.ts';

/** Prefix of every network namespace, link and bridge the lab creates. */
export const NAME_PREFIX = 'mtlab';
export const BRIDGE = `${NAME_PREFIX}0`;

/** The cluster's pod CIDR; the one node (`lab`) owns the first /24 of it, like kind or flannel. */
export const CLUSTER_POD_CIDR = '10.244.0.0/16';
export const NODE_POD_PREFIX = '10.244.0';
export const NODE_POD_PREFIX_LENGTH = 24;
/** The bridge's address: the pods' default gateway, and where pods reach the collector. */
export const GATEWAY_IP = `${NODE_POD_PREFIX}.1`;
/** First host number handed to a pod (10.244.0.2). */
export const FIRST_POD_HOST = 2;
export const LAST_POD_HOST = 254;

export const SERVICE_CIDR = '10.96.0.0/16';
export const SERVICE_PREFIX = '10.96';
/** 10.96.0.1 is the API server's address in a real cluster; the lab starts after the usual DNS address. */
export const FIRST_SERVICE_HOST = 11;

/**
 * The lab's node: pods land here unless their spec names another node (`spec.nodeName`); other
 * names are published as nodes of their own (names only: the machine is one).
 */
export const NODE_NAME = 'lab';
export const CLUSTER_DOMAIN = 'cluster.local';

/** Default ports of the host-side processes. The controller's webhook listens on a free port. */
export const DEFAULT_COLLECTOR_GRPC_PORT = 9400;
export const DEFAULT_COLLECTOR_HTTP_PORT = 8080;
/** The controller's CA + membership gRPC port, on the bridge address (the injector config points sidecars here). */
export const CONTROLLER_PORT = 15012;

/** uid/gid app containers run as unless the pod's securityContext says otherwise. */
export const DEFAULT_APP_UID = 1000;

/** Network namespace of a pod: `mtlab-<namespace>-<pod>`. */
export function podNetnsName(namespace: string, pod: string): string {
  return `${NAME_PREFIX}-${namespace}-${pod}`;
}

/** Host-side and (before it is moved and renamed eth0) pod-side veth names; at most 15 characters. */
export function vethNames(index: number): { hostIf: string; podIf: string } {
  return { hostIf: `${NAME_PREFIX}v${index}`, podIf: `${NAME_PREFIX}p${index}` };
}

export function podIp(index: number): string {
  const host = FIRST_POD_HOST + index;
  if (host > LAST_POD_HOST) throw new RangeError(`the lab's node has room for ${LAST_POD_HOST - FIRST_POD_HOST + 1} pods`);
  return `${NODE_POD_PREFIX}.${host}`;
}

/** The nth service address: 10.96.0.11, 10.96.0.12, … 10.96.255.254. */
export function serviceIp(index: number): string {
  const n = FIRST_SERVICE_HOST + index;
  if (n > 255 * 256 + 254) throw new RangeError('the service range 10.96.0.0/16 is full');
  return `${SERVICE_PREFIX}.${Math.floor(n / 256)}.${n % 256}`;
}

export function isServiceIp(ip: string): boolean {
  const m = /^10\.96\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  return m !== null && Number(m[1]) <= 255 && Number(m[2]) <= 255;
}
