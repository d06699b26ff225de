/** The `meshtap` process around a command: a reader that went away is not a failure, as a real process. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ignoreClosedPipe } from '../../lib/command-main.ts';
import { commandFailure } from '../../lib/cli.ts';
import { CLI_ERR_USAGE, MeshtapError } from '../../lib/errors.ts';

const bin = fileURLToPath(new URL('../../bin/meshtap.ts', import.meta.url));

void t.test('`meshtap help | head -c0`: the reader closed before the usage was written; exit 0, nothing on stderr', async (t) => {
  const child = spawn(process.execPath, [bin, 'help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Closed at once: the process is still starting, so its one write meets a closed pipe.
  child.stdout.destroy();
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  t.equal(signal, null);
  t.equal(code, 0);
  t.equal(err, '');
});

void t.test('`meshtap nosuch 2>&1 | head -c0`: a closed stderr is not a crash either; the command\'s own exit code stands', async (t) => {
  const child = spawn(process.execPath, [bin, 'nosuch-command'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.destroy();
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  t.equal(signal, null);
  t.equal(code, 2, 'the usage error, not 1 from an uncaught EPIPE');
  t.equal(out, '');
});

async function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out, err };
}

void t.test('`meshtap` alone is a usage error on stderr; `meshtap help CMD` is CMD\'s help', async (t) => {
  const none = await run([]);
  t.equal(none.code, 2);
  t.equal(none.out, '');
  t.match(none.err, /^usage: meshtap <command>/);
  const help = await run(['help', 'tap']);
  t.equal(help.code, 0);
  t.match(help.out, /^usage: meshtap tap \[options\]/);
  const unknown = await run(['help', 'nosuch']);
  t.equal(unknown.code, 2);
  t.match(unknown.err, /unknown command "nosuch"/);
});

void t.test('any other error on stdout or stderr stays fatal', async (t) => {
  t.doesNotThrow(() => ignoreClosedPipe(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })));
  t.throws(() => ignoreClosedPipe(Object.assign(new Error('write EIO'), { code: 'EIO' })), { code: 'EIO' });
});

void t.test('a command that throws: one shape for every command, the command named once, the help pointed at after a usage error', async (t) => {
  t.equal(
    commandFailure('tap', new MeshtapError(CLI_ERR_USAGE, "meshtap tap: Option '--collector <value>' argument missing")),
    'meshtap tap: CLI_ERR_USAGE: Option \'--collector <value>\' argument missing\nRun "meshtap tap --help" for its options.\n',
  );
  t.equal(commandFailure('inject', new MeshtapError('INJ_ERR_READ', 'cannot read x')), 'meshtap inject: INJ_ERR_READ: cannot read x\n', 'no help hint for what is not a usage error');
  t.equal(commandFailure('lab', new Error('boom')), 'meshtap lab: boom\n');
  const spawned = await run(['tap', '--collector']);
  t.equal(spawned.code, 2);
  t.equal(spawned.err, 'meshtap tap: CLI_ERR_USAGE: Option \'--collector <value>\' argument missing\nRun "meshtap tap --help" for its options.\n', 'was "meshtap: CLI_ERR_USAGE: meshtap tap: …"');
});

void t.test('commands that print their own errors print them in the same shape, a subcommand named with its command', async (t) => {
  const unknown = (flag: string) => `Unknown option '${flag}'`;
  const cases: Array<{ args: string[]; name: string; message: RegExp }> = [
    // Was "meshtap init: CLI_ERR_USAGE: meshtap init: Unknown option …".
    { args: ['init', '--bogus'], name: 'init', message: new RegExp(`^${unknown('--bogus')}`) },
    // Was "CLI_ERR_USAGE: meshtap inject: …" (the code before the command).
    { args: ['inject', '--bogus'], name: 'inject', message: new RegExp(`^${unknown('--bogus')}`) },
    { args: ['inject'], name: 'inject', message: /^-f FILE or -f - \(stdin\) is required$/ },
    // Were "meshtap certs init: Unknown option …" and "meshtap lab status: …" without a code.
    { args: ['certs', 'init', '--bogus'], name: 'certs init', message: new RegExp(`^${unknown('--bogus')}`) },
    { args: ['certs', 'nosuch'], name: 'certs', message: /^unknown command "nosuch"$/ },
    // A subcommand's own checks do not name it again (was "meshtap certs init: CLI_ERR_USAGE: init: --dir is required").
    { args: ['certs', 'init'], name: 'certs init', message: /^--dir is required$/ },
    { args: ['lab', 'up', 'extra'], name: 'lab up', message: /^unexpected argument "extra"$/ },
    { args: ['lab', 'status', '--bogus'], name: 'lab status', message: new RegExp(`^${unknown('--bogus')}`) },
    { args: ['lab', 'nosuch'], name: 'lab', message: /^unknown command "nosuch" \(up, status, exec, down\)$/ },
    // parseArgs' advice about positional arguments is not for someone who mistyped a flag.
    { args: ['inject', '--imge', 'x'], name: 'inject', message: /^Unknown option '--imge'$/ },
    // A negative number: how to give it, not parseArgs' "ambiguous".
    { args: ['wait-ready', '--timeout-seconds', '-1'], name: 'wait-ready', message: /^--timeout-seconds got a value starting with '-': give it as --timeout-seconds=VALUE/ },
    // Was the message, a blank line and the whole usage.
    { args: ['webhook', '--bogus'], name: 'webhook', message: new RegExp(`^${unknown('--bogus')}$`) },
  ];
  for (const c of cases) {
    const res = await run(c.args);
    const what = `meshtap ${c.args.join(' ')}`;
    t.equal(res.code, 2, `${what}: exit 2`);
    const lines = res.err.split('\n');
    const prefix = `meshtap ${c.name}: CLI_ERR_USAGE: `;
    t.ok(lines[0].startsWith(prefix), `${what}: "${lines[0]}" starts with "${prefix}"`);
    t.match(lines[0].slice(prefix.length), c.message, `${what}: the message`);
    t.equal(lines[0].split('meshtap ').length - 1, 1, `${what}: the command named once`);
    t.same(lines.slice(1), [`Run "meshtap ${c.name} --help" for its options.`, ''], `${what}: then where the options are, and nothing else`);
  }
});
