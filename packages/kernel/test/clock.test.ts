import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KernelBug, VirtualClock } from '../src/index';

describe('VirtualClock (hrtimer-style virtual time)', () => {
  it('fires timers by expiry, then by scheduling order, and sets now() to each expiry', () => {
    const c = new VirtualClock();
    const order: string[] = [];
    c.schedule(30, () => order.push(`c@${c.now()}`));
    c.schedule(10, () => order.push(`a@${c.now()}`));
    c.schedule(10, () => order.push(`b@${c.now()}`));
    c.schedule(0, () => order.push(`z@${c.now()}`));
    expect(c.runUntilIdle()).toBe(4);
    expect(order).toEqual(['z@0', 'a@10', 'b@10', 'c@30']);
    expect(c.now()).toBe(30);
  });

  it('advance() fires only what is due and lands exactly on the target time', () => {
    const c = new VirtualClock(100);
    const fired: number[] = [];
    c.schedule(50, () => fired.push(c.now()));
    c.schedule(150, () => fired.push(c.now()));
    expect(c.advance(100)).toBe(1);
    expect(fired).toEqual([150]);
    expect(c.now()).toBe(200);
    expect(c.pending()).toBe(1);
    expect(c.runUntil(250)).toBe(1);
    expect(fired).toEqual([150, 250]);
    expect(() => c.runUntil(10)).toThrow(KernelBug);
  });

  it('cancel() stops a pending timer and reports whether it was pending', () => {
    const c = new VirtualClock();
    let hits = 0;
    const id = c.schedule(5, () => hits++);
    const keep = c.schedule(5, () => hits++);
    expect(c.cancel(id)).toBe(true);
    expect(c.cancel(id)).toBe(false);
    c.runUntilIdle();
    expect(hits).toBe(1);
    expect(c.cancel(keep)).toBe(false);
  });

  it('timers scheduled from a timer at the same instant run after those already due', () => {
    const c = new VirtualClock();
    const order: string[] = [];
    c.schedule(10, () => {
      order.push('first');
      c.schedule(0, () => order.push('nested'));
    });
    c.schedule(10, () => order.push('second'));
    c.runUntilIdle();
    expect(order).toEqual(['first', 'second', 'nested']);
  });

  it('runUntilIdle treats a self-rescheduling timer as a runaway after the limit', () => {
    const c = new VirtualClock();
    const tick = (): void => {
      c.schedule(1, tick);
    };
    c.schedule(1, tick);
    expect(() => c.runUntilIdle(100)).toThrow('still 1 timer(s) pending after 100 fired');
  });

  it('rejects negative or non-finite delays as model bugs', () => {
    const c = new VirtualClock();
    expect(() => c.schedule(-1, () => {})).toThrow(KernelBug);
    expect(() => c.advance(Number.NaN)).toThrow(KernelBug);
  });

  it('property: fires every uncancelled timer once, in (time, insertion) order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ delay: fc.nat(1000), cancel: fc.boolean() }), { maxLength: 200 }),
        (specs) => {
          const c = new VirtualClock();
          const fired: Array<[number, number]> = [];
          const ids = specs.map((s, i) => c.schedule(s.delay, () => fired.push([c.now(), i])));
          specs.forEach((s, i) => {
            if (s.cancel) c.cancel(ids[i]!);
          });
          c.runUntilIdle();
          const expected = specs
            .map((s, i) => ({ s, i }))
            .filter(({ s }) => !s.cancel)
            .sort((a, b) => a.s.delay - b.s.delay || a.i - b.i)
            .map(({ s, i }) => [s.delay, i]);
          expect(fired).toEqual(expected);
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });
});
