import t from 'tap';
import { withTimeout } from '../../lib/with-timeout.ts';

class Late extends Error {}

void t.test('a promise that settles in time passes through', async (t) => {
  t.equal(await withTimeout(Promise.resolve(42), 60_000, () => new Late('late')), 42);
  const boom = new Error('boom');
  await t.rejects(withTimeout(Promise.reject(boom), 60_000, () => new Late('late')), boom, 'its own rejection, unchanged');
});

void t.test('a promise that never settles is cut at the deadline', async (t) => {
  let made = 0;
  const never = new Promise<number>(() => {});
  await t.rejects(
    withTimeout(never, 10, () => {
      made++;
      return new Late('lookup timed out after 10 ms');
    }),
    { message: 'lookup timed out after 10 ms' },
  );
  t.equal(made, 1, 'the timeout error is made once');
});

void t.test('a result after the deadline is ignored', async (t) => {
  let settle!: (v: string) => void;
  const slow = new Promise<string>((resolve) => (settle = resolve));
  const guarded = withTimeout(slow, 5, () => new Late('deadline reached'));
  const err = await guarded.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof Late, 'the timeout error');
  settle('too late');
  t.equal(await slow, 'too late');
});

void t.test('a zero deadline still lets an already settled promise win', async (t) => {
  t.equal(await withTimeout(Promise.resolve('ready'), 0, () => new Late('late')), 'ready');
});
