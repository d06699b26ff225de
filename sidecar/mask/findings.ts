/**
 * What masking one record found and did: field paths replaced (`redacted`), kinds detected
 * (`sensitive`), notes for people, and the scan budget left for its bodies.
 */
import type { SensitiveKind } from './policy.ts';

const NONE: ReadonlySet<string> = new Set();

export class Findings {
  // Made on the first finding: most records have none, and a record is made per captured call.
  #redacted: Set<string> | undefined;
  #sensitive: Set<string> | undefined;
  readonly notes: string[] = [];
  /** Body bytes this record may still scan. */
  budget: number;

  constructor(budget: number) {
    this.budget = budget;
  }

  /** Field paths whose values were replaced, in first-seen order. */
  get redacted(): ReadonlySet<string> {
    return this.#redacted ?? NONE;
  }

  /** Kinds of data found, masked or not, in first-seen order. */
  get sensitive(): ReadonlySet<string> {
    return this.#sensitive ?? NONE;
  }

  add(path: string, kind: SensitiveKind, masked: boolean): void {
    (this.#sensitive ??= new Set()).add(kind);
    if (masked) (this.#redacted ??= new Set()).add(path);
  }

  /** A field whose value was left out or replaced whole for a reason other than a finding. */
  withheld(path: string, note: string): void {
    (this.#redacted ??= new Set()).add(path);
    this.notes.push(`${path}: ${note}`);
  }
}
