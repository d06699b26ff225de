/**
 * A lab pod's volumes, made as the kubelet would before its containers start: emptyDirs
 * (shared by containers of different users), projected service-account tokens readable only by
 * the user that mounts them, and the mesh CA's trust bundle.
 */
import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MeshtapError } from '../lib/errors.ts';
import { LAB_ERR_POD_FAILED } from './errors.ts';
import type { PodPlan } from './pod-plan.ts';
import type { Pod } from './scenario.ts';
import type { PodState } from './state.ts';
import { DEFAULT_TOKEN_AUDIENCE, type TokenIssuer } from './token-issuer.ts';

/** `dir` with `mode`, made if missing (the mode is set either way: a umask must not narrow it). */
export function ensureDir(dir: string, mode = 0o755): string {
  mkdirSync(dir, { recursive: true, mode });
  chmodSync(dir, mode);
  return dir;
}

export interface VolumeSources {
  /** Absent when the token signing key was not created: a pod that mounts a token then fails. */
  tokenIssuer: TokenIssuer | undefined;
  /** The trust bundle written into CA volumes. */
  caPem: string;
}

export async function prepareVolumes(pod: Pod, plan: PodPlan, ps: PodState, sources: VolumeSources): Promise<void> {
  // Shared by containers running as different users, like an emptyDir.
  ensureDir(join(ps.dir, 'tmp'), 0o1777);
  for (const v of plan.volumes) {
    if (v.type === 'emptyDir' || v.type === 'unsupported') {
      ensureDir(v.dir, 0o1777);
    } else if (v.type === 'token') {
      ensureDir(v.dir);
      if (!sources.tokenIssuer) throw new MeshtapError(LAB_ERR_POD_FAILED, 'no token issuer: the token signing key was not created');
      const token = await sources.tokenIssuer({
        pod: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid, serviceAccount: pod.spec.serviceAccountName ?? 'default' },
        audience: v.audience || DEFAULT_TOKEN_AUDIENCE,
        expirationSeconds: v.expirationSeconds,
      });
      // A credential: only the user of the container(s) mounting it may read it.
      const users = new Set(v.mountedBy.map((m) => `${m.uid}:${m.gid}`));
      const file = join(v.dir, v.file);
      rmSync(file, { force: true });
      if (users.size === 1) {
        const [{ uid, gid }] = v.mountedBy;
        writeFileSync(file, token, { mode: 0o400 });
        chownSync(file, uid, gid);
      } else {
        // Several users (or none) mount it: readable by all, as a pod without fsGroup sees it.
        writeFileSync(file, token, { mode: 0o444 });
      }
      chmodSync(file, users.size === 1 ? 0o400 : 0o444);
    } else {
      ensureDir(v.dir);
      for (const f of v.files) {
        const file = join(v.dir, f);
        writeFileSync(file, sources.caPem, { mode: 0o444 });
        chmodSync(file, 0o444);
      }
    }
  }
}
