/**
 * Header fields as a record: lower-case names, repeated fields joined with ", " except
 * set-cookie (joined with "\n", since cookie values may themselves contain commas), values read
 * as UTF-8 where their octets are (`octet-text.ts`).
 */
import { octetText } from './octet-text.ts';
import type { Http1HeaderList } from './parser.ts';

export function buildHeaderRecord(list: Http1HeaderList): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < list.length; i++) {
    const [rawName, octets] = list[i];
    const value = octetText(octets);
    const name = rawName.toLowerCase();
    const prev = Object.hasOwn(out, name) ? out[name] : undefined;
    const next = prev === undefined ? value : `${prev}${name === 'set-cookie' ? '\n' : ', '}${value}`;
    // A plain assignment to "__proto__" would change the object's prototype instead; every other
    // name is a plain assignment (defining each property cost more than parsing the head).
    if (name === '__proto__') Object.defineProperty(out, name, { value: next, enumerable: true, writable: true, configurable: true });
    else out[name] = next;
  }
  return out;
}
