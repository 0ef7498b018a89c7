import { expect, it } from 'vitest';
import type { BusType, DeviceDriver } from '../src/index';
import {
  DevPagemap,
  Device,
  DMA_TO_DEVICE,
  deviceAdd,
  devmMemremapPages,
  dmaMapSg,
  err,
  GenPool,
  Kernel,
  MEMORY_DEVICE_PCI_P2PDMA,
  PAGE_SHIFT,
  PAGE_SIZE,
  sgAllocTable,
  sgSetPage,
  virtToPage,
} from '../src/index';

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

it('the phase B README example runs as documented', () => {
  const k = new Kernel({ iommu: true });
  const nic = new Device(k, '0000:02:00.0');
  deviceAdd(nic);
  k.iommu.groupAddDevice(k.iommu.allocGroup(), nic);
  const nvme = new Device(k, '0000:03:00.0');
  deviceAdd(nvme);
  const pgmap = new DevPagemap({ type: MEMORY_DEVICE_PCI_P2PDMA, range: { start: 0xe000_0000, end: 0xe01f_ffff } });
  const virt = devmMemremapPages(nvme, pgmap) as number;
  const pool = new GenPool(k, PAGE_SHIFT);
  pool.addVirt(virt, 0xe000_0000, 2 ** 21, -1, pgmap.ref);
  const buf = pool.alloc(PAGE_SIZE);
  const sgt = sgAllocTable(k, 1)!;
  sgSetPage(sgt.sgl, virtToPage(k, buf)!, PAGE_SIZE, 0);
  expect(dmaMapSg(nic, sgt.sgl, 1, DMA_TO_DEVICE)).toBe(1);
  expect(nic.iommuGroup!.domain.iovaToPhys(sgt.sgl.dmaAddress)).toBe(0xe000_0000);
  expect(k.dmaDebug.liveMappings(nic).length).toBe(1);
});
