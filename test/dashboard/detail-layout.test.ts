/**
 * The call detail's layout in Debian's Chromium, beside the list at 1280 px and alone at 700 px:
 * a 3000-character URL leaves the cards in sight (its head stays small, the whole path still
 * there), a binary body's hex dump never wraps, and an identity wraps only after a `/`.
 */
import t from 'tap';
import { openBrowser, startDashboardBackend, type BrowserSession, type DashboardBackend } from './harness.ts';
import { ep, observation } from './observation.ts';

const longPath = `/api/v1/search?q=${'mesh'.repeat(500)}&page=${'9'.repeat(980)}`;
const bytes = Uint8Array.from({ length: 200 }, (_, i) => (i * 37) % 256);
const IDENTITY = 'spiffe://cluster.local/ns/shop/sa/checkout-frontend-service-account';
const records = [
  observation('long-o0', 'outbound', 'long', 0, 0, [100, 900, 1_000], { method: 'GET', path: longPath }),
  observation('bin-o0', 'outbound', 'bin', 0, 10, [100, 900, 1_000], {
    path: '/image',
    src: { ...ep('checkout-frontend', '10.244.0.9', 41000), identity: IDENTITY },
    response: { headers: { 'content-type': 'application/octet-stream' }, body: bytes, body_size: bytes.length, truncated: false, content_type: 'application/octet-stream' },
  }),
];

let backend: DashboardBackend;
let session: BrowserSession;

t.before(async () => {
  backend = await startDashboardBackend();
  await backend.feed(records);
  session = await openBrowser({ width: 1280, height: 800 });
});

t.teardown(async () => {
  await session?.close();
  await backend?.close();
});

async function open(id: string, width: number) {
  const { page } = session;
  await page.setViewportSize({ width, height: 800 });
  await page.goto(`${backend.baseUrl}#/calls/${id}`);
  const detail = page.locator('aside.detail');
  await detail.locator('section[aria-label="Timing"]').waitFor();
  return detail;
}

for (const width of [1280, 700]) {
  void t.test(`${width} px: a 3000-character URL keeps the detail's head small and the cards in sight`, async (t) => {
    const detail = await open('long-o0', width);
    const boxes = await detail.evaluate((aside) => {
      const box = (sel: string) => aside.querySelector(sel)!.getBoundingClientRect();
      const path = aside.querySelector('.detail-title .path')!;
      return {
        panel: aside.getBoundingClientRect(),
        head: box('.detail-head'),
        card: box('.detail-body > .card'),
        path: { text: path.textContent, title: path.getAttribute('title'), scrolls: path.scrollHeight > path.clientHeight },
      };
    });
    t.ok(boxes.head.height <= boxes.panel.height / 5, `the head is ${Math.round(boxes.head.height)} of ${Math.round(boxes.panel.height)} px`);
    t.ok(boxes.card.top < boxes.panel.bottom - 100, 'the first card is in sight');
    t.equal(boxes.path.text, longPath, 'the whole path is there');
    t.equal(boxes.path.title, longPath, 'and in its title');
    t.ok(boxes.path.scrolls, 'the rest of it scrolls');
    await session.screenshot(`detail-long-url-${width}`);
  });
}

void t.test('a binary body: the hex dump scrolls sideways, no line wraps', async (t) => {
  const detail = await open('bin-o0', 1280);
  const dump = await detail.locator('section[data-side="response"] pre.body').evaluate((pre) => {
    const style = (globalThis as any).getComputedStyle(pre);
    return {
      kind: pre.getAttribute('data-kind'),
      lines: (pre.textContent ?? '').split('\n').length,
      lineHeight: parseFloat(style.lineHeight),
      content: pre.scrollHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom),
      scrolls: pre.scrollWidth > pre.clientWidth,
    };
  });
  t.equal(dump.kind, 'binary');
  t.ok(dump.content <= dump.lines * dump.lineHeight + 1, `${dump.lines} lines take ${dump.content} px at ${dump.lineHeight} px a line`);
  t.ok(dump.scrolls, 'wider than the panel: it scrolls');
});

void t.test('an identity wraps after a / only', async (t) => {
  const detail = await open('bin-o0', 1280);
  const cell = detail.locator('section[aria-label="Identities"] tr[data-row="identity"] td').first();
  t.equal(await cell.textContent(), IDENTITY);
  // The text of each line the cell is drawn on, from where each character is.
  const lines = await cell.evaluate((td) => {
    const g = globalThis as any;
    const walker = g.document.createTreeWalker(td, 4);
    const out: string[] = [];
    let lastTop: number | undefined;
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (let i = 0; i < node.data.length; i++) {
        const range = g.document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const top = Math.round(range.getBoundingClientRect().top);
        if (top !== lastTop) out.push('');
        lastTop = top;
        out[out.length - 1] += node.data[i];
      }
    }
    return out;
  });
  t.ok(lines.length > 1, `it wraps: ${JSON.stringify(lines)}`);
  for (const line of lines.slice(0, -1)) t.match(line, /[^/]\/$|:\/\/$/, `"${line}" ends at a /`);
  t.equal(lines.join(''), IDENTITY);
});
