/** The `meshtap` process around a command: a reader that went away is not a failure, as a real process. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { ignoreClosedPipe } from '../../lib/command-main.ts';
import { asksForHelp, commandFailure, failureExitCode, reportFailure, unknownCommand } from '../../lib/cli.ts';
import { CLI_ERR_USAGE, MeshtapError, cliErrors } from '../../lib/errors.ts';

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
  t.equal(unknown.err, 'meshtap: CLI_ERR_USAGE: unknown command "nosuch"\nRun "meshtap --help" for the commands.\n');
});

void t.test('an unknown command is a usage error in the common shape, with the nearest command when it looks like a typo', async (t) => {
  // Was "meshtap: unknown command "nosuch"", a blank line and the whole usage.
  const cases: Array<{ args: string[]; line: string }> = [
    { args: ['nosuch'], line: 'unknown command "nosuch"' },
    { args: ['tpa'], line: 'unknown command "tpa" (did you mean "tap"?)' },
    { args: ['colector', '--help'], line: 'unknown command "colector" (did you mean "collector"?)' },
    { args: ['ls'], line: 'unknown command "ls"' },
    // A name every object has is not a command either (was a crash: "command.load is not a function").
    { args: ['constructor'], line: 'unknown command "constructor"' },
    { args: ['--verison'], line: "Unknown option '--verison' (did you mean '--version'?)" },
    { args: ['--bogus'], line: "Unknown option '--bogus'" },
  ];
  for (const c of cases) {
    const res = await run(c.args);
    const what = `meshtap ${c.args.join(' ')}`;
    t.equal(res.code, 2, `${what}: exit 2`);
    t.equal(res.out, '', `${what}: nothing on stdout`);
    t.equal(res.err, `meshtap: CLI_ERR_USAGE: ${c.line}\nRun "meshtap --help" for the commands.\n`, `${what}: the error, then where the commands are`);
  }
});

void t.test('meshtap --version and -V print the version in package.json, and the help lists them', async (t) => {
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.match(version, /^\d+\.\d+\.\d+/);
  for (const flag of ['--version', '-V']) {
    const res = await run([flag]);
    t.equal(res.code, 0, flag);
    t.equal(res.out, `meshtap ${version}\n`, flag);
    t.equal(res.err, '', flag);
  }
  const help = await run(['--help']);
  t.match(help.out, /^ {2}-V, --version {2}print meshtap's version$/m);
  t.match(help.out, /^ {2}-h, --help {5}show this help$/m);
});

void t.test('one exit-code rule: a usage error (or one a command marks as such) exits 2, anything else 1', async (t) => {
  t.equal(failureExitCode(new MeshtapError(CLI_ERR_USAGE, 'x')), 2);
  t.equal(failureExitCode(new MeshtapError('INJ_ERR_READ', 'x')), 1);
  t.equal(failureExitCode(new MeshtapError('SC_ERR_CONFIG', 'x'), true), 2, 'marked as a usage error');
  t.equal(failureExitCode(new Error('boom')), 1);
  t.equal(failureExitCode('boom'), 1);
  t.equal(failureExitCode(new MeshtapError(CLI_ERR_USAGE, 'x')), cliErrors.exitCode(CLI_ERR_USAGE), 'the status the catalog declares');
  let written = '';
  const stderr = new PassThrough().on('data', (d: Buffer) => (written += d.toString()));
  t.equal(reportFailure(stderr, 'certs init', new MeshtapError(CLI_ERR_USAGE, '--dir is required')), 2);
  t.equal(written, 'meshtap certs init: CLI_ERR_USAGE: --dir is required\nRun "meshtap certs init --help" for its options.\n');
  written = '';
  t.equal(reportFailure(stderr, 'lab up', new MeshtapError('LAB_ERR_NOT_UP', 'no lab is up')), 1);
  t.equal(written, 'meshtap lab up: LAB_ERR_NOT_UP: no lab is up\n');
  t.equal(commandFailure('', new MeshtapError(CLI_ERR_USAGE, 'unknown command "x"')), 'meshtap: CLI_ERR_USAGE: unknown command "x"\nRun "meshtap --help" for the commands.\n', 'meshtap itself');
});

void t.test('unknownCommand: the nearest name for a typo, the names when they are few, nothing for a long list', async (t) => {
  const usage = (message: string) => ({ code: CLI_ERR_USAGE, message });
  t.match(unknownCommand('stauts', ['up', 'status', 'exec', 'down']), usage('unknown command "stauts" (did you mean "status"?)'));
  t.match(unknownCommand('nosuch', ['up', 'status', 'exec', 'down']), usage('unknown command "nosuch" (up, status, exec, down)'));
  t.match(unknownCommand('nosuch', ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7']), usage('unknown command "nosuch"'));
  t.match(unknownCommand('ab', ['lab', 'tap']), usage('unknown command "ab" (did you mean "lab"?)'));
  t.match(unknownCommand('--hepl', ['up']), usage("Unknown option '--hepl' (did you mean '--help'?)"));
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
    { args: ['certs', 'nosuch'], name: 'certs', message: /^unknown command "nosuch" \(init, inspect\)$/ },
    { args: ['certs', 'inti'], name: 'certs', message: /^unknown command "inti" \(did you mean "init"\?\)$/ },
    { args: ['certs', 'help', 'nosuch'], name: 'certs', message: /^unknown command "nosuch" \(init, inspect\)$/ },
    // A subcommand's own checks do not name it again (was "meshtap certs init: CLI_ERR_USAGE: init: --dir is required").
    { args: ['certs', 'init'], name: 'certs init', message: /^--dir is required$/ },
    // Given but empty: "needs a value", as every flag says (was "--dir is required").
    { args: ['certs', 'init', '--dir', ''], name: 'certs init', message: /^--dir needs a value \(the output directory\), got ""$/ },
    { args: ['lab', 'up', 'extra'], name: 'lab up', message: /^unexpected argument "extra"$/ },
    { args: ['lab', 'status', '--bogus'], name: 'lab status', message: new RegExp(`^${unknown('--bogus')}`) },
    { args: ['lab', 'nosuch'], name: 'lab', message: /^unknown command "nosuch" \(up, status, exec, down\)$/ },
    { args: ['lab', 'stauts'], name: 'lab', message: /^unknown command "stauts" \(did you mean "status"\?\)$/ },
    { args: ['lab', '--bogus'], name: 'lab', message: /^Unknown option '--bogus'$/ },
    // parseArgs' advice about positional arguments is not for someone who mistyped a flag; the flag meant is.
    { args: ['inject', '--imge', 'x'], name: 'inject', message: /^Unknown option '--imge' \(did you mean '--image'\?\)$/ },
    { args: ['tap', '--fliter', 'http'], name: 'tap', message: /^Unknown option '--fliter' \(did you mean '--filter'\?\)$/ },
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

void t.test("a subcommand's --help, -h and `help SUB` print that subcommand's own usage, not its command's", async (t) => {
  const cases: Array<{ args: string[]; usage: string }> = [
    { args: ['certs', 'init', '--help'], usage: 'usage: meshtap certs init --dir DIR' },
    { args: ['certs', 'inspect', '-h'], usage: 'usage: meshtap certs inspect FILE' },
    { args: ['certs', 'help', 'init'], usage: 'usage: meshtap certs init --dir DIR' },
    // After the options too: help wins over checking them.
    { args: ['certs', 'init', '--dir', '', '--help'], usage: 'usage: meshtap certs init --dir DIR' },
    { args: ['lab', 'up', '--help'], usage: 'usage: meshtap lab up [--scenario NAME|DIR]' },
    { args: ['lab', 'status', '-h'], usage: 'usage: meshtap lab status [--json]' },
    { args: ['lab', 'exec', 'frontend', '--help'], usage: 'usage: meshtap lab exec POD -- CMD' },
    { args: ['lab', 'down', '--help'], usage: 'usage: meshtap lab down' },
    { args: ['lab', 'help', 'up'], usage: 'usage: meshtap lab up [--scenario NAME|DIR]' },
  ];
  for (const c of cases) {
    const res = await run(c.args);
    const what = `meshtap ${c.args.join(' ')}`;
    t.equal(res.code, 0, `${what}: exit 0`);
    t.equal(res.err, '', `${what}: nothing on stderr`);
    t.ok(res.out.startsWith(c.usage), `${what}: starts with "${c.usage}"`);
    t.match(res.out, /^options:$/m, `${what}: lists its options`);
    t.notMatch(res.out, /<command>/, `${what}: not its command's help`);
  }
  // The options of `lab up`, each with its default.
  const up = await run(['lab', 'up', '--help']);
  for (const option of [/--scenario NAME\|DIR .*\n.*default shop/, /--foreground /, /--grpc-port P .*default 9400/, /--http-port P .*default 8080/, /--timeout SECONDS .*default 90/]) {
    t.match(up.out, option);
  }
  // A -h after `--` is the command's, not exec's (`lab exec POD -- ls -h` runs `ls -h`).
  t.equal(asksForHelp(['frontend', '--help', '--', 'ls']), true);
  t.equal(asksForHelp(['frontend', '--', 'ls', '-h']), false);
  // The command's own help stays where it was.
  for (const args of [['lab', '--help'], ['lab', 'help'], ['certs', '-h'], ['certs', 'help']]) {
    const res = await run(args);
    t.equal(res.code, 0, args.join(' '));
    t.ok(res.out.startsWith(`usage: meshtap ${args[0]} <command> [options]`), `meshtap ${args.join(' ')}: the command's help`);
    t.match(res.out, new RegExp(`Run "meshtap ${args[0]} <command> --help" for a command's options\\.`));
  }
});

void t.test('a command of subcommands given none is a usage error as `meshtap` alone: its help on stderr, exit 2', async (t) => {
  const alone = await run([]);
  for (const command of ['lab', 'certs']) {
    const res = await run([command]);
    t.equal(res.code, alone.code, `meshtap ${command}: exit ${String(alone.code)}, as meshtap alone`);
    t.equal(res.out, '', `meshtap ${command}: nothing on stdout`);
    t.equal(res.err, (await run([command, '--help'])).out, `meshtap ${command}: its --help, on stderr`);
  }
  t.equal(alone.err, (await run(['--help'])).out, 'meshtap alone: its --help, on stderr');
});
