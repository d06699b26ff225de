#!/usr/bin/env node
import { runCommandMain, type CommandEntry } from '../lib/command-main.ts';
import { POD_COMMANDS } from './pod-commands.ts';

/** Each subcommand lives with the component it belongs to and is loaded only when used. */
const commands: Record<string, CommandEntry> = {
  ...POD_COMMANDS,
  certs: { summary: 'create and inspect the CA and the webhook serving certificate', load: () => import('../certs/cli.ts') },
  webhook: { summary: 'serve the injection webhook over HTTPS', load: () => import('../webhook/cli.ts') },
  controller: {
    summary: 'run the control plane: webhook, CA and membership feed',
    // The controller runs the webhook without importing it: the command wires the two.
    load: async () => {
      const [{ createControllerRun }, webhook] = await Promise.all([import('../controller/cli.ts'), import('../webhook/cli.ts')]);
      return { run: createControllerRun(webhook) };
    },
  },
  inject: { summary: 'inject the sidecar into Kubernetes YAML offline', load: () => import('../webhook/inject-cli.ts') },
  collector: { summary: 'receive, enrich, store and export call records', load: () => import('../collector/cli.ts') },
  tap: { summary: 'follow calls live from the collector, one line per call', load: () => import('../collector/tap/cli.ts') },
  mcp: { summary: 'serve meshtap\'s tools to an AI agent over MCP (stdio), reading the collector', load: () => import('../collector/mcp/cli.ts') },
  dashboard: { summary: 'open a cluster collector\'s dashboard on this machine, with your kubeconfig credentials', load: () => import('../collector/dashboard/cli.ts') },
  lab: { summary: 'run a scenario on this machine: pods as network namespaces, the real pipeline', load: () => import('../lab/cli.ts') },
  check: { summary: 'check that this machine can run the lab', load: () => import('../lab/check.ts') },
};

runCommandMain(commands, process.argv.slice(2));
