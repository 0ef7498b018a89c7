/**
 * Model bugs: the kernel's `BUG_ON` and `WARN_ON`.
 *
 * A `KernelBug` means the model (or code using it) broke an invariant that the real kernel would
 * answer with a BUG splat: freeing a page twice, overlapping MMIO registrations, adding a device
 * twice. Expected failures (bad user input the kernel rejects, device errors) are never thrown:
 * they are returned as negated errnos.
 *
 * @kernel include/asm-generic/bug.h
 */
import type { KernelLog } from './log';
import { KERN_WARNING } from './log';

/**
 * Thrown when the model hits a BUG_ON-class condition. Never caught by the model itself.
 * @kernel BUG()
 */
export class KernelBug extends Error {
  /** @param what what went wrong, naming the object and the broken rule. */
  constructor(what: string) {
    super(`kernel BUG: ${what}`);
    this.name = 'KernelBug';
  }
}

/**
 * Throws a `KernelBug` when `cond` holds.
 * @param cond the bug condition.
 * @param what the message: names the object and the broken rule.
 * @throws KernelBug when `cond` is true.
 * @kernel BUG_ON
 */
export function BUG_ON(cond: boolean, what: string): void {
  if (cond) throw new KernelBug(what);
}

/**
 * Logs `WARNING: <what>` at `KERN_WARNING` when `cond` holds, and returns `cond` so callers can
 * write `if (WARN_ON(log, bad, 'why')) return err('EINVAL')` as in the kernel.
 * @param log the kernel log to write to.
 * @param cond the suspicious condition.
 * @param what the message.
 * @returns `cond`.
 * @kernel WARN_ON
 */
export function WARN_ON(log: KernelLog, cond: boolean, what: string): boolean {
  if (cond) log.printk(KERN_WARNING, `WARNING: ${what}`);
  return cond;
}
