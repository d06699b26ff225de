/**
 * What masking one record found and did: field paths replaced (`redacted`), kinds detected
 * (`sensitive`), notes for people, and the scan budget left for its bodies.
 */
import type { SensitiveKind } from './policy.ts';

export class Findings {
  readonly redacted = new Set<string>();
  readonly sensitive = new Set<string>();
  readonly notes: string[] = [];
  /** Body bytes this record may still scan. */
  budget: number;

  constructor(budget: number) {
    this.budget = budget;
  }

  add(path: string, kind: SensitiveKind, masked: boolean): void {
    this.sensitive.add(kind);
    if (masked) this.redacted.add(path);
  }

  /** A field whose value was left out or replaced whole for a reason other than a finding. */
  withheld(path: string, note: string): void {
    this.redacted.add(path);
    this.notes.push(`${path}: ${note}`);
  }
}
