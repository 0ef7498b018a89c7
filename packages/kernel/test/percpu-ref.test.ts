import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Completion, KERN_WARNING, KernelBug, KernelLog, PercpuRef } from '../src/index';

describe('PercpuRef (lib/percpu-refcount.c; p2pdma devmap_ref lifecycle, seed patch 01)', () => {
  it('starts at one; tryGetLive fails after kill; release runs exactly once at the last put', () => {
    const released: PercpuRef[] = [];
    const ref = new PercpuRef('devmap_ref');
    expect(ref.init((r) => released.push(r))).toBe(0);
    expect(ref.count).toBe(1);
    expect(ref.tryGetLive()).toBe(true); // pci_alloc_p2pmem
    ref.get();
    expect(ref.count).toBe(3);
    ref.kill(); // pci_p2pdma_percpu_kill drops the initial reference
    expect(ref.isDying()).toBe(true);
    expect(ref.tryGetLive()).toBe(false); // alloc fails once the provider is going away
    expect(ref.tryGet()).toBe(true); // but a holder may still take another
    ref.put();
    ref.put();
    expect(released).toEqual([]);
    expect(ref.released.done).toBe(false);
    ref.put(); // the last user frees its p2pmem
    expect(released).toEqual([ref]);
    expect(ref.isZero()).toBe(true);
    expect(ref.released.done).toBe(true);
    expect(ref.tryGet()).toBe(false);
    expect(ref.tryGetLive()).toBe(false);
  });

  it('releases at kill time when nobody else holds a reference', () => {
    let n = 0;
    const ref = new PercpuRef('r');
    ref.init(() => n++);
    ref.kill();
    expect(n).toBe(1);
    expect(ref.isZero()).toBe(true);
  });

  it('treats use after zero, puts below one and double init as KernelBug', () => {
    const ref = new PercpuRef('r');
    expect(() => ref.get()).toThrow(/not initialized/);
    ref.init(() => {});
    expect(() => ref.init(() => {})).toThrow(/in use/);
    expect(() => ref.put()).toThrow(/initial reference of a live ref/);
    ref.kill();
    expect(() => ref.put()).toThrow(/already reached zero/);
    expect(() => ref.get()).toThrow(KernelBug);
    expect(() => ref.kill()).toThrow(KernelBug);
  });

  it('warns, as the kernel does, when killed twice', () => {
    const log = new KernelLog();
    const ref = new PercpuRef('0000:03:00.0 devmap_ref', log);
    ref.init(() => {});
    ref.get();
    ref.kill();
    ref.kill();
    expect(ref.count).toBe(1);
    expect(log.lines()).toEqual([{ time: 0, level: KERN_WARNING, text: 'percpu_ref_kill_and_confirm called more than once on 0000:03:00.0 devmap_ref!' }]);
  });

  it('exit refuses while others hold references; reinit revives a zeroed ref', () => {
    const ref = new PercpuRef('r');
    ref.init(() => {});
    ref.get();
    expect(() => ref.exit()).toThrow(/still held/);
    ref.put();
    ref.kill();
    ref.reinit();
    expect(ref.count).toBe(1);
    expect(ref.tryGetLive()).toBe(true);
    ref.put();
    ref.exit();
    expect(ref.initialized).toBe(false);
    expect(() => ref.reinit()).toThrow(KernelBug);
  });

  it('property: any get/put/tryGetLive/kill sequence releases once, exactly when the count hits zero after kill', () => {
    const op = fc.constantFrom('get', 'put', 'tryGetLive', 'kill');
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        let releases = 0;
        const ref = new PercpuRef('p');
        ref.init(() => releases++);
        let held = 0; // references held by users (besides the initial one)
        let killed = false;
        for (const o of ops) {
          if (ref.isZero()) break;
          if (o === 'get') {
            ref.get();
            held++;
          } else if (o === 'tryGetLive') {
            const got = ref.tryGetLive();
            expect(got).toBe(!killed);
            if (got) held++;
          } else if (o === 'put' && held > 0) {
            ref.put();
            held--;
          } else if (o === 'kill' && !killed) {
            ref.kill();
            killed = true;
          }
          expect(ref.count).toBe(held + (killed ? 0 : 1));
          expect(releases).toBe(killed && held === 0 ? 1 : 0);
        }
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe('Completion (kernel/sched/completion.c, complete_all semantics)', () => {
  it('runs waiters once in order, immediately after completion, and resolves promises', async () => {
    const c = new Completion();
    const seen: string[] = [];
    c.onDone(() => seen.push('a'));
    c.onDone(() => seen.push('b'));
    const p = c.whenDone().then(() => seen.push('promise'));
    expect(c.done).toBe(false);
    c.complete();
    c.complete();
    expect(seen).toEqual(['a', 'b']);
    c.onDone(() => seen.push('late'));
    await p;
    expect(seen).toEqual(['a', 'b', 'late', 'promise']);
    c.reinit();
    expect(c.done).toBe(false);
  });
});
