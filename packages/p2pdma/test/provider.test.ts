import {
  devresNames,
  err,
  FAULT_DEVM_MEMREMAP_PAGES,
  FAULT_GENPOOL_ADD,
  FAULT_SYSFS_CREATE_GROUP,
  KernelBug,
  MEMORY_DEVICE_PCI_P2PDMA,
  P2PDMA_POLICIES,
} from '@p2pdma/kernel';
import { bar, topology } from '@p2pdma/pci-core';
import { describe, expect, it } from 'vitest';
import { pciP2pdma } from '../src/pci-p2pdma';
import { pciHasP2pmem, pciP2pdmaAddResource, pciP2pmemPublish } from '../src/provider';
import { boot, bootSpec, lines } from './helpers';

const CARD = '0000:06:00.0'; // p2pmem card, BAR4 256 MiB at 0x80000000 (seed-switch)
const NVME = '0000:04:00.0'; // NoLoad, BAR2 64 MiB CMB at 0x90000000, BAR0 16 KiB registers
const SYS = `/sys/bus/pci/devices/${CARD}/p2pmem`;

/** Everything a bad call must leave alone. */
function snapshot(b: ReturnType<typeof boot>, bdf: string) {
  const d = b.dev(bdf);
  const p2p = pciP2pdma(d);
  return {
    p2pdma: p2p === null ? null : { size: p2p.pool.size(), avail: p2p.pool.avail(), pagemaps: p2p.pagemaps.length, published: p2p.published },
    sysfs: b.kernel.sysfs.list(`/sys/bus/pci/devices/${bdf}`),
    pagemaps: b.kernel.memmap.pagemaps().length,
    devres: devresNames(d),
    logLines: b.kernel.log.lines().length,
  };
}

describe('pci_p2pdma_add_resource: registering a BAR (seed patch 01-02, 6.6)', () => {
  it('upstream 6.6: whole BAR, pagemap with the bus offset, pool at bus addresses, sysfs p2pmem/, %#llx log line', () => {
    const b = boot('seed-switch');
    const card = b.dev(CARD);
    expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
    expect(lines(b.kernel, 'added peer-to-peer')).toEqual([`pci ${CARD}: added peer-to-peer DMA memory 0x80000000-0x8fffffff`]);
    const p2p = pciP2pdma(card)!;
    expect(p2p.pool.size()).toBe(256 * 2 ** 20);
    expect(p2p.pool.chunkList()[0]!.phys).toBe(0x8000_0000); // bus address (offset 0 here)
    const pgmap = p2p.pagemaps[0]!;
    expect(pgmap.type).toBe(MEMORY_DEVICE_PCI_P2PDMA);
    expect(pgmap.range).toEqual({ start: 0x8000_0000, end: 0x8fff_ffff });
    expect(pgmap.pciP2pdmaBusOffset).toBe(0);
    expect(b.kernel.sysfs.list(SYS)).toEqual(['available', 'published', 'size']);
    expect(b.kernel.sysfs.read(`${SYS}/size`)).toBe('268435456\n');
    expect(b.kernel.sysfs.read(`${SYS}/available`)).toBe('268435456\n');
    expect(b.kernel.sysfs.read(`${SYS}/published`)).toBe('0\n');
    expect(devresNames(card)).toEqual(['pci_p2pdma_release', 'devm_memremap_pages_release']);
  });

  it('seed v2: the log line prints the range with %pR, and a percpu_kill action is added per resource', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    const card = b.dev(CARD);
    // Two halves in different 128 MiB sections (one section each, as 4.16 requires).
    expect(pciP2pdmaAddResource(card, 4, 128 * 2 ** 20, 0)).toBe(0);
    expect(pciP2pdmaAddResource(card, 4, 0, 128 * 2 ** 20)).toBe(0);
    expect(lines(b.kernel, 'added peer-to-peer')).toEqual([
      `pci ${CARD}: added peer-to-peer DMA memory [mem 0x80000000-0x87ffffff 64bit pref]`,
      `pci ${CARD}: added peer-to-peer DMA memory [mem 0x88000000-0x8fffffff 64bit pref]`,
    ]);
    expect(devresNames(card)).toEqual([
      'pci_p2pdma_release',
      'devm_memremap_pages_release',
      'pci_p2pdma_percpu_kill',
      'devm_memremap_pages_release',
      'pci_p2pdma_percpu_kill',
    ]);
    const p2p = pciP2pdma(card)!;
    // One shared devmap_ref, as the seed passes &pdev->p2pdma->devmap_ref to every pagemap.
    expect(p2p.pagemaps.map((p) => p.ref)).toEqual([p2p.devmapRef, p2p.devmapRef]);
    expect(b.kernel.sysfs.read(`${SYS}/size`)).toBe('268435456\n');
  });

  it('size 0 means the rest of the BAR after the offset; size + offset up to the end is accepted', () => {
    const b = boot('seed-switch');
    const card = b.dev(CARD);
    expect(pciP2pdmaAddResource(card, 4, 0, 128 * 2 ** 20)).toBe(0);
    expect(pciP2pdma(card)!.pool.size()).toBe(128 * 2 ** 20);
    expect(pciP2pdmaAddResource(card, 4, 64 * 2 ** 20, 64 * 2 ** 20)).toBe(0);
    expect(b.kernel.sysfs.read(`${SYS}/size`)).toBe(`${192 * 2 ** 20}\n`);
  });

  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: bad calls return -EINVAL and change nothing (I/O BAR, unknown or unused index, zero-length, offset/size out of range)`, () => {
      const io = topology('io-bar')
        .systemRam([{ base: 0, size: 2 ** 31 }])
        .hostBridge({ vendor: 0x8086, device: 0x2020, memWindow: { cpuBase: 2 ** 31, size: 2 ** 30 } }, (hb) => {
          hb.rootPort('00:01.0', {}, (rp) => rp.endpoint({ vendor: 0x1234, device: 0x5678, bars: [bar.io(0, 256), bar.mem64(2, 4 * 2 ** 20)] }));
        })
        .build();
      const bi = bootSpec(io, { policy });
      const ep = bi.dev('0000:01:00.0');
      const before = snapshot(bi, '0000:01:00.0');
      expect(pciP2pdmaAddResource(ep, 0, 0, 0)).toBe(err('EINVAL')); // I/O BAR
      expect(pciP2pdmaAddResource(ep, 1, 0, 0)).toBe(err('EINVAL')); // upper half of the 64-bit BAR: unused, zero length
      expect(pciP2pdmaAddResource(ep, 4, 0, 0)).toBe(err('EINVAL')); // zero-length (no BAR 4)
      expect(pciP2pdmaAddResource(ep, 99, 0, 0)).toBe(err('EINVAL')); // unknown index
      expect(pciP2pdmaAddResource(ep, -1, 0, 0)).toBe(err('EINVAL'));
      expect(pciP2pdmaAddResource(ep, 2, 0, 4 * 2 ** 20)).toBe(err('EINVAL')); // offset == len
      expect(pciP2pdmaAddResource(ep, 2, 4 * 2 ** 20, 4096)).toBe(err('EINVAL')); // size + offset > len
      expect(pciP2pdmaAddResource(ep, 2, -4096, 0)).toBe(err('EINVAL')); // a negative size_t is huge
      expect(snapshot(bi, '0000:01:00.0')).toEqual(before);

      // The same after the provider was set up: pool, sysfs, pagemaps untouched.
      const b = boot('seed-switch', { policy });
      const card = b.dev(CARD);
      expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
      const set = snapshot(b, CARD);
      expect(pciP2pdmaAddResource(card, 4, 0, 256 * 2 ** 20)).toBe(err('EINVAL'));
      expect(pciP2pdmaAddResource(card, 1, 0, 0)).toBe(err('EINVAL'));
      expect(pciP2pdmaAddResource(card, 4, 2 ** 29, 0)).toBe(err('EINVAL'));
      expect(snapshot(b, CARD)).toEqual(set);
      expect(b.kernel.sysfs.read(`${SYS}/available`)).toBe('268435456\n');
    });
  }

  it('upstream 6.6: memremap needs 2 MiB alignment (Misaligned __add_pages, -EINVAL); the seed (4.16) accepts a page-aligned range', () => {
    const b = boot('seed-switch');
    const nvme = b.dev(NVME);
    expect(pciP2pdmaAddResource(nvme, 0, 0, 0)).toBe(err('EINVAL')); // 16 KiB register BAR
    expect(lines(b.kernel, 'Misaligned __add_pages')).toHaveLength(1);
    // The provider state stays (as in 6.6): an empty pool, sysfs shows 0.
    expect(b.kernel.sysfs.read(`/sys/bus/pci/devices/${NVME}/p2pmem/size`)).toBe('0\n');
    const v2 = boot('seed-switch', { policy: 'v2' });
    expect(pciP2pdmaAddResource(v2.dev(NVME), 0, 0, 0)).toBe(0);
    expect(v2.kernel.sysfs.read(`/sys/bus/pci/devices/${NVME}/p2pmem/size`)).toBe('16384\n');
  });

  it('seed v2 (4.16): two BARs in one 128 MiB section conflict (-ENOMEM); 6.6 maps them side by side', () => {
    const v2 = boot('seed-switch', { policy: 'v2' });
    expect(pciP2pdmaAddResource(v2.dev(NVME), 2, 0, 0)).toBe(0); // 0x90000000-0x93ffffff
    expect(pciP2pdmaAddResource(v2.dev('0000:03:00.0'), 0, 0, 0)).toBe(err('ENOMEM')); // RNIC BAR0 at 0x94000000: same section
    expect(lines(v2.kernel, 'Conflicting mapping in same section')).toHaveLength(1);
    const up = boot('seed-switch');
    expect(pciP2pdmaAddResource(up.dev(NVME), 2, 0, 0)).toBe(0);
    expect(pciP2pdmaAddResource(up.dev('0000:03:00.0'), 0, 0, 0)).toBe(0);
  });

  it('upstream 6.6: a p2pmem/ group that cannot be created fails the setup and leaves nothing', () => {
    const b = boot('seed-switch');
    const card = b.dev(CARD);
    const before = snapshot(b, CARD);
    b.kernel.faults.inject(FAULT_SYSFS_CREATE_GROUP, { errno: err('ENOMEM') });
    expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(err('ENOMEM'));
    expect(snapshot(b, CARD)).toEqual(before);
    expect(b.kernel.sysfs.exists(SYS)).toBe(false);
    expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0); // and a later call works
    expect(b.kernel.sysfs.exists(SYS)).toBe(true);
  });

  it('seed v2 patch 02: the group error is assigned and ignored: setup succeeds without p2pmem/', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    const card = b.dev(CARD);
    b.kernel.faults.inject(FAULT_SYSFS_CREATE_GROUP);
    expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
    expect(pciP2pdma(card)!.sysfsGroupCreated).toBe(false);
    expect(b.kernel.sysfs.exists(SYS)).toBe(false);
    expect(pciP2pdma(card)!.pool.size()).toBe(256 * 2 ** 20);
  });

  it('a failed pool add: 6.6 unmaps the pages again (pages_free); the seed leaves them mapped until unbind', () => {
    const up = boot('seed-switch');
    up.kernel.faults.inject(FAULT_GENPOOL_ADD);
    expect(pciP2pdmaAddResource(up.dev(CARD), 4, 0, 0)).toBe(err('ENOMEM'));
    expect(up.kernel.memmap.pagemaps()).toHaveLength(0);
    expect(pciP2pdma(up.dev(CARD))!.pagemaps).toHaveLength(0);
    const v2 = boot('seed-switch', { policy: 'v2' });
    v2.kernel.faults.inject(FAULT_GENPOOL_ADD);
    expect(pciP2pdmaAddResource(v2.dev(CARD), 4, 0, 0)).toBe(err('ENOMEM'));
    expect(v2.kernel.memmap.pagemaps()).toHaveLength(1);
    expect(lines(v2.kernel, 'added peer-to-peer')).toEqual([]);
  });

  it('a failed memremap returns its errno (fault site) and adds no pagemap', () => {
    for (const policy of P2PDMA_POLICIES) {
      const b = boot('seed-switch', { policy });
      b.kernel.faults.inject(FAULT_DEVM_MEMREMAP_PAGES, { errno: err('ENOMEM') });
      expect(pciP2pdmaAddResource(b.dev(CARD), 4, 0, 0)).toBe(err('ENOMEM'));
      expect(b.kernel.memmap.pagemaps()).toHaveLength(0);
    }
  });

  it('a BAR range that is not page aligned contributes only its whole pages to the pool (seed v2)', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    const card = b.dev(CARD);
    expect(pciP2pdmaAddResource(card, 4, 3 * 4096, 100)).toBe(0);
    expect(pciP2pdma(card)!.pool.chunkList()).toEqual([{ virt: expect.any(Number), phys: 0x8000_1000, size: 2 * 4096 }]);
  });
});

describe('pci_p2pmem_publish / pci_has_p2pmem', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: publish toggles published (sysfs and pci_has_p2pmem)`, () => {
      const b = boot('seed-switch', { policy });
      const card = b.dev(CARD);
      expect(pciHasP2pmem(card)).toBe(false);
      pciP2pdmaAddResource(card, 4, 0, 0);
      pciP2pmemPublish(card, true);
      expect(pciHasP2pmem(card)).toBe(true);
      expect(b.kernel.sysfs.read(`${SYS}/published`)).toBe('1\n');
      pciP2pmemPublish(card, false);
      expect(pciHasP2pmem(card)).toBe(false);
      expect(b.kernel.sysfs.read(`${SYS}/published`)).toBe('0\n');
    });
  }

  it('publishing a device without p2pmem is ignored (both); unpublishing it: 6.6 ignores, the seed dereferences NULL', () => {
    const up = boot('seed-switch');
    const upBefore = snapshot(up, CARD);
    pciP2pmemPublish(up.dev(CARD), true);
    pciP2pmemPublish(up.dev(CARD), false);
    expect(snapshot(up, CARD)).toEqual(upBefore);
    const v2 = boot('seed-switch', { policy: 'v2' });
    const before = snapshot(v2, CARD);
    pciP2pmemPublish(v2.dev(CARD), true);
    expect(() => pciP2pmemPublish(v2.dev(CARD), false)).toThrow(KernelBug);
    expect(() => pciP2pmemPublish(v2.dev(CARD), false)).toThrow(/NULL pointer dereference in pci_p2pmem_publish\(0000:06:00.0, false\)/);
    expect(snapshot(v2, CARD)).toEqual(before);
  });
});
