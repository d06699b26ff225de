import t from 'tap';
import { waitForSignal } from '../../lib/signals.ts';

// SIGWINCH and SIGUSR2 are harmless to the test runner; SIGUSR1 would start the inspector.
void t.test('resolves with the first signal received and keeps listening until disposed', async (t) => {
  const before = process.listenerCount('SIGWINCH');
  const beforeUsr2 = process.listenerCount('SIGUSR2');
  const wait = waitForSignal(['SIGUSR2', 'SIGWINCH']);
  t.equal(process.listenerCount('SIGWINCH'), before + 1);
  // Signal listeners do not keep the event loop alive; this timer does until the signal lands.
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  process.kill(process.pid, 'SIGWINCH');
  t.equal(await wait.promise, 'SIGWINCH');
  process.kill(process.pid, 'SIGUSR2');
  await new Promise((r) => setTimeout(r, 20));
  t.equal(await wait.promise, 'SIGWINCH', 'a later signal changes nothing');
  t.equal(process.listenerCount('SIGUSR2'), beforeUsr2 + 1, 'still absorbing signals');
  wait.dispose();
  wait.dispose();
  t.equal(process.listenerCount('SIGWINCH'), before, 'listeners removed');
  t.equal(process.listenerCount('SIGUSR2'), beforeUsr2);
});

void t.test('listens to SIGTERM and SIGINT by default', async (t) => {
  const term = process.listenerCount('SIGTERM');
  const int = process.listenerCount('SIGINT');
  const wait = waitForSignal();
  t.equal(process.listenerCount('SIGTERM'), term + 1);
  t.equal(process.listenerCount('SIGINT'), int + 1);
  process.emit('SIGINT', 'SIGINT');
  t.equal(await wait.promise, 'SIGINT');
  wait.dispose();
  t.equal(process.listenerCount('SIGTERM'), term);
  t.equal(process.listenerCount('SIGINT'), int);
});
