import t from 'tap';
import { createOpaqueSession } from '../../../sidecar/capture/opaque.ts';
import type { CaptureSession } from '../../../sidecar/capture/session.ts';
import type { UpgradeInfo } from '../../../sidecar/http1/upgrade.ts';
import { plain, runSession, type Step } from './harness.ts';

const upgradeReq = 'GET /chat HTTP/1.1\r\nHost: shop\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n';
const switched = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n';

/** A stand-in parser for the new protocol: one exchange per close, echoing what it was fed. */
function recorder(seen: UpgradeInfo[], fed: string[]) {
  return (ctx: Parameters<typeof createOpaqueSession>[0], info: UpgradeInfo): CaptureSession => {
    seen.push(info);
    const inner = createOpaqueSession(ctx, 'http2', { ordinal: 0 });
    return {
      ...inner,
      clientData(chunk, now) {
        fed.push(`c:${Buffer.from(chunk).toString('latin1')}`);
        inner.clientData(chunk, now);
      },
      serverData(chunk, now) {
        fed.push(`s:${Buffer.from(chunk).toString('latin1')}`);
        inner.serverData(chunk, now);
      },
    };
  };
}

void t.test('a 101 hands the rest of the connection to the injected parser, held client bytes first, ordinals after HTTP/1 ones', async (t) => {
  const seen: UpgradeInfo[] = [];
  const fed: string[] = [];
  const steps: Step[] = [
    { c: 'GET /a HTTP/1.1\r\nHost: shop\r\n\r\n' },
    { s: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' },
    { c: upgradeReq },
    { c: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' },
    { s: `${switched}FRAME` },
    { c: 'more' },
    { close: 'fin' },
  ];
  const { exchanges } = runSession(steps, new Map(), 1024, { upgradeSession: recorder(seen, fed) });
  t.equal(seen.length, 1);
  t.match(seen[0], { protocol: 'h2c', request: { method: 'GET', path: '/chat', authority: 'shop', headers: { 'http2-settings': 'AAMAAABkAAQAoAAAAAIAAAAA' } }, responseHeaders: { upgrade: 'h2c' } });
  t.same(fed, ['c:PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 's:FRAME', 'c:more'], 'the held preface first, then the bytes after the 101 on both sides');
  t.same(
    exchanges.map((e) => [e.protocol, e.ordinal, e.status_code]),
    [
      ['http', 0, 200],
      ['http', 1, 101],
      ['http2', 2, undefined],
    ],
    'the new protocol numbers its exchanges after the HTTP/1 ones',
  );
});

void t.test('a factory that declines (or throws) leaves the connection opaque as before', async (t) => {
  const steps: Step[] = [{ c: upgradeReq }, { s: switched }, { c: 'xyz' }, { close: 'fin' }];
  const declined = runSession(steps, new Map(), 1024, { upgradeSession: () => undefined });
  const threw = runSession(steps, new Map(), 1024, {
    upgradeSession: () => {
      throw new Error('boom');
    },
  });
  const none = runSession(steps, new Map(), 1024);
  t.same(plain(declined), plain(none));
  t.same(plain(threw), plain(none));
  t.same(none.exchanges.map((e) => e.protocol), ['http', 'tcp']);
});
