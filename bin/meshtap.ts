#!/usr/bin/env node
import { cliErrors, describeError, isMeshtapError } from '../lib/errors.ts';
import type { CommandRun } from '../lib/cli.ts';

/** Each subcommand lives with the component it belongs to and is loaded only when used. */
const commands: Record<string, { summary: string; load: () => Promise<{ run: CommandRun }> }> = {
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
  init: { summary: 'install the pod\'s iptables redirection (init container)', load: () => import('../sidecar/init/cli.ts') },
  sidecar: { summary: 'run the transparent capturing proxy', load: () => import('../sidecar/cli.ts') },
  collector: { summary: 'receive, enrich, store and export call records', load: () => import('../collector/cli.ts') },
  tap: { summary: 'follow calls live from the collector, one line per call', load: () => import('../collector/tap/cli.ts') },
  dashboard: { summary: 'open a cluster collector\'s dashboard on this machine, with your kubeconfig credentials', load: () => import('../collector/dashboard/cli.ts') },
  lab: { summary: 'run a scenario on this machine: pods as network namespaces, the real pipeline', load: () => import('../lab/cli.ts') },
  check: { summary: 'check that this machine can run the lab', load: () => import('../lab/check.ts') },
  'wait-ready': { summary: 'wait until the sidecar reports ready (postStart hook)', load: () => import('../lib/wait-ready.ts') },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: meshtap <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun "meshtap <command> --help" for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`meshtap: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(rest, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // The command is done: a handle still open (a socket to a peer that vanished without FIN)
    // must not keep the process alive. Unref'd, so a clean exit is not delayed.
    setTimeout(() => process.exit(code), 2000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`meshtap: ${describeError(err)}\n`);
    process.exitCode = (isMeshtapError(err) && cliErrors.exitCode(err.code)) || 1;
  },
);
