/** The shared flag parsers: an absent flag gets its default, an empty one is a usage error naming it, an unknown one the option it most likely meant. */
import t from 'tap';
import { CLI_ERR_USAGE, flagValue, parseCommandArgs, parsePort, usageProblems } from '../../lib/cli.ts';
import { MeshtapError } from '../../lib/errors.ts';
import { commandPort } from '../../lib/server-flags.ts';
import { parseWebhookArgs } from '../../webhook/cli.ts';

const usage = (message: string | RegExp) => ({ code: 'CLI_ERR_USAGE', message });

void t.test('parsePort: absent gets the fallback, empty is an error, not the fallback', async (t) => {
  t.equal(parsePort('--grpc-port', undefined, 9400), 9400, 'absent: the default');
  t.equal(parsePort('--grpc-port', '0', 9400), 0);
  t.equal(parsePort('--grpc-port', ' 65535 ', 9400), 65535);
  t.throws(() => parsePort('--grpc-port', '', 9400), usage('--grpc-port needs a value (a port number 0-65535), got ""'));
  t.throws(() => parsePort('--grpc-port', '  ', 9400), usage(/^--grpc-port needs a value/));
  t.throws(() => parsePort('--port', '', undefined), usage(/^--port needs a value/), 'no fallback: still "needs a value"');
  t.throws(() => parsePort('--port', undefined), usage(/^--port is required/));
  t.throws(() => parsePort('--port', '65536', 1), usage('--port must be a port number 0-65535, got "65536"'));
  t.throws(() => parsePort('--port', '1e3', 1), usage(/got "1e3"/));
});

void t.test('parsePort with allowZero: false: 0 is refused, the range says 1-65535', async (t) => {
  t.equal(parsePort('--pod-port', '1', 8080, { allowZero: false }), 1);
  t.equal(parsePort('--pod-port', undefined, 8080, { allowZero: false }), 8080);
  t.throws(() => parsePort('--pod-port', '0', 8080, { allowZero: false }), usage('--pod-port must be a port number 1-65535, got "0"'));
  t.throws(() => parsePort('--pod-port', '', 8080, { allowZero: false }), usage('--pod-port needs a value (a port number 1-65535), got ""'));
});

void t.test('flagValue: absent stays absent, empty or blank is an error naming the flag', async (t) => {
  t.equal(flagValue('--namespace', undefined, 'a namespace'), undefined);
  t.equal(flagValue('--namespace', 'shop', 'a namespace'), 'shop');
  t.throws(() => flagValue('--namespace', '', 'a namespace'), usage('--namespace needs a value (a namespace), got ""'));
  t.throws(() => flagValue('--namespace', ' \t', 'a namespace'), usage(/--namespace needs a value/));
});

void t.test('commands that share parsePort: `webhook --port \'\'` and the controller\'s ports are usage errors', async (t) => {
  t.throws(() => commandPort('controller', '--grpc-port', '', 9443), usage('meshtap controller: --grpc-port needs a value (a port number 0-65535), got ""'));
  t.equal(commandPort('controller', '--grpc-port', undefined, 9443), 9443, 'absent: the default');
  t.throws(() => parseWebhookArgs(['--cert-dir', '/d', '--port', '']), usage(/^meshtap webhook: --port needs a value/));
  t.match(parseWebhookArgs(['--cert-dir', '/d']), { port: 9443 }, 'absent: the default');
});

void t.test('parseCommandArgs: an unknown option names the one it most likely meant', async (t) => {
  const options = {
    filter: { type: 'string', short: 'f' },
    namespace: { type: 'string', short: 'n' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    'join-wait': { type: 'string' },
    collector: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  const said = (argv: string[], allowPositionals = false): string | undefined => {
    try {
      parseCommandArgs(argv, options, allowPositionals);
    } catch (err) {
      t.match(err, { code: 'CLI_ERR_USAGE' });
      return (err as Error).message;
    }
    return undefined;
  };
  const refused = (argv: string[], message: string) => t.equal(said(argv), message, argv.join(' '));
  // A misspelt long option, in any case, with or without its value attached.
  refused(['--fliter', 'http'], "Unknown option '--fliter' (did you mean '--filter'?)");
  refused(['--fliter=http'], "Unknown option '--fliter' (did you mean '--filter'?)");
  refused(['--Filter', 'http'], "Unknown option '--Filter' (did you mean '--filter'?)");
  refused(['--colector', 'http://c'], "Unknown option '--colector' (did you mean '--collector'?)");
  refused(['--jsno'], "Unknown option '--jsno' (did you mean '--json'?)");
  // The start of exactly one option's name; a short option's letter after two dashes.
  refused(['--lim', '5'], "Unknown option '--lim' (did you mean '--limit'?)");
  refused(['--f', 'http'], "Unknown option '--f' (did you mean '--filter'?)");
  // Short options: the letter in the other case; a long option written with one dash.
  refused(['-F', 'http'], "Unknown option '-F' (did you mean '-f'?)");
  refused(['-limit', '5'], "Unknown option '-l' (did you mean '--limit'?)");
  refused(['-colector', 'x'], "Unknown option '-c' (did you mean '--collector'?)");
  // No guess where nothing is near: any letter is one edit from any other, and both --json and --join-wait start with j.
  refused(['--bogus'], "Unknown option '--bogus'");
  refused(['-x'], "Unknown option '-x'");
  refused(['-j'], "Unknown option '-j'");
  refused(['--x'], "Unknown option '--x'");
  // parseArgs' advice about positional arguments stays out, with or without a guess.
  t.equal(said(['--fliter', 'x'], true), "Unknown option '--fliter' (did you mean '--filter'?)");
  // What follows `--` is not an option: no guess from it.
  t.equal(said(['-x', '--', '-xlimit'], true), "Unknown option '-x'");
  t.same(parseCommandArgs(['-f', 'http', '--limit', '5'], options).values, { filter: 'http', limit: '5' }, 'known options still parse');
});

void t.test('parseCommandArgs: a value starting with \'-\' gets the command\'s own answer, else how to give it', async (t) => {
  const options = { since: { type: 'string', short: 's' }, limit: { type: 'string' } } as const;
  const asked: Array<[string, string]> = [];
  const advice = (flag: string, value: string): string | undefined => {
    asked.push([flag, value]);
    return value === '-5m' ? `${flag} ${value} is negative` : undefined;
  };
  const said = (argv: string[]): string | undefined => {
    try {
      parseCommandArgs(argv, options, false, advice);
    } catch (err) {
      t.match(err, { code: 'CLI_ERR_USAGE' });
      return (err as Error).message;
    }
    return undefined;
  };
  t.equal(said(['--since', '-5m']), '--since -5m is negative');
  t.equal(said(['--limit', '5', '-s', '-5m']), '--since -5m is negative', 'a short flag is named by its long name');
  t.equal(said(['--limit', '-3']), "--limit got a value starting with '-': give it as --limit=VALUE (a flag's value that starts with '-' is read as another flag otherwise)");
  t.same(asked.at(-1), ['--limit', '-3']);
});

void t.test('usageProblems gathers usage errors (less the prefix) and throws anything else', async (t) => {
  const { problems, check } = usageProblems('meshtap x: ');
  t.equal(check(() => 42), 42, 'a check that passes gives its value');
  t.equal(check(() => flagValue('--a', '', 'a name')), undefined);
  t.equal(check(() => { throw new MeshtapError(CLI_ERR_USAGE, 'meshtap x: --b is bad'); }), undefined);
  t.same(problems, ['--a needs a value (a name), got ""', '--b is bad'], 'both, in order, the prefix cut');
  t.throws(() => check(() => { throw new Error('not a usage error'); }), { message: 'not a usage error' });
  t.equal(problems.length, 2);
});
