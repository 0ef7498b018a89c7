import { describe, expect, it } from 'vitest';
import { Errno, err, FAULT_ALLOC_PAGES, FaultInjector, Kernel, KERNEL_FAULT_SITES, PAGE_SIZE } from '../src/index';

describe('FaultInjector (lib/fault-inject.c style: fail the nth call of a site)', () => {
  it('fails the nth call after arming, `times` calls in a row, with the chosen errno', () => {
    const f = new FaultInjector();
    f.inject('site', { nth: 3, times: 2, errno: err('EIO') });
    expect([1, 2, 3, 4, 5].map(() => f.shouldFail('site'))).toEqual([0, 0, -Errno.EIO, -Errno.EIO, 0]);
    expect(f.calls('site')).toBe(5);
    expect(f.failures('site')).toBe(2);
    expect(f.isArmed('site')).toBe(false);
    expect(f.shouldFail('other')).toBe(0);
  });

  it('defaults to the next call and -ENOMEM; Infinity fails until cleared', () => {
    const f = new FaultInjector();
    f.inject('a');
    expect(f.shouldFail('a')).toBe(-Errno.ENOMEM);
    expect(f.shouldFail('a')).toBe(0);
    f.inject('a', { times: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 10; i++) expect(f.shouldFail('a')).toBe(-Errno.ENOMEM);
    f.clear();
    expect(f.shouldFail('a')).toBe(0);
  });

  it('rejects bad specs with an error naming the input', () => {
    const f = new FaultInjector();
    expect(() => f.inject('a', { nth: 0 })).toThrow('faults.inject(a): nth 0 must be a positive integer');
    expect(() => f.inject('a', { times: 1.5 })).toThrow('faults.inject(a): times 1.5 must be a positive integer or Infinity');
    expect(() => f.inject('a', { errno: -9999 as never })).toThrow('faults.inject(a): errno -9999 is not a negated errno');
    expect(() => f.inject('')).toThrow('faults.inject: site is empty');
  });

  it('is wired into alloc_pages (FAULT_ALLOC_PAGES) and lists the base-layer sites', () => {
    const k = new Kernel();
    const free = k.memory.freePageCount();
    k.faults.inject(FAULT_ALLOC_PAGES, { nth: 2 });
    const a = k.memory.allocPages(1);
    expect(a).not.toBeNull();
    expect(k.memory.allocPages(1)).toBeNull();
    expect(k.memory.freePageCount()).toBe(free - 1);
    k.memory.freePages(a!, 1);
    expect(KERNEL_FAULT_SITES).toContain('alloc_pages');
    expect(PAGE_SIZE).toBe(4096);
  });
});
