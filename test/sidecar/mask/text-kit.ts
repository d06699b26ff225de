/** What the masking tests of text detectors share: a message around a body, its text, one text masked, a scanner's growth. */
import type { HttpMessage } from '../../../record/record.ts';
import { maskText } from '../../../sidecar/mask/detectors.ts';
import { DEFAULT_MASK_POLICY, type MaskPolicy } from '../../../sidecar/mask/policy.ts';
import { resetScanMeter, scanMeter } from '../../../sidecar/mask/scan-meter.ts';

export const message = (body: string | Buffer, contentType?: string, headers: Record<string, string> = {}, truncated = false): HttpMessage => {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  return { headers, body: bytes, body_size: bytes.length, truncated, ...(contentType === undefined ? {} : { content_type: contentType }) };
};

export const bodyOf = (m: HttpMessage | undefined): string => Buffer.from(m?.body ?? []).toString('latin1');

/** `text` through the text detectors: what comes out, and the kinds reported (`kind?` when only reported). */
export function masked(text: string, policy: MaskPolicy = DEFAULT_MASK_POLICY, formEncoded = false, cut = false): { out: string; kinds: string[] } {
  const kinds: string[] = [];
  const out = maskText(text, policy, (k, m) => kinds.push(m ? k : `${k}?`), false, formEncoded, cut);
  return { out, kinds };
}

/** Steps the scanners' meter counted for an input of `n`, and for twice the input. */
export function growth(make: (n: number) => () => unknown, n = 40_000): { small: number; large: number } {
  resetScanMeter();
  make(n)();
  const small = scanMeter.steps;
  resetScanMeter();
  make(2 * n)();
  return { small, large: scanMeter.steps };
}
