/**
 * XML elements that hold a secret as their text: `<password>…</password>`, a WS-Security
 * `<wsse:Password Type="…">…</wsse:Password>`, an STS answer's `<SecretAccessKey>` and
 * `<SessionToken>`. An element whose local name (its prefix dropped) is in a key family has its
 * text masked, `<password>****</password>`; a `CDATA` section as the text is masked whole, its
 * markers kept. Everything else stays byte for byte. Attributes (`password="…"`) are the text
 * pairs' (`text-pairs.ts`).
 *
 * Only elements of simple content count: text between an opening tag and its own closing tag,
 * with no element inside (a `<credentials>` wrapping elements is not masked whole; its children
 * are looked at one by one). Linear: each closing tag is found by a native search from the end
 * of the one before, the text before it is walked back no further than that one's `<`, and CDATA
 * sections are searched for forward, each stretch once.
 */
import { MASK } from './detectors.ts';
import type { Findings } from './findings.ts';
import { keyKind } from './key-kind.ts';
import type { MaskPolicy } from './policy.ts';
import { scanMeter } from './scan-meter.ts';

const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';
/** An XML name: a start character, then name characters (ASCII; a prefix is part of it). */
const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

/** True when text may hold an element of simple content: a closing tag. */
export function mayHoldXml(text: string): boolean {
  return text.includes('</');
}

/** The local name of `prefix:local`. */
function localName(name: string): string {
  const colon = name.lastIndexOf(':');
  return colon === -1 ? name : name.slice(colon + 1);
}

interface Edit {
  start: number;
  end: number;
}

/**
 * `text` with the text of every element that names a secret masked, or `text` itself. `where`:
 * the field the text is (`request.body`); findings are reported as `<where>.<local name>`.
 */
export function maskXmlElements(text: string, where: string, policy: MaskPolicy, f: Findings): string {
  if (!mayHoldXml(text)) return text;
  const edits: Edit[] = [];
  let from = 0;
  // The first CDATA section at or after `cdataFrom` (-1: none is left), searched again only once
  // the closing tags have passed it: every search starts where the last one ended.
  let cdataFrom = 0;
  let cdataNext = text.indexOf(CDATA_OPEN);
  for (;;) {
    const close = text.indexOf('</', from);
    if (close === -1) break;
    const gt = text.indexOf('>', close + 2);
    if (gt === -1) break;
    // Where the previous closing tag ended: nothing before it is looked at again.
    const previous = from;
    from = gt + 1;
    scanMeter.steps += from - previous;
    const name = text.slice(close + 2, gt).trim();
    if (!NAME.test(name)) continue;
    // The element's text: back to its opening tag (a CDATA section, which may hold `<`, is
    // searched for forward from the previous closing tag).
    const contentEnd = close;
    let cdataAt = -1;
    if (text.endsWith(CDATA_CLOSE, close)) {
      if (cdataNext !== -1 && cdataNext < previous) {
        scanMeter.steps += previous - cdataFrom;
        cdataFrom = previous;
        cdataNext = text.indexOf(CDATA_OPEN, previous);
      }
      cdataAt = cdataNext;
      if (cdataAt === -1 || cdataAt >= close) continue;
    }
    const cdata = cdataAt !== -1;
    const open = text.lastIndexOf('<', (cdata ? cdataAt : close) - 1);
    if (open === -1 || open < previous) continue;
    const openGt = text.indexOf('>', open);
    if (openGt === -1 || openGt >= close || text.charCodeAt(openGt - 1) === 47 /* / */) continue;
    const tag = text.slice(open + 1, openGt);
    const space = tag.search(/[\s/]/);
    if ((space === -1 ? tag : tag.slice(0, space)) !== name) continue;
    const contentStart = openGt + 1;
    if (contentStart >= contentEnd) continue;
    const kind = keyKind(policy, localName(name));
    if (kind === undefined) continue;
    // Only whitespace may come between the opening tag and a CDATA section.
    if (cdata && text.slice(contentStart, cdataAt).trim() !== '') continue;
    const start = cdata ? cdataAt + CDATA_OPEN.length : contentStart;
    const end = cdata ? contentEnd - CDATA_CLOSE.length : contentEnd;
    if (end <= start || text.slice(start, end).trim() === '') continue;
    f.add(`${where}.${localName(name)}`, kind, true);
    edits.push({ start, end });
  }
  if (edits.length === 0) return text;
  let out = '';
  let last = 0;
  for (const e of edits) {
    out += text.slice(last, e.start) + MASK;
    last = e.end;
  }
  return out + text.slice(last);
}
