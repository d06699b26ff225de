/** meshtap's version, as HAR's `creator` names it: read once from package.json (`dev` when it cannot be). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function meshtapVersion(): string {
  if (cached === undefined) {
    try {
      cached = String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'dev');
    } catch {
      cached = 'dev';
    }
  }
  return cached;
}

export const harCreator = (): { name: string; version: string } => ({ name: 'meshtap', version: meshtapVersion() });
