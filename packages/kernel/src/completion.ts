/**
 * Completions: a one-shot "this has happened" signal others can wait for.
 *
 * The model never blocks: `wait_for_completion` becomes either a callback (`onDone`) or a
 * Promise (`whenDone`). A completion, once completed, stays done (`complete_all` semantics)
 * until `reinit`.
 *
 * @kernel kernel/sched/completion.c, include/linux/completion.h
 */

/**
 * A completion.
 * @kernel struct completion (init_completion)
 */
export class Completion {
  private isDone = false;
  private waiters: (() => void)[] = [];

  /** Whether `complete()` has run (since the last `reinit`). @kernel completion_done */
  get done(): boolean {
    return this.isDone;
  }

  /**
   * Marks the completion done and runs every waiter, in registration order. Calling it again
   * is harmless.
   * @kernel complete_all
   */
  complete(): void {
    if (this.isDone) return;
    this.isDone = true;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /**
   * Runs `fn` when the completion is done: now, when it already is.
   * @param fn the waiter; called once.
   * @kernel wait_for_completion (as a callback)
   */
  onDone(fn: () => void): void {
    if (this.isDone) fn();
    else this.waiters.push(fn);
  }

  /**
   * @returns a Promise resolved when the completion is done (already resolved when it is).
   * @kernel wait_for_completion
   */
  whenDone(): Promise<void> {
    return new Promise((resolve) => this.onDone(resolve));
  }

  /**
   * Makes the completion not done again. Pending waiters stay registered.
   * @kernel reinit_completion
   */
  reinit(): void {
    this.isDone = false;
  }
}
