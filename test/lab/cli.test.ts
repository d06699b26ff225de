/**
 * `meshtap lab` as a user without root, in real processes: each subcommand that needs root says
 * so once, under its own name, and does nothing else. Nothing here brings a lab up.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { childOutput } from '../helpers/child-output.ts';

const MESHTAP = fileURLToPath(new URL('../../bin/meshtap.ts', import.meta.url));
/** An unprivileged user: as root, the test drops to one; otherwise it already is one. */
const UNPRIVILEGED = 1000;

/**
 * Runs meshtap as a user without root. Without the test runner's hooks, which it adds to every
 * child's NODE_OPTIONS: that user could not write where they write.
 */
function meshtapWithoutRoot(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const command = ['env', '-u', 'NODE_OPTIONS', process.execPath, MESHTAP, ...args];
  const argv = process.getuid?.() === 0 ? ['setpriv', `--reuid=${UNPRIVILEGED}`, `--regid=${UNPRIVILEGED}`, '--clear-groups', ...command] : command;
  return childOutput(spawn(argv[0], argv.slice(1), { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] }));
}

void t.test('without root: one line naming the subcommand once, with why and what to do; exit 1', async (t) => {
  const cases: Array<{ args: string[]; name: string; why: string }> = [
    { args: ['lab', 'up'], name: 'lab up', why: 'to create network namespaces, links and iptables rules' },
    { args: ['lab', 'down'], name: 'lab down', why: "to remove the lab's network namespaces, links and iptables rules" },
    { args: ['lab', 'exec', 'frontend', '--', 'true'], name: 'lab exec', why: "to enter the pod's network namespace as its app user" },
  ];
  for (const c of cases) {
    const res = await meshtapWithoutRoot(c.args);
    const what = `meshtap ${c.args.join(' ')}`;
    t.equal(res.code, 1, `${what}: exit 1`);
    t.equal(res.stdout, '', `${what}: nothing on stdout`);
    // Was "meshtap lab up: LAB_ERR_NOT_ROOT: lab up needs root: …", the subcommand named twice.
    t.equal(
      res.stderr,
      `meshtap ${c.name}: LAB_ERR_NOT_ROOT: needs root ${c.why}; run it with sudo ("meshtap check" lists what else the lab needs)\n`,
      `${what}: the message`,
    );
    t.equal(res.stderr.split(c.name).length - 1, 1, `${what}: "${c.name}" said once`);
  }
});

void t.test('without root, a usage error is still reported first, as one', async (t) => {
  const res = await meshtapWithoutRoot(['lab', 'up', '--timeout', 'soon']);
  t.equal(res.code, 2);
  t.equal(res.stderr, 'meshtap lab up: CLI_ERR_USAGE: --timeout must be a whole number of seconds, got "soon"\nRun "meshtap lab up --help" for its options.\n');
});
