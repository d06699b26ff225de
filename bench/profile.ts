/**
 * `npm run bench -- --profile`: where the CPU and heap profiles go and the Node flags that write
 * them. The flags travel in NODE_OPTIONS so they reach whatever Node process the bin starts
 * (a compiled bundle, a re-exec) and its worker threads; each process writes its files when it
 * exits cleanly, named by pid and thread id.
 */
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_UID, REPO } from './settings.ts';

export interface ProfileDirs {
  client: string;
  server: string;
  collector: string;
}

/** A fresh `bench-profiles/<timestamp>/` under the repository (git-ignored). */
export function createProfileRoot(now: Date): string {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  const root = join(REPO, 'bench-profiles', stamp);
  mkdirSync(root, { recursive: true, mode: 0o755 });
  return root;
}

/** Kebab-case directory name for a setup. */
export function setupSlug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** One directory per process for a setup; the sidecars' belong to the proxy uid, which writes them. */
export function createProfileDirs(root: string, setup: string): ProfileDirs {
  const base = join(root, setupSlug(setup));
  const dirs = { client: join(base, 'client-sidecar'), server: join(base, 'server-sidecar'), collector: join(base, 'collector') };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true, mode: 0o755 });
  chownSync(dirs.client, PROXY_UID, PROXY_UID);
  chownSync(dirs.server, PROXY_UID, PROXY_UID);
  return dirs;
}

export function profileNodeOptions(dir: string): string {
  return [`--cpu-prof`, `--cpu-prof-dir="${dir}"`, `--heap-prof`, `--heap-prof-dir="${dir}"`].join(' ');
}
