import t from 'tap';
import { armExitDeadline } from '../../lib/exit-deadline.ts';

void t.test('the deadline forces the exit with a logged reason; disarm cancels it', async (t) => {
  const exits: number[] = [];
  const logs: string[] = [];
  armExitDeadline({ ms: 20, log: (m) => logs.push(m), exit: (c) => exits.push(c), secondSignal: false });
  const kept = armExitDeadline({ ms: 20, log: (m) => logs.push(m), exit: (c) => exits.push(c + 100), secondSignal: false });
  kept.disarm();
  await new Promise((r) => setTimeout(r, 80));
  t.same(exits, [1], 'only the armed deadline fired');
  t.match(logs, [/shutdown deadline reached/]);
});

void t.test('a second signal exits at once', async (t) => {
  const exits: number[] = [];
  const d = armExitDeadline({ ms: 60_000, log: () => {}, exit: (c) => exits.push(c), code: 3 });
  t.teardown(() => d.disarm());
  process.emit('SIGTERM', 'SIGTERM');
  t.same(exits, [3]);
});
