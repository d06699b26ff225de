/**
 * `MESHTAP_*` variables a command does not read: each named in a warning with the closest one it
 * does when that looks like a typo, so a misspelt setting is not silently left at its default.
 * Shared by the sidecar and init, which read different variables. Pure.
 */
import { closestMatch } from './edit-distance.ts';

/** The closest known variable to a misspelt one, if any is close enough to be a likely typo. */
export function suggestVariable(name: string, known: readonly string[]): string | undefined {
  return closestMatch(name, known, { maxDistance: Math.max(2, Math.floor(name.length / 4)) });
}

/** One warning per `MESHTAP_*` variable in `env` that is not in `known`, sorted by name. */
export function unknownVariableWarnings(env: Readonly<Record<string, string | undefined>>, known: readonly string[]): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith('MESHTAP_') && !known.includes(name))
    .sort()
    .map((name) => {
      const hint = suggestVariable(name, known);
      return `unknown variable ${name} is ignored${hint ? ` (did you mean ${hint}?)` : ''}`;
    });
}
