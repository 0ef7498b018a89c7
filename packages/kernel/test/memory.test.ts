import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MmioHandler } from '../src/index';
import {
  ConfigError,
  Errno,
  isErr,
  Kernel,
  KernelBug,
  KernelLog,
  KernelRng,
  LOW_RESERVED_BYTES,
  PAGE_OFFSET,
  PAGE_SHIFT,
  PAGE_SIZE,
  PhysicalMemory,
  physToVirt,
  virtToPhys,
} from '../src/index';

const GiB = 2 ** 30;

describe('System RAM (sparse pages holding real bytes)', () => {
  it('exports the kernel page constants', () => {
    expect(PAGE_SHIFT).toBe(12);
    expect(PAGE_SIZE).toBe(4096);
    expect(PAGE_OFFSET).toBe(2 ** 52);
  });

  it('reads never-written RAM as zeros without allocating pages', () => {
    const k = new Kernel();
    const got = k.memory.ramRead(2 * GiB, 3 * PAGE_SIZE);
    expect(got).toEqual(new Uint8Array(3 * PAGE_SIZE));
    expect(k.memory.residentPages()).toBe(0);
  });

  it('writes across page boundaries and reads them back, allocating only touched pages', () => {
    const k = new Kernel();
    const data = new Uint8Array(PAGE_SIZE + 100).map((_, i) => (i * 7 + 3) & 0xff);
    const at = 5 * PAGE_SIZE - 50;
    k.memory.ramWrite(at, data);
    expect(k.memory.residentPages()).toBe(3);
    expect(k.memory.ramRead(at, data.length)).toEqual(data);
    expect(k.memory.ramRead(at - 10, 10)).toEqual(new Uint8Array(10));
    const out = new Uint8Array(data.length + 8).fill(0xee);
    const view = k.memory.ramRead(at - 8, data.length, out);
    expect(view.length).toBe(data.length);
    expect(Array.from(view.subarray(0, 8))).toEqual([0, 0, 0, 0, 0, 0, 0, 0]); // junk overwritten
    expect(view.subarray(8)).toEqual(data.subarray(0, data.length - 8));
  });

  it('property: random writes then reads return exactly the bytes a flat-array oracle holds', () => {
    const span = 8 * PAGE_SIZE;
    const base = 16 * PAGE_SIZE;
    // Byte contents come from a seeded generator (cheap to shrink and replay); offsets and lengths
    // are chosen by fast-check.
    const write = fc.record({
      off: fc.integer({ min: 0, max: span - 1 }),
      len: fc.integer({ min: 1, max: 2 * PAGE_SIZE + 16 }),
      seed: fc.nat(),
    });
    fc.assert(
      fc.property(fc.array(write, { maxLength: 8 }), fc.integer({ min: 0, max: span - 1 }), fc.nat(2 * PAGE_SIZE), (writes, rOff, rLen) => {
        const mem = new PhysicalMemory([{ base: 0, size: 64 * PAGE_SIZE }], new KernelLog());
        // Oracle: one flat byte array for the whole span (never-written bytes stay 0), written
        // byte by byte; the model under test keeps sparse pages and copies whole chunks.
        const oracle = new Uint8Array(span + 3 * PAGE_SIZE);
        for (const w of writes) {
          const bytes = new KernelRng(w.seed).fill(new Uint8Array(w.len));
          mem.ramWrite(base + w.off, bytes);
          for (let i = 0; i < bytes.length; i++) oracle[w.off + i] = bytes[i]!;
        }
        const got = mem.ramRead(base + rOff, rLen);
        expect(Buffer.from(got).equals(Buffer.from(oracle.subarray(rOff, rOff + rLen)))).toBe(true);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('isRam checks whole ranges; ramRead outside RAM is a model bug', () => {
    const mem = new PhysicalMemory([{ base: 0, size: GiB }, { base: 4 * GiB, size: GiB }], new KernelLog());
    expect(mem.isRam(GiB - 8, 8)).toBe(true);
    expect(mem.isRam(GiB - 8, 9)).toBe(false);
    expect(mem.isRam(2 * GiB, 1)).toBe(false);
    expect(mem.isRam(4 * GiB, 0)).toBe(true);
    expect(mem.totalRam()).toBe(2 * GiB);
    expect(() => mem.ramRead(GiB - 8, 16)).toThrow(KernelBug);
    expect(() => mem.ramWrite(2 * GiB, new Uint8Array(1))).toThrow('ramWrite: [mem 0x80000000-0x80000000] is not System RAM');
  });

  it('merges adjacent ranges and rejects bad memory maps with a ConfigError naming the range', () => {
    const log = new KernelLog();
    expect(new PhysicalMemory([{ base: GiB, size: GiB }, { base: 0, size: GiB }], log).ramRanges()).toEqual([{ base: 0, size: 2 * GiB }]);
    expect(() => new PhysicalMemory([{ base: 0, size: 100 }], log)).toThrow(ConfigError);
    expect(() => new PhysicalMemory([{ base: 0, size: 2 * GiB }, { base: GiB, size: GiB }], log)).toThrow(
      'invalid kernel option systemRam: ranges [mem 0x00000000-0x7fffffff] and [mem 0x40000000-0x7fffffff] overlap',
    );
    expect(() => new Kernel({ systemRam: [{ base: 0, size: -4096 }] })).toThrow('systemRam[0]');
  });

  it('ramZero drops whole pages and zeroes partial ones', () => {
    const mem = new PhysicalMemory([{ base: 0, size: 64 * PAGE_SIZE }], new KernelLog());
    mem.ramWrite(PAGE_SIZE, new Uint8Array(3 * PAGE_SIZE).fill(9));
    mem.ramZero(PAGE_SIZE + 10, 2 * PAGE_SIZE);
    expect(mem.residentPages()).toBe(2);
    const got = mem.ramRead(PAGE_SIZE, 3 * PAGE_SIZE);
    expect(got.subarray(0, 10).every((b) => b === 9)).toBe(true);
    expect(got.subarray(10, 10 + 2 * PAGE_SIZE).every((b) => b === 0)).toBe(true);
    expect(got.subarray(10 + 2 * PAGE_SIZE).every((b) => b === 9)).toBe(true);
  });
});

describe('CPU accesses: RAM or MMIO dispatch', () => {
  function regs(): MmioHandler & { store: Uint8Array; log: string[] } {
    const store = new Uint8Array(0x1000);
    const log: string[] = [];
    return {
      store,
      log,
      read(offset, out) {
        log.push(`r ${offset} ${out.length}`);
        out.set(store.subarray(offset, offset + out.length));
      },
      write(offset, data) {
        log.push(`w ${offset} ${data.length}`);
        store.set(data, offset);
      },
    };
  }

  it('dispatches to the handler with offsets relative to the registered base, and counts bytes', () => {
    const k = new Kernel();
    const bar = regs();
    const unregister = k.memory.registerMmio(0xf000_0000, 0x1000, bar, '0000:03:00.0 BAR 0');
    expect(k.memory.cpuWrite(0xf000_0010, Uint8Array.of(1, 2, 3, 4))).toBe(0);
    const r = k.memory.cpuRead(0xf000_0010, 4);
    expect(isErr(r)).toBe(false);
    expect(r).toEqual(Uint8Array.of(1, 2, 3, 4));
    expect(bar.log).toEqual(['w 16 4', 'r 16 4']);
    expect(k.memory.cpuMmioWriteBytes).toBe(4);
    expect(k.memory.cpuMmioReadBytes).toBe(4);
    expect(k.memory.cpuRamReadBytes).toBe(0);
    expect(k.memory.findMmio(0xf000_0fff)).toEqual({ base: 0xf000_0000, size: 0x1000, owner: '0000:03:00.0 BAR 0' });
    unregister();
    expect(k.memory.mmioRegions()).toEqual([]);
    expect(() => unregister()).toThrow(KernelBug);
  });

  it('counts CPU RAM traffic separately from raw RAM (DMA) accesses', () => {
    const k = new Kernel();
    expect(k.memory.cpuWrite(0x10_0000, new Uint8Array(100))).toBe(0);
    k.memory.cpuRead(0x10_0000, 60);
    k.memory.ramRead(0x10_0000, 1000);
    expect(k.memory.cpuRamWriteBytes).toBe(100);
    expect(k.memory.cpuRamReadBytes).toBe(60);
  });

  it('returns -EFAULT and logs for unmapped accesses and accesses straddling a region end', () => {
    const k = new Kernel();
    k.memory.registerMmio(0xf000_0000, 0x1000, regs(), 'bar');
    expect(k.memory.cpuRead(0xe000_0000 + 0x100, 8)).toBe(-Errno.EFAULT);
    expect(k.memory.cpuWrite(0xf000_0ffc, new Uint8Array(8))).toBe(-Errno.EFAULT);
    expect(k.memory.cpuRead(3 * GiB - 4, 8)).toBe(-Errno.EFAULT); // straddles the end of RAM
    expect(k.log.lines().map((l) => l.text)).toEqual([
      'CPU read of unmapped physical range [mem 0xe0000100-0xe0000107]: -EFAULT',
      'CPU write of unmapped physical range [mem 0xf0000ffc-0xf0001003]: -EFAULT',
      'CPU read of unmapped physical range [mem 0xbffffffc-0xc0000003]: -EFAULT',
    ]);
  });

  it('overlapping MMIO registrations, or MMIO over RAM, are model bugs', () => {
    const k = new Kernel({ systemRam: [{ base: 0, size: GiB }] });
    k.memory.registerMmio(0xf000_0000, 0x2000, regs(), 'first');
    expect(() => k.memory.registerMmio(0xf000_1000, 0x1000, regs(), 'second')).toThrow(
      'registerMmio(second): [mem 0xf0001000-0xf0001fff] overlaps [mem 0xf0000000-0xf0001fff] of first',
    );
    expect(() => k.memory.registerMmio(0xeffff000, 0x1001, regs(), 'third')).toThrow(KernelBug);
    expect(() => k.memory.registerMmio(GiB - 0x1000, 0x2000, regs(), 'ram')).toThrow('overlaps System RAM');
    k.memory.registerMmio(0xf000_2000, 0x1000, regs(), 'adjacent'); // touching is fine
    expect(k.memory.mmioRegions().map((r) => r.owner)).toEqual(['first', 'adjacent']);
  });
});

describe('page-frame allocator (mm/page_alloc.c alloc_pages/__free_pages)', () => {
  it('hands out page-aligned RAM above the low reserved megabyte and counts free frames', () => {
    const mem = new PhysicalMemory([{ base: 0, size: 2 * LOW_RESERVED_BYTES }], new KernelLog());
    const total = LOW_RESERVED_BYTES / PAGE_SIZE;
    expect(mem.freePageCount()).toBe(total);
    const p = mem.allocPages(4);
    expect(p).toBe(LOW_RESERVED_BYTES);
    expect(mem.freePageCount()).toBe(total - 4);
    expect(mem.allocPages(total)).toBeNull();
    mem.freePages(p!, 4);
    expect(mem.allocPages(total)).toBe(LOW_RESERVED_BYTES);
  });

  it('bad frees are model bugs: double free, wrong count, never allocated', () => {
    const mem = new PhysicalMemory([{ base: 0, size: 4 * LOW_RESERVED_BYTES }], new KernelLog());
    const p = mem.allocPages(2)!;
    expect(() => mem.freePages(p, 1)).toThrow('freeing 1 unit(s)');
    mem.freePages(p, 2);
    expect(() => mem.freePages(p, 2)).toThrow(KernelBug);
    expect(() => mem.freePages(p + 1, 1)).toThrow('is not a page address');
  });

  it('freed frames read as zeros when handed out again', () => {
    const mem = new PhysicalMemory([{ base: 0, size: 2 * LOW_RESERVED_BYTES }], new KernelLog());
    const p = mem.allocPages(1)!;
    mem.ramWrite(p, new Uint8Array(PAGE_SIZE).fill(0xab));
    mem.freePages(p, 1);
    expect(mem.allocPages(1)).toBe(p);
    expect(mem.ramRead(p, PAGE_SIZE).every((b) => b === 0)).toBe(true);
  });

  it('property: no frame is handed out twice, and freeing everything restores the count', () => {
    const pages = 256;
    fc.assert(
      fc.property(fc.array(fc.record({ alloc: fc.boolean(), n: fc.integer({ min: 1, max: 16 }), pick: fc.nat() }), { maxLength: 120 }), (ops) => {
        const mem = new PhysicalMemory([{ base: 0, size: LOW_RESERVED_BYTES + pages * PAGE_SIZE }], new KernelLog());
        const live: Array<{ phys: number; n: number }> = [];
        const owned = new Set<number>();
        for (const op of ops) {
          if (op.alloc || live.length === 0) {
            const phys = mem.allocPages(op.n);
            if (phys === null) continue;
            expect(phys % PAGE_SIZE).toBe(0);
            expect(mem.isRam(phys, op.n * PAGE_SIZE)).toBe(true);
            for (let i = 0; i < op.n; i++) {
              const pfn = phys / PAGE_SIZE + i;
              expect(owned.has(pfn)).toBe(false);
              owned.add(pfn);
            }
            live.push({ phys, n: op.n });
          } else {
            const [a] = live.splice(op.pick % live.length, 1);
            mem.freePages(a!.phys, a!.n);
            for (let i = 0; i < a!.n; i++) owned.delete(a!.phys / PAGE_SIZE + i);
          }
          expect(mem.freePageCount()).toBe(pages - owned.size);
        }
        for (const a of live) mem.freePages(a.phys, a.n);
        expect(mem.freePageCount()).toBe(pages);
        expect(mem.allocPages(pages)).toBe(LOW_RESERVED_BYTES); // free space coalesced back
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe('linear map (__va/__pa)', () => {
  it('maps phys to PAGE_OFFSET + phys and back, staying an exact number', () => {
    expect(physToVirt(0x1000)).toBe(2 ** 52 + 0x1000);
    expect(virtToPhys(physToVirt(123 * PAGE_SIZE + 5))).toBe(123 * PAGE_SIZE + 5);
    expect(Number.isSafeInteger(physToVirt(2 ** 52 - 1))).toBe(true);
    expect(() => virtToPhys(0x1000)).toThrow(KernelBug);
    expect(() => physToVirt(-1)).toThrow(KernelBug);
  });
});
