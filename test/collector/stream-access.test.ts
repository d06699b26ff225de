/** Live streams held to their credentials: a session that ends or a token refused on a recheck closes its streams. */
import { EventEmitter } from 'node:events';
import t from 'tap';
import type { AccessControl, AuthResult } from '../../collector/auth/access.ts';
import { createStreamAccessGuard } from '../../collector/stream-access.ts';
import type { StreamClient } from '../../collector/stream.ts';
import { silentLogger } from '../../lib/log.ts';

function client(): StreamClient & { closed: boolean; res: EventEmitter } {
  const res = new EventEmitter();
  const c = {
    closed: false,
    res,
    stats: () => ({ sent: 0, dropped: 0, queued: 0 }) as unknown as ReturnType<StreamClient['stats']>,
    close() {
      c.closed = true;
      res.emit('close');
    },
  };
  return c;
}

void t.test('recheck: a token refused (401) closes its streams; an access check that cannot be made (503) keeps them', async (t) => {
  const answers: Record<string, AuthResult> = {
    good: { ok: true, viewer: { name: 'v', all: true } as never },
    revoked: { ok: false, status: 401, message: 'the bearer token is not valid' },
    unsure: { ok: false, status: 503, message: 'cannot verify the token now' },
  };
  const access: AccessControl = { mode: 'token', authenticate: async (token) => answers[token ?? ''] ?? answers.revoked } as AccessControl;
  const sessions = new Map([['s1', 'good'], ['s2', 'revoked']]);
  const guard = createStreamAccessGuard({ access, sessionToken: (id) => sessions.get(id), log: silentLogger, recheckMs: 3_600_000 });
  t.teardown(() => guard.stop());
  const [good, revoked, unsure, s1, s2, gone] = [client(), client(), client(), client(), client(), client()];
  guard.track(good, { token: 'good' }, good.res);
  guard.track(revoked, { token: 'revoked' }, revoked.res);
  guard.track(unsure, { token: 'unsure' }, unsure.res);
  guard.track(s1, { sessionId: 's1' }, s1.res);
  guard.track(s2, { sessionId: 's2' }, s2.res);
  guard.track(gone, { sessionId: 's3' }, gone.res);
  t.equal(await guard.recheck(), 3);
  t.same([good, revoked, unsure, s1, s2, gone].map((c) => c.closed), [false, true, false, false, true, true], 'the revoked token, the session whose token is refused, the session that ended');
  t.equal(guard.size(), 3);
  t.equal(guard.endSession('s1'), 1);
  t.equal(s1.closed, true, 'signing out closes at once');
  good.res.emit('close');
  t.equal(guard.size(), 1, 'a stream the client closed is no longer followed');
});

void t.test('the recheck runs on its timer', async (t) => {
  let allowed = true;
  const access = { mode: 'token', authenticate: async () => (allowed ? { ok: true, viewer: {} } : { ok: false, status: 401, message: 'no' }) } as unknown as AccessControl;
  const guard = createStreamAccessGuard({ access, sessionToken: () => undefined, log: silentLogger, recheckMs: 20 });
  t.teardown(() => guard.stop());
  const c = client();
  guard.track(c, { token: 't' }, c.res);
  await new Promise((r) => setTimeout(r, 80));
  t.equal(c.closed, false);
  allowed = false;
  const deadline = Date.now() + 2000;
  while (!c.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(c.closed, true, 'closed once its token is refused');
});
