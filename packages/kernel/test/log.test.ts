import { describe, expect, it } from 'vitest';
import type { BusType, DeviceDriver, LogLine } from '../src/index';
import {
  BUG_ON,
  Device,
  deviceAdd,
  formatLogTime,
  KERN_DEBUG,
  KERN_ERR,
  KERN_INFO,
  KERN_WARNING,
  Kernel,
  KernelBug,
  KernelLog,
  VirtualClock,
  WARN_ON,
} from '../src/index';

const pciBus: BusType = { name: 'pci', match: (_d, drv) => drv.name === 'nvme' };

describe('dev_printk prefixes (drivers/base/core.c dev_driver_string)', () => {
  it('prints "<bus> <dev>: " for an unbound device on a bus', () => {
    const k = new Kernel();
    const dev = new Device(k, '0000:03:00.0', { bus: pciBus });
    k.log.devInfo(dev, 'BAR 4: assigned [mem 0xf0000000-0xf00fffff 64bit]');
    expect(k.log.lines()).toEqual([
      { time: 0, level: KERN_INFO, text: 'pci 0000:03:00.0: BAR 4: assigned [mem 0xf0000000-0xf00fffff 64bit]', dev: '0000:03:00.0' },
    ]);
  });

  it('prints "<driver> <dev>: " once a driver is bound (nvme 0000:03:00.0)', () => {
    const k = new Kernel();
    const nvme: DeviceDriver = {
      name: 'nvme',
      bus: pciBus,
      probe: (dev) => {
        k.log.devInfo(dev, 'pci function 0000:03:00.0');
        return 0;
      },
    };
    k.driverRegister(nvme);
    const dev = new Device(k, '0000:03:00.0', { bus: pciBus });
    expect(deviceAdd(dev)).toBe(0);
    k.log.devWarn(dev, 'I/O 12 QID 3 timeout');
    expect(k.log.lines().map((l) => l.text)).toEqual([
      'nvme 0000:03:00.0: pci function 0000:03:00.0',
      'nvme 0000:03:00.0: I/O 12 QID 3 timeout',
    ]);
  });

  it('falls back to the class name, then to "<name>: " alone', () => {
    const k = new Kernel();
    k.log.devErr(new Device(k, 'nvme0', { className: 'nvme' }), 'Removing after probe failure');
    k.log.devDbg(new Device(k, 'orphan'), 'hello\n');
    expect(k.log.lines()).toEqual([
      { time: 0, level: KERN_ERR, text: 'nvme nvme0: Removing after probe failure', dev: 'nvme0' },
      { time: 0, level: KERN_DEBUG, text: 'orphan: hello', dev: 'orphan' },
    ]);
  });
});

describe('KernelLog (printk ring buffer)', () => {
  it('stamps lines with the virtual clock and renders them dmesg-style', () => {
    const clock = new VirtualClock();
    const log = new KernelLog(clock);
    log.prInfo('pci_bus 0000:00: root bus resource [bus 00-ff]');
    clock.advance(1_234_567_891);
    log.prWarn('second\n');
    expect(log.lines().map((l) => l.time)).toEqual([0, 1_234_567_891]);
    expect(log.text()).toBe('[    0.000000] pci_bus 0000:00: root bus resource [bus 00-ff]\n[    1.234567] second\n');
    expect(formatLogTime(123_456 * 1e9 + 999)).toBe('[123456.000000]');
  });

  it('filters by level, greps by substring or regex, clears', () => {
    const log = new KernelLog();
    log.prErr('nvme nvme0: failed');
    log.prDebug('debug noise');
    log.prInfo('p2pdma: published 1 MiB');
    expect(log.lines(KERN_INFO).map((l) => l.text)).toEqual(['nvme nvme0: failed', 'p2pdma: published 1 MiB']);
    expect(log.text(KERN_ERR)).toBe('[    0.000000] nvme nvme0: failed\n');
    expect(log.grep('p2pdma').map((l) => l.text)).toEqual(['p2pdma: published 1 MiB']);
    const g = /^nvme|MiB$/g;
    expect(log.grep(g)).toHaveLength(2);
    expect(log.grep(g)).toHaveLength(2); // a global regex is reset per line, so results repeat
    log.clear();
    expect(log.lines()).toEqual([]);
    expect(log.text()).toBe('');
  });

  it('notifies subscribers in order until they unsubscribe', () => {
    const log = new KernelLog();
    const seen: LogLine[] = [];
    const off = log.subscribe((l) => seen.push(l));
    log.prInfo('a');
    off();
    log.prInfo('b');
    expect(seen.map((l) => l.text)).toEqual(['a']);
  });

  it('drops the oldest lines past capacity, keeping at least the newest `capacity`', () => {
    const log = new KernelLog(null, { capacity: 4 });
    for (let i = 0; i < 20; i++) log.prInfo(`line ${i}`);
    const texts = log.lines().map((l) => l.text);
    expect(texts.length).toBeGreaterThanOrEqual(4);
    expect(texts.length).toBeLessThanOrEqual(6);
    expect(texts[texts.length - 1]).toBe('line 19');
    expect(texts).toEqual(texts.slice().sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))));
    expect(() => new KernelLog(null, { capacity: 0 })).toThrow('capacity 0 must be a positive integer');
  });
});

describe('BUG_ON / WARN_ON (include/asm-generic/bug.h)', () => {
  it('BUG_ON throws a KernelBug only when the condition holds', () => {
    expect(() => BUG_ON(false, 'fine')).not.toThrow();
    expect(() => BUG_ON(true, 'page refcount underflow')).toThrow(new KernelBug('page refcount underflow'));
    expect(() => BUG_ON(true, 'x')).toThrow('kernel BUG: x');
  });

  it('WARN_ON logs a WARNING: line at KERN_WARNING and returns the condition', () => {
    const log = new KernelLog();
    expect(WARN_ON(log, false, 'quiet')).toBe(false);
    expect(WARN_ON(log, true, 'pci_p2pdma_map_sg with non-p2pdma page')).toBe(true);
    expect(log.lines()).toEqual([{ time: 0, level: KERN_WARNING, text: 'WARNING: pci_p2pdma_map_sg with non-p2pdma page' }]);
  });
});
