/**
 * A one-line progress bar for long runs (`simulate`): drawn on a terminal only, only once the run
 * has taken more than {@link PROGRESS_DELAY_MS} of wall time, redrawn in place with `\r`, and
 * erased at the end so the terminal (and anything piped from stdout) is left clean. Time comes from
 * an injected clock, so tests drive it.
 */

/** Wall time a run must take before the bar appears, in milliseconds. */
export const PROGRESS_DELAY_MS = 1000;
/** Cells of the bar. */
export const PROGRESS_CELLS = 30;

/** Where the bar writes and how it reads the time. */
export interface ProgressSink {
  /** Writes to the terminal (stderr). */
  write(s: string): void;
  /** Wall clock, milliseconds (any origin). */
  now(): number;
}

/** A progress bar; the caller owns it and calls {@link ProgressBar.finish} once, also on failure. */
export class ProgressBar {
  private readonly start: number;
  /** Length of the line last drawn (0: nothing on screen). */
  private drawn = 0;
  /** Last percentage drawn, so an update that changes nothing visible writes nothing. */
  private lastPercent = -1;

  /**
   * @param sink the terminal and the clock (the clock is read now: the run starts)
   * @param label what is running, shown after the counts
   */
  constructor(
    private readonly sink: ProgressSink,
    private readonly label: string,
  ) {
    this.start = sink.now();
  }

  /**
   * Report progress; draws only after {@link PROGRESS_DELAY_MS} and when the percentage changed.
   * @param done units done
   * @param total units in all (0 or less draws nothing)
   * @param detail what is running now (e.g. the placement)
   */
  update(done: number, total: number, detail = ''): void {
    if (total <= 0 || this.sink.now() - this.start <= PROGRESS_DELAY_MS) return;
    const fraction = Math.min(1, Math.max(0, done / total));
    const percent = Math.floor(fraction * 100);
    if (percent === this.lastPercent) return;
    this.lastPercent = percent;
    const full = Math.round(fraction * PROGRESS_CELLS);
    const line = `[${'#'.repeat(full)}${'.'.repeat(PROGRESS_CELLS - full)}] ${String(percent).padStart(3)}% ${done}/${total} ${this.label}${detail ? `: ${detail}` : ''}`;
    // Pad over a longer previous line so no tail of it stays visible.
    this.sink.write(`\r${line.padEnd(this.drawn)}`);
    this.drawn = Math.max(this.drawn, line.length);
  }

  /** Erase the bar (spaces over it, cursor back to the start of the line); nothing when it never appeared. */
  finish(): void {
    if (this.drawn === 0) return;
    this.sink.write(`\r${' '.repeat(this.drawn)}\r`);
    this.drawn = 0;
  }

  /** Whether the bar is on screen. */
  get visible(): boolean {
    return this.drawn > 0;
  }
}
