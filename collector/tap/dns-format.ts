/**
 * What a DNS record's `meshtap tap` line says after its question: the answers' data
 * (`→ 10.96.0.12, 10.96.0.13`, `→ 0 100 8080 catalog.shop.svc.cluster.local`), or the response
 * code when the name did not resolve (`→ NXDOMAIN`), or the record's error (`→ error=timeout`).
 * The answers come from the response body the sidecar's DNS capture writes
 * (`{"rcode", "answers": [{"name","type","ttl","data"}], …}`); a body that does not parse shows
 * the rcode alone.
 */
import { dnsAnswerText } from '../../record/dns-answer.ts';
import type { CallRecordJson } from '../../record/record-json.ts';

export type DnsOutcomeClass = 'ok' | 'client-error' | 'error';

export interface DnsOutcome {
  text: string;
  cls: DnsOutcomeClass;
}

/** Answers shown before `…` (a response may hold hundreds). */
const MAX_SHOWN = 4;
const MAX_CHARS = 96;

function answerData(r: CallRecordJson): string[] {
  const body = r.response?.body;
  if (body === undefined || !('text' in body)) return [];
  try {
    const answers = (JSON.parse(body.text) as { answers?: unknown }).answers;
    if (!Array.isArray(answers)) return [];
    return answers.map((a) => dnsAnswerText((a as { data?: unknown } | null)?.data)).filter((d): d is string => d !== undefined);
  } catch {
    return [];
  }
}

export function dnsOutcome(r: CallRecordJson): DnsOutcome {
  if (r.error !== undefined) return { text: `→ error=${r.error}`, cls: 'error' };
  const rcode = r.dns_rcode ?? 'NOERROR';
  // A name that does not exist is the asker's mistake (yellow, like a 4xx); a failing server is red.
  if (rcode !== 'NOERROR') return { text: `→ ${rcode}`, cls: rcode === 'NXDOMAIN' ? 'client-error' : 'error' };
  const data = answerData(r);
  if (data.length === 0) return { text: '→ NOERROR (no answers)', cls: 'ok' };
  let text = data.slice(0, MAX_SHOWN).join(', ');
  if (data.length > MAX_SHOWN) text += `, … (${data.length})`;
  if (text.length > MAX_CHARS) text = `${text.slice(0, MAX_CHARS)}…`;
  return { text: `→ ${text}`, cls: 'ok' };
}
