import { DevPagemap, devmMemremapPages, DMA_TO_DEVICE, err, MEMORY_DEVICE_PCI_P2PDMA, physToVirt, Scatterlist, sgSetBuf, virtToPage } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { pciP2pdmaDisableAcs } from '../src/acs';
import { pciAllocP2pmem, pciFreeP2pmem, pciP2pmemAllocSgl, pciP2pmemFreeSgl, pciP2pmemVirtToBus } from '../src/alloc';
import { P2pdmaClientList, pciP2pdmaAddClient, pciP2pdmaClientListFree, pciP2pdmaRemoveClient, pciP2pmemFind } from '../src/client-list';
import { pciP2pdmaDistance, pciP2pdmaDistanceMany, pciP2pmemFindMany } from '../src/distance';
import { pciP2pdmaMapSg, pciP2pdmaUnmapSg } from '../src/map-sg';
import { isPciP2pdmaPage } from '../src/page';
import { pciP2pdma } from '../src/pci-p2pdma';
import { pciHasP2pmem, pciP2pdmaAddResource, pciP2pmemPublish } from '../src/provider';
import { P2PDMA_STUBS } from '../src/stubs';
import { boot } from './helpers';

const off = { CONFIG_PCI_P2PDMA: false };

describe('CONFIG_PCI_P2PDMA=n: the header stubs', () => {
  it('seed v2 header: add_resource 0 (!), add_client 0, find NULL, alloc NULL, alloc_sgl -ENODEV, map_sg 0, disable_acs 0; nothing happens', () => {
    const b = boot('seed-switch', { policy: 'v2', config: off });
    const card = b.dev('0000:06:00.0');
    const rnic = b.dev('0000:03:00.0');
    const logBefore = b.kernel.log.lines().length;
    expect(P2PDMA_STUBS.v2.addResource).toBe(0);
    expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0); // the driver believes it registered memory
    expect(pciP2pdma(card)).toBeNull();
    expect(b.kernel.sysfs.exists('/sys/bus/pci/devices/0000:06:00.0/p2pmem')).toBe(false);
    expect(b.kernel.memmap.pagemaps()).toEqual([]);
    pciP2pmemPublish(card, false); // no NULL dereference: the stub does nothing
    expect(pciHasP2pmem(card)).toBe(false);
    const list = new P2pdmaClientList(b.kernel);
    expect(pciP2pdmaAddClient(list, rnic)).toBe(0);
    expect(list.items).toEqual([]);
    list.items.push({ client: rnic, p2pdma: null });
    pciP2pdmaRemoveClient(list, rnic);
    pciP2pdmaClientListFree(list);
    expect(list.items).toHaveLength(1); // remove/free are empty stubs too
    expect(pciP2pmemFind(list)).toBeNull();
    expect(pciAllocP2pmem(card, 4096)).toBeNull();
    pciFreeP2pmem(card, 12345, 4096); // no-op, no BUG
    expect(pciP2pmemVirtToBus(card, physToVirt(0x8000_0000))).toBe(0);
    expect(pciP2pmemAllocSgl(card, 4096)).toBe(err('ENODEV'));
    expect(pciP2pdmaDisableAcs(b.dev('0000:02:08.0'))).toBe(0);
    expect(pciP2pdmaDistance(card, rnic, true)).toBe(-1);
    expect(b.kernel.log.lines().length).toBe(logBefore);
  });

  it('Linux 6.6 header: add_resource -EOPNOTSUPP, distance -1, find_many NULL, has_p2pmem false, map_sg 0, is_pci_p2pdma_page false', () => {
    const b = boot('seed-switch', { config: off });
    const card = b.dev('0000:06:00.0');
    const rnic = b.dev('0000:03:00.0');
    expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(err('EOPNOTSUPP'));
    expect(pciP2pdma(card)).toBeNull();
    expect(pciP2pdmaDistance(card, rnic, true)).toBe(-1);
    expect(pciP2pdmaDistanceMany(card, [rnic, card], false)).toBe(-1);
    expect(pciP2pmemFindMany([rnic])).toBeNull();
    expect(pciHasP2pmem(card)).toBe(false);
    expect(pciP2pmemAllocSgl(card, 4096)).toBe(err('ENODEV'));
    pciP2pmemFreeSgl(card, new Scatterlist(), 1);
    // A P2PDMA-typed pagemap made by hand: the stub still says "not a P2PDMA page", and map_sg maps nothing.
    const pgmap = new DevPagemap({ type: MEMORY_DEVICE_PCI_P2PDMA, range: { start: 0x8000_0000, end: 0x801f_ffff } });
    const virt = devmMemremapPages(card, pgmap) as number;
    const page = virtToPage(b.kernel, virt)!;
    expect(page.pgmap).toBe(pgmap);
    expect(isPciP2pdmaPage(page)).toBe(false);
    const sg = new Scatterlist();
    sgSetBuf(b.kernel, sg, virt, 4096);
    expect(pciP2pdmaMapSg(rnic, sg, 1, DMA_TO_DEVICE)).toBe(0);
    pciP2pdmaUnmapSg(rnic, sg, 1, DMA_TO_DEVICE);
    expect(b.kernel.dmaDebug.liveCount()).toBe(0);
  });
});
