/**
 * The commands a pod runs — the init container's and the sidecar's — in one table for both
 * entries: the full CLI and the compiled pod entry (`meshtap-pod.ts`), which holds nothing else.
 */
import type { CommandEntry } from '../lib/command-main.ts';

export const POD_COMMANDS: Record<string, CommandEntry> = {
  init: { summary: "install the pod's iptables redirection (init container)", load: () => import('../sidecar/init/cli.ts') },
  sidecar: { summary: 'run the transparent capturing proxy', load: () => import('../sidecar/cli.ts') },
  'wait-ready': { summary: 'wait until the sidecar reports ready (postStart hook)', load: () => import('../lib/wait-ready.ts') },
};
