import { describe, expect, it } from 'vitest';
import type { BusType, DeviceDriver, KResult } from '../src/index';
import {
  ancestors,
  Device,
  devmAdd,
  devmRelease,
  devmRemove,
  devPath,
  devresNames,
  deviceAdd,
  deviceAttach,
  deviceDel,
  deviceReleaseDriver,
  driverUnregister,
  err,
  Errno,
  KERN_DEBUG,
  KERN_ERR,
  Kernel,
  KernelBug,
} from '../src/index';

/** A bus matching by a `wants` list on the device's driverData-free side: name prefix match. */
function makeBus(name = 'pci'): BusType {
  return { name, match: (dev, drv) => dev.name.startsWith(drv.name === 'nvme' ? '0000:03' : '0000:0') };
}

function driver(bus: BusType, name: string, probe: (dev: Device) => KResult, remove?: (dev: Device) => void): DeviceDriver {
  return remove === undefined ? { name, bus, probe } : { name, bus, probe, remove };
}

describe('device registration (drivers/base/core.c device_add/device_del)', () => {
  it('registers devices in order, links parents and children, computes ancestors and sysfs paths', () => {
    const k = new Kernel();
    const host = new Device(k, 'pci0000:00');
    const port = new Device(k, '0000:00:01.0', { parent: host });
    const ep = new Device(k, '0000:01:00.0', { parent: port });
    for (const d of [host, port, ep]) expect(deviceAdd(d)).toBe(0);
    expect(k.devices()).toEqual([host, port, ep]);
    expect(k.findDevice('0000:00:01.0')).toBe(port);
    expect(k.findDevice('nope')).toBeNull();
    expect(host.children).toEqual([port]);
    expect(ancestors(ep)).toEqual([port, host]);
    expect(ancestors(host)).toEqual([]);
    expect(devPath(ep)).toBe('/devices/pci0000:00/0000:00:01.0/0000:01:00.0');
    expect(ep.dmaOps).toBe('direct');
    expect(ep.dmaMask).toBe(64);
  });

  it('refuses a duplicate name with -EEXIST and the sysfs warning; an empty name with -EINVAL', () => {
    const k = new Kernel();
    expect(deviceAdd(new Device(k, 'a'))).toBe(0);
    expect(deviceAdd(new Device(k, 'a'))).toBe(-Errno.EEXIST);
    expect(k.log.lines().map((l) => l.text)).toEqual(["sysfs: cannot create duplicate filename '/devices/a'"]);
    expect(deviceAdd(new Device(k, ''))).toBe(-Errno.EINVAL);
    expect(k.devices()).toHaveLength(1);
  });

  it('treats double add, an unregistered parent and a cross-kernel parent as model bugs', () => {
    const k = new Kernel();
    const d = new Device(k, 'x');
    deviceAdd(d);
    expect(() => deviceAdd(d)).toThrow(KernelBug);
    expect(() => deviceAdd(new Device(k, 'child', { parent: new Device(k, 'ghost') }))).toThrow('parent ghost is not registered');
    expect(() => new Device(new Kernel(), 'y', { parent: d })).toThrow('belongs to another kernel');
  });

  it('deviceDel removes children first (last added first), then the device; it cannot come back', () => {
    const k = new Kernel();
    const order: string[] = [];
    const root = new Device(k, 'root');
    const a = new Device(k, 'a', { parent: root });
    const b = new Device(k, 'b', { parent: root });
    for (const d of [root, a, b]) deviceAdd(d);
    for (const d of [root, a, b]) devmAdd(d, `${d.name}-res`, () => order.push(d.name));
    deviceDel(root);
    expect(order).toEqual(['b', 'a', 'root']);
    expect(k.devices()).toEqual([]);
    expect(root.registered).toBe(false);
    expect(() => deviceDel(root)).toThrow(KernelBug);
    expect(() => deviceAdd(root)).toThrow(KernelBug);
    expect(deviceAttach(root)).toBe(-Errno.ENODEV);
  });
});

describe('driver binding (drivers/base/dd.c)', () => {
  it('driverRegister binds matching devices already present; deviceAdd binds to registered drivers', () => {
    const k = new Kernel();
    const bus = makeBus();
    const probed: string[] = [];
    const nvme = driver(bus, 'nvme', (dev) => {
      probed.push(dev.name);
      dev.driverData = { ctrl: dev.name };
      return 0;
    });
    const early = new Device(k, '0000:03:00.0', { bus });
    const other = new Device(k, '0000:04:00.0', { bus });
    deviceAdd(early);
    deviceAdd(other);
    expect(early.driver).toBeNull();
    expect(k.driverRegister(nvme)).toBe(0);
    expect(early.driver).toBe(nvme);
    expect(other.driver).toBeNull();
    const late = new Device(k, '0000:03:00.1', { bus });
    deviceAdd(late);
    expect(late.driver).toBe(nvme);
    expect(probed).toEqual(['0000:03:00.0', '0000:03:00.1']);
    expect(deviceAttach(late)).toBe(1);
    expect(deviceAttach(other)).toBe(0);
  });

  it('refuses a second driver of the same name on the bus with -EBUSY', () => {
    const k = new Kernel();
    const bus = makeBus();
    expect(k.driverRegister(driver(bus, 'nvme', () => 0))).toBe(0);
    expect(k.driverRegister(driver(bus, 'nvme', () => 0))).toBe(-Errno.EBUSY);
    expect(k.log.lines().map((l) => l.text)).toEqual(["Error: Driver 'nvme' is already registered, aborting..."]);
  });

  it('unbind runs remove(), then releases devres in reverse order of addition (devm_add_action)', () => {
    const k = new Kernel();
    const bus = makeBus();
    const events: string[] = [];
    const nvme = driver(
      bus,
      'nvme',
      (dev) => {
        devmAdd(dev, 'map bar', () => events.push('unmap bar'));
        devmAdd(dev, 'alloc queues', () => events.push('free queues'));
        devmAdd(dev, 'p2pdma', () => events.push('p2pdma release'));
        return 0;
      },
      () => events.push('remove'),
    );
    k.driverRegister(nvme);
    const dev = new Device(k, '0000:03:00.0', { bus });
    deviceAdd(dev);
    expect(devresNames(dev)).toEqual(['map bar', 'alloc queues', 'p2pdma']);
    dev.driverData = 'ctrl';
    deviceReleaseDriver(dev);
    expect(events).toEqual(['remove', 'p2pdma release', 'free queues', 'unmap bar']);
    expect(dev.driver).toBeNull();
    expect(dev.driverData).toBeNull();
    expect(devresNames(dev)).toEqual([]);
  });

  it('a failed probe releases its devres in reverse order, unbinds, and logs "probe with driver nvme failed with error -22"', () => {
    const k = new Kernel();
    const bus = makeBus();
    const events: string[] = [];
    const nvme = driver(bus, 'nvme', (dev) => {
      devmAdd(dev, 'first', () => events.push('first'));
      devmAdd(dev, 'second', () => events.push('second'));
      k.log.devInfo(dev, 'probing');
      return err('EINVAL');
    });
    k.driverRegister(nvme);
    const dev = new Device(k, '0000:03:00.0', { bus });
    expect(deviceAdd(dev)).toBe(0); // a failed probe does not fail device_add
    expect(events).toEqual(['second', 'first']);
    expect(dev.driver).toBeNull();
    expect(k.log.lines()).toEqual([
      { time: 0, level: 6, text: 'nvme 0000:03:00.0: probing', dev: '0000:03:00.0' },
      { time: 0, level: KERN_ERR, text: 'nvme 0000:03:00.0: probe with driver nvme failed with error -22', dev: '0000:03:00.0' },
    ]);
  });

  it('-ENODEV/-ENXIO probes "reject the match" at debug level and the next driver gets its turn', () => {
    const k = new Kernel();
    const bus: BusType = { name: 'pci', match: () => true };
    const picky = driver(bus, 'picky', () => err('ENODEV'));
    const deferring = driver(bus, 'later', () => err('EPROBE_DEFER'));
    const good = driver(bus, 'good', () => 0);
    k.driverRegister(picky);
    k.driverRegister(deferring);
    k.driverRegister(good);
    const dev = new Device(k, '0000:05:00.0', { bus });
    deviceAdd(dev);
    expect(dev.driver).toBe(good);
    expect(k.log.lines().map((l) => [l.level, l.text])).toEqual([
      [KERN_DEBUG, 'picky 0000:05:00.0: probe with driver picky rejects match -19'],
      [KERN_DEBUG, 'later 0000:05:00.0: Driver later requests probe deferral'],
    ]);
  });

  it('bus probe/remove hooks replace the driver hooks (pci_device_probe style)', () => {
    const k = new Kernel();
    const calls: string[] = [];
    const bus: BusType = {
      name: 'pci',
      match: () => true,
      probe: (dev) => {
        calls.push(`bus probe ${dev.driver?.name}`);
        return dev.driver!.probe(dev);
      },
      remove: (dev) => calls.push(`bus remove ${dev.name}`),
    };
    const drv = driver(bus, 'nvme', () => {
      calls.push('drv probe');
      return 0;
    }, () => calls.push('drv remove'));
    k.driverRegister(drv);
    const dev = new Device(k, '0000:03:00.0', { bus });
    deviceAdd(dev);
    driverUnregister(k, drv);
    expect(calls).toEqual(['bus probe nvme', 'drv probe', 'bus remove 0000:03:00.0']);
    expect(dev.driver).toBeNull();
    expect(k.deviceRegistry.drivers()).toEqual([]);
  });

  it('devmRemove drops an action unrun; devmRelease runs it now; unknown actions WARN', () => {
    const k = new Kernel();
    const dev = new Device(k, 'd');
    deviceAdd(dev);
    const ran: string[] = [];
    const a = (): void => {
      ran.push('a');
    };
    const b = (): void => {
      ran.push('b');
    };
    devmAdd(dev, 'a', a);
    devmAdd(dev, 'b', b);
    expect(devmRemove(dev, a)).toBe(true);
    expect(devmRelease(dev, b)).toBe(true);
    expect(ran).toEqual(['b']);
    expect(devmRelease(dev, b)).toBe(false);
    expect(k.log.lines().map((l) => l.text)).toEqual(['d: WARNING: devm_release_action: action not found']);
  });
});
