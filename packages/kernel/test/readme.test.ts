import { expect, it } from 'vitest';
import type { BusType, DeviceDriver } from '../src/index';
import { Device, deviceAdd, err, Kernel } from '../src/index';

it('the README example runs as documented', () => {
  const k = new Kernel({ cmdline: 'intel_iommu=on pci=disable_acs_redir=0000:00:01.0', seed: 1 });
  const pciBus: BusType = { name: 'pci', match: () => true };
  const nvme: DeviceDriver = {
    name: 'nvme',
    bus: pciBus,
    probe: (dev) => (dev.name.startsWith('0000:03') ? 0 : err('ENODEV')),
  };
  k.driverRegister(nvme);
  deviceAdd(new Device(k, '0000:03:00.0', { bus: pciBus }));
  k.log.devInfo(k.findDevice('0000:03:00.0')!, 'ready');
  expect(k.log.text()).toBe('[    0.000000] nvme 0000:03:00.0: ready\n');
  expect(k.cmdline.pciOption('disable_acs_redir')).toBe('0000:00:01.0');
  expect(k.iommu.enabled).toBe(true);
});
