import { CA_ERR_BAD_PEM, tlsError } from './errors.ts';

export interface PemBlock {
  label: string;
  /** The block itself, BEGIN to END line, without surrounding text. */
  pem: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\s]*?)-----END ([A-Z0-9 ]+)-----/g;

/**
 * The PEM blocks of a text, in order. Text between blocks (openssl's human-readable dump,
 * comments) is allowed, as every PEM reader allows it; a BEGIN without its END is not, since it
 * means the file was cut short.
 */
export function splitPem(text: string, source = 'PEM text'): PemBlock[] {
  const blocks: PemBlock[] = [];
  let consumed = 0;
  for (const m of text.matchAll(BLOCK)) {
    if (m[1] !== m[3]) {
      throw tlsError(CA_ERR_BAD_PEM, `${source}: block "BEGIN ${m[1]}" ends with "END ${m[3]}"`);
    }
    blocks.push({ label: m[1], pem: m[0] });
    consumed = (m.index ?? 0) + m[0].length;
  }
  if (text.indexOf('-----BEGIN ', consumed) >= 0) {
    throw tlsError(CA_ERR_BAD_PEM, `${source}: a PEM block has no matching END line (file truncated?)`);
  }
  return blocks;
}
