/** Counts checks run outside vitest, printing a line for each and, at the end, the "N passed, N failed" line. */
export class CheckTally {
  private passed = 0;
  private failed = 0;

  report(name: string, ok: boolean, detail: string): void {
    if (ok) this.passed++;
    else this.failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  }

  /** Prints the summary line; returns the exit code (1 if any check failed). */
  finish(): number {
    console.log(`${this.passed} passed, ${this.failed} failed`);
    return this.failed === 0 ? 0 : 1;
  }
}
