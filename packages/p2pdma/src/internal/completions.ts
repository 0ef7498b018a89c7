/**
 * Waiting for several completions without blocking (the model's `wait_for_completion` in a
 * loop).
 */
import type { Completion } from '@p2pdma/kernel';

/**
 * Runs `fn` once every completion is done: now when they all are (or the list is empty).
 * @param list the completions.
 * @param fn called once.
 */
export function whenAllDone(list: readonly Completion[], fn: () => void): void {
  let pending = list.length;
  if (pending === 0) {
    fn();
    return;
  }
  for (const c of list) {
    c.onDone(() => {
      pending--;
      if (pending === 0) fn();
    });
  }
}
