/** The `meshtap` process around a command: a reader that went away is not a failure, as a real process. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ignoreClosedStdout } from '../../lib/command-main.ts';

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

void t.test('any other error on stdout stays fatal', async (t) => {
  t.doesNotThrow(() => ignoreClosedStdout(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })));
  t.throws(() => ignoreClosedStdout(Object.assign(new Error('write EIO'), { code: 'EIO' })), { code: 'EIO' });
});
