/**
 * One note for the bytes of a result's rows (or copy data) that passed unseen because capture
 * fell behind forwarding, however many of them a gap took: a burst that skips thousands of
 * rows must not make a record of thousands of notes.
 */
export class SkippedNote {
  private messages = 0;
  private bytes = 0;
  /** Where the note is in the notes it was added to (-1: not yet added). */
  private at = -1;
  private readonly where: string;
  private readonly unit: string;

  /** `where`: the record field (`response.body`); `unit`: what was skipped, singular (`row`). */
  constructor(where: string, unit: string) {
    this.where = where;
    this.unit = unit;
  }

  /** Counts one more message of which `bytes` were not captured, and updates the note in `notes`. */
  add(notes: string[], bytes: number): void {
    this.messages++;
    this.bytes += bytes;
    const n = this.messages;
    const note = `${this.where}: ${this.bytes} bytes not captured in ${n} ${this.unit}${n === 1 ? '' : 's'} (capture fell behind forwarding)`;
    if (this.at < 0 || notes[this.at] === undefined) {
      this.at = notes.length;
      notes.push(note);
    } else notes[this.at] = note;
  }
}
