import { describe, expect, it } from 'vitest';
import { DEFAULT_SYSTEM_RAM, Device, deviceAdd, Kernel, KernelBug, KernelRng } from '../src/index';

describe('Kernel (one machine, nothing shared)', () => {
  it('boots with 4 GiB of RAM from 0 around the 32-bit PCI hole, an empty log, time 0 and the IOMMU off', () => {
    const k = new Kernel();
    const GiB = 2 ** 30;
    expect(k.memory.ramRanges()).toEqual([
      { base: 0, size: 3 * GiB },
      { base: 4 * GiB, size: GiB },
    ]);
    expect(DEFAULT_SYSTEM_RAM).toEqual(k.memory.ramRanges());
    expect(k.memory.totalRam()).toBe(4 * GiB);
    expect(k.memory.isRam(0xc000_0000, 1)).toBe(false);
    expect(k.log.lines()).toEqual([]);
    expect(k.clock.now()).toBe(0);
    expect(k.iommu.enabled).toBe(false);
    expect(k.devices()).toEqual([]);
  });

  it('two kernels share no state: devices, memory, time, log', () => {
    const a = new Kernel();
    const b = new Kernel();
    deviceAdd(new Device(a, 'x'));
    a.memory.ramWrite(0x10_0000, Uint8Array.of(7));
    a.clock.advance(1000);
    a.log.prInfo('only a');
    expect(b.findDevice('x')).toBeNull();
    expect(deviceAdd(new Device(b, 'x'))).toBe(0);
    expect(b.memory.ramRead(0x10_0000, 1)).toEqual(Uint8Array.of(0));
    expect(b.clock.now()).toBe(0);
    expect(b.log.lines()).toEqual([]);
  });

  it('stamps log lines with its own clock', () => {
    const k = new Kernel();
    k.clock.advance(2_500_000_000);
    k.log.prInfo('hello');
    expect(k.log.text()).toBe('[    2.500000] hello\n');
  });
});

describe('KernelRng (seeded, repeatable)', () => {
  it('repeats the same sequence for the same seed and differs across seeds', () => {
    const a = new Kernel({ seed: 7 }).rng;
    const b = new Kernel({ seed: 7 }).rng;
    const c = new KernelRng(8);
    const sa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(sa);
    for (const v of sa) expect(v >= 0 && v < 1).toBe(true);
  });

  it('int() stays within inclusive bounds and hits both ends; bad bounds are model bugs', () => {
    const r = new KernelRng(1);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const v = r.int(3, 6);
      expect(v >= 3 && v <= 6 && Number.isInteger(v)).toBe(true);
      seen.add(v);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
    expect(() => r.int(5, 4)).toThrow(KernelBug);
  });

  it('fill() produces repeatable bytes of any length', () => {
    const x = new KernelRng(3).fill(new Uint8Array(13));
    const y = new KernelRng(3).fill(new Uint8Array(13));
    expect(x).toEqual(y);
    expect(x.some((b) => b !== 0)).toBe(true);
  });
});
