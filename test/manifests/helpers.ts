/** What the manifest tests share: reading YAML, rendering kustomizations, the schema models. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';

export const MANIFESTS_ROOT = fileURLToPath(new URL('../../manifests/', import.meta.url));

export interface Model {
  validate(): void;
}

/** The OpenAPI-schema model of every kind the manifests use, by `apiVersion/kind`. */
export const MODELS: Record<string, new (obj: any) => Model> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

export function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(name) ? [p] : [];
  });
}

export function parseFile(file: string): any[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS();
    })
    .filter((d) => d !== null);
}

/**
 * Renders a kustomization as far as meshtap uses kustomize: its resources (files or
 * directories). The tests keep the kustomizations to that, so this stays a faithful stand-in
 * where kubectl is not installed.
 */
export function render(dir: string): any[] {
  const k = parseFile(join(dir, 'kustomization.yaml'))[0];
  return (k.resources as string[]).flatMap((r) => {
    const p = join(dir, r);
    return statSync(p).isDirectory() ? render(p) : parseFile(p);
  });
}

export function kubectlAvailable(): boolean {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function selectorMatches(sel: { matchLabels?: Record<string, string> } | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  return Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

/**
 * NetworkPolicy ingress semantics, as a CNI applies them, for one connection: does a policy
 * that selects `podLabels` let a pod in a namespace with `sourceNamespaceLabels` reach the
 * container port named `portName` (numbered `portNumber`)? A policy that does not select the
 * pod allows everything; one that does allows only what a rule lists.
 */
export function ingressAllowed(
  policy: any,
  podLabels: Record<string, string>,
  sourceNamespaceLabels: Record<string, string>,
  portName: string,
  portNumber: number,
): boolean {
  if (!selectorMatches(policy.spec.podSelector, podLabels)) return true;
  if (!(policy.spec.policyTypes ?? ['Ingress']).includes('Ingress')) return true;
  return (policy.spec.ingress ?? []).some((rule: any) => {
    const portOk = !rule.ports || rule.ports.some((p: any) => p.port === portName || p.port === portNumber);
    const fromOk = !rule.from || rule.from.some((peer: any) => peer.namespaceSelector && !peer.podSelector && selectorMatches(peer.namespaceSelector, sourceNamespaceLabels));
    return portOk && fromOk;
  });
}
