/**
 * An answer's text as it streams, cut before its first stop sequence: OpenAI's answers leave the stop sequence out,
 * so text that could be the start of one is held back until the pieces after it show whether it is.
 */
export class StopSequenceFilter {
  private text = '';
  /** Characters of `text` handed out so far. */
  private sent = 0;
  private stoppedAt: number | undefined;

  constructor(private readonly stops: readonly string[]) {}

  /** Whether a stop sequence has appeared: nothing after it is handed out. */
  get stopped(): boolean {
    return this.stoppedAt !== undefined;
  }

  /** Adds a piece of generated text; returns the text now known to precede any stop sequence ('' while one may be starting). */
  push(piece: string): string {
    if (this.stopped) return '';
    this.text += piece;
    // Nothing before `sent` can start a stop sequence: it was handed out because it could not.
    const found = this.stops.map((stop) => this.text.indexOf(stop, this.sent)).filter((at) => at >= 0);
    if (found.length > 0) {
      this.stoppedAt = Math.min(...found);
      return this.take(this.stoppedAt);
    }
    return this.take(this.text.length - this.heldBack());
  }

  /** What was held back, once generation has ended without a stop sequence completing. */
  flush(): string {
    return this.stopped ? '' : this.take(this.text.length);
  }

  /** The length of the longest end of the text that begins a stop sequence (and is not yet handed out). */
  private heldBack(): number {
    const unsent = this.text.length - this.sent;
    let longest = 0;
    for (const stop of this.stops) {
      for (let length = Math.min(stop.length - 1, unsent); length > longest; length--) {
        if (this.text.endsWith(stop.slice(0, length))) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }

  private take(end: number): string {
    const piece = this.text.slice(this.sent, end);
    this.sent = end;
    return piece;
  }
}
