/**
 * Virtual time: the model's jiffies/hrtimer base.
 *
 * Time is a number of nanoseconds since boot and only moves when the owner advances it, so runs
 * are repeatable. Timers fire in (expiry time, scheduling order) order; a binary heap keeps
 * schedule and fire at O(log n). Cancelled timers are dropped lazily when they reach the top.
 *
 * @kernel kernel/time/hrtimer.c (hrtimer_start, hrtimer_cancel), ktime_get
 */
import { KernelBug } from './bug';

/** Identifies a scheduled timer; positive, never reused by one clock. */
export type TimerId = number;

interface Timer {
  readonly when: number;
  readonly seq: number;
  readonly id: TimerId;
  readonly fn: () => void;
}

/** Default cap on timers `runUntilIdle` fires before it treats the run as a runaway loop. */
export const CLOCK_RUN_LIMIT = 1_000_000;

/**
 * A deterministic virtual clock with one-shot timers. One per `Kernel`.
 * @kernel ktime_get / hrtimer
 */
export class VirtualClock {
  private t = 0;
  private seq = 0;
  private nextId = 1;
  private readonly heap: Timer[] = [];
  private readonly live = new Map<TimerId, Timer>();

  /** @param startNs the boot time in ns (default 0). */
  constructor(startNs = 0) {
    checkTime('startNs', startNs);
    this.t = startNs;
  }

  /**
   * The current time.
   * @returns ns since boot.
   * @kernel ktime_get
   */
  now(): number {
    return this.t;
  }

  /** Number of timers scheduled and not yet fired or cancelled. */
  pending(): number {
    return this.live.size;
  }

  /**
   * Schedules `fn` to run `delayNs` from now. Timers with equal expiry run in the order they
   * were scheduled, after any already-due timers of the same instant.
   * @param delayNs delay in ns, a finite number ≥ 0.
   * @param fn the callback; it may schedule or cancel timers.
   * @returns the timer's id, for `cancel`.
   * @throws KernelBug for a negative or non-finite delay.
   * @kernel hrtimer_start
   */
  schedule(delayNs: number, fn: () => void): TimerId {
    checkTime('delayNs', delayNs);
    const timer: Timer = { when: this.t + delayNs, seq: this.seq++, id: this.nextId++, fn };
    this.live.set(timer.id, timer);
    this.push(timer);
    return timer.id;
  }

  /**
   * Cancels a timer that has not fired.
   * @param id the timer.
   * @returns `true` if it was pending, `false` if it had fired, been cancelled or never existed.
   * @kernel hrtimer_try_to_cancel
   */
  cancel(id: TimerId): boolean {
    return this.live.delete(id);
  }

  /**
   * Moves time forward by `ns`, firing every timer that expires up to the new time in order
   * (each sees `now()` equal to its expiry).
   * @param ns a finite number ≥ 0.
   * @returns the number of timers fired.
   */
  advance(ns: number): number {
    checkTime('ns', ns);
    return this.runUntil(this.t + ns);
  }

  /**
   * Fires timers in order until none expire at or before `ns`, then sets the time to `ns`.
   * @param ns absolute time in ns, not in the past.
   * @returns the number of timers fired.
   * @throws KernelBug if `ns` is before `now()`.
   */
  runUntil(ns: number): number {
    checkTime('ns', ns);
    if (ns < this.t) throw new KernelBug(`VirtualClock.runUntil(${ns}): time ${this.t} is already later`);
    let fired = 0;
    for (;;) {
      const top = this.peek();
      if (top === undefined || top.when > ns) break;
      this.fire(top);
      fired++;
    }
    this.t = ns;
    return fired;
  }

  /**
   * Fires the next timer, jumping time to its expiry.
   * @returns `true` if a timer fired, `false` when none is pending.
   */
  runNext(): boolean {
    const top = this.peek();
    if (top === undefined) return false;
    this.fire(top);
    return true;
  }

  /**
   * Fires timers in order, jumping time forward, until none is pending.
   * @param limit the most timers to fire (default `CLOCK_RUN_LIMIT`).
   * @returns the number fired.
   * @throws KernelBug when timers are still pending after `limit` fired: a timer that keeps
   *   rescheduling itself is a runaway loop.
   */
  runUntilIdle(limit: number = CLOCK_RUN_LIMIT): number {
    let fired = 0;
    while (fired < limit && this.runNext()) fired++;
    if (this.peek() !== undefined) {
      throw new KernelBug(`VirtualClock.runUntilIdle: still ${this.live.size} timer(s) pending after ${limit} fired`);
    }
    return fired;
  }

  /** The top live timer, discarding cancelled ones. */
  private peek(): Timer | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || this.live.get(top.id) === top) return top;
      this.pop();
    }
  }

  private fire(timer: Timer): void {
    this.pop();
    this.live.delete(timer.id);
    if (timer.when > this.t) this.t = timer.when;
    timer.fn();
  }

  private push(timer: Timer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = h[parent]!;
      if (!before(timer, p)) break;
      h[i] = p;
      i = parent;
    }
    h[i] = timer;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = l;
      if (r < n && before(h[r]!, h[l]!)) child = r;
      const c = h[child]!;
      if (!before(c, last)) break;
      h[i] = c;
      i = child;
    }
    h[i] = last;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.when < b.when || (a.when === b.when && a.seq < b.seq);
}

function checkTime(what: string, ns: number): void {
  if (!Number.isFinite(ns) || ns < 0) throw new KernelBug(`VirtualClock: ${what} ${ns} must be a finite number >= 0`);
}
