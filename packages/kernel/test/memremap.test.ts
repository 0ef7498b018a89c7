import { describe, expect, it } from 'vitest';
import type { BusType, MmioHandler } from '../src/index';
import {
  DevPagemap,
  Device,
  deviceAdd,
  deviceDel,
  devmMemremapPages,
  devmMemunmapPages,
  devresNames,
  Errno,
  FAULT_DEVM_MEMREMAP_PAGES,
  getDevPagemap,
  getPage,
  isZoneDevicePage,
  KERN_WARNING,
  Kernel,
  KernelBug,
  MEMORY_DEVICE_GENERIC,
  MEMORY_DEVICE_PCI_P2PDMA,
  MEMORY_DEVICE_PRIVATE,
  memunmapPages,
  PAGE_OFFSET,
  PAGE_SIZE,
  PercpuRef,
  pageAddress,
  pageToPfn,
  pageToPhys,
  pfnToPage,
  physToPage,
  putDevPagemap,
  putPage,
  virtToPage,
  virtToPhys,
} from '../src/index';

const MiB = 2 ** 20;
const BAR = 0xe000_0000; // in the 32-bit PCI hole of the default memory map
const pciBus: BusType = { name: 'pci', match: () => false };

function setup(opts: ConstructorParameters<typeof Kernel>[0] = {}) {
  const k = new Kernel(opts);
  const root = new Device(k, 'pci0000:00');
  deviceAdd(root);
  const dev = new Device(k, '0000:03:00.0', { parent: root, bus: pciBus });
  deviceAdd(dev);
  return { k, dev };
}

function p2pPagemap(start: number, size: number, extra: Partial<ConstructorParameters<typeof DevPagemap>[0]> = {}): DevPagemap {
  return new DevPagemap({ type: MEMORY_DEVICE_PCI_P2PDMA, range: { start, end: start + size - 1 }, ...extra });
}

function warnings(k: Kernel): string[] {
  return k.log.lines().filter((l) => l.level === KERN_WARNING).map((l) => l.text);
}

describe('struct page for System RAM (pfn_to_page, page_address, virt_to_page)', () => {
  it('creates RAM pages lazily, caches them, and has none for holes', () => {
    const k = new Kernel();
    expect(k.memmap.ramPagesCreated()).toBe(0);
    const p = pfnToPage(k, 0x1234)!;
    expect(p).toBe(pfnToPage(k, 0x1234));
    expect(k.memmap.ramPagesCreated()).toBe(1);
    expect(pageToPfn(p)).toBe(0x1234);
    expect(pageToPhys(p)).toBe(0x1234 * PAGE_SIZE);
    expect(pageAddress(p)).toBe(PAGE_OFFSET + 0x1234 * PAGE_SIZE);
    expect(virtToPage(k, pageAddress(p) + 100)).toBe(p);
    expect(physToPage(k, 0x1234 * PAGE_SIZE + 5)).toBe(p);
    expect(isZoneDevicePage(p)).toBe(false);
    expect(pfnToPage(k, BAR / PAGE_SIZE)).toBeNull(); // the PCI hole: no memmap
    expect(pfnToPage(k, -1)).toBeNull();
    expect(() => virtToPage(k, 5)).toThrow(KernelBug); // not a linear-map address
  });
});

describe('devm_memremap_pages: ZONE_DEVICE pages for a BAR (upstream = 6.6 rules)', () => {
  it('maps a P2PDMA range: device pages carry the pagemap, virt is the linear map, devres releases it', () => {
    const { k, dev } = setup();
    const pgmap = p2pPagemap(BAR, 2 * MiB, { pciP2pdmaBusOffset: -0x1000_0000 });
    const virt = devmMemremapPages(dev, pgmap);
    expect(virt).toBe(PAGE_OFFSET + BAR);
    expect(pgmap.state).toBe('mapped');
    expect(pgmap.owner).toBe(dev);
    expect(devresNames(dev)).toEqual(['devm_memremap_pages_release']);
    const page = pfnToPage(k, BAR / PAGE_SIZE + 3)!;
    expect(page.pgmap).toBe(pgmap);
    expect(isZoneDevicePage(page)).toBe(true);
    expect(page).toBe(virtToPage(k, (virt as number) + 3 * PAGE_SIZE));
    expect(pfnToPage(k, (BAR + 2 * MiB) / PAGE_SIZE)).toBeNull();
    expect(k.memmap.pagemaps()).toEqual([pgmap]);
    deviceDel(dev);
    expect(pgmap.state).toBe('unmapped');
    expect(pgmap.done.done).toBe(true);
    expect(pfnToPage(k, BAR / PAGE_SIZE + 3)).toBeNull();
    expect(k.log.lines()).toEqual([]);
  });

  it('sends CPU accesses to a device page virt through kernel.memory MMIO dispatch', () => {
    const { k, dev } = setup();
    const bar = new Uint8Array(2 * MiB);
    const seen: string[] = [];
    const handler: MmioHandler = {
      read: (off, out) => {
        seen.push(`r ${off} ${out.length}`);
        out.set(bar.subarray(off, off + out.length));
      },
      write: (off, data) => {
        seen.push(`w ${off} ${data.length}`);
        bar.set(data, off);
      },
    };
    k.memory.registerMmio(BAR, 2 * MiB, handler, '0000:03:00.0 BAR 4');
    const virt = devmMemremapPages(dev, p2pPagemap(BAR, 2 * MiB)) as number;
    const page = virtToPage(k, virt + 5 * PAGE_SIZE)!;
    expect(k.memory.cpuWrite(virtToPhys(pageAddress(page)) + 8, new Uint8Array([1, 2, 3]))).toBe(0);
    expect(bar.subarray(5 * PAGE_SIZE + 8, 5 * PAGE_SIZE + 11)).toEqual(new Uint8Array([1, 2, 3]));
    expect(k.memory.cpuRead(virtToPhys(virt) + 5 * PAGE_SIZE + 8, 3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(seen).toEqual([`w ${5 * PAGE_SIZE + 8} 3`, `r ${5 * PAGE_SIZE + 8} 3`]);
    expect(k.memory.cpuMmioWriteBytes).toBe(3);
  });

  it('refuses a range overlapping a mapped pagemap with -ENOMEM and the WARN text', () => {
    const { k, dev } = setup();
    expect(devmMemremapPages(dev, p2pPagemap(BAR, 4 * MiB))).toBe(PAGE_OFFSET + BAR);
    const second = p2pPagemap(BAR + 2 * MiB, 2 * MiB);
    expect(devmMemremapPages(dev, second)).toBe(-Errno.ENOMEM);
    expect(warnings(k)).toEqual(['Conflicting mapping in same section']);
    expect(second.state).toBe('new');
    expect(second.ref.initialized).toBe(false);
    expect(k.memmap.pagemaps()).toHaveLength(1);
  });

  it('refuses System RAM with -ENXIO ("attempted on ram/mixed region")', () => {
    const { k, dev } = setup();
    expect(devmMemremapPages(dev, p2pPagemap(2 * MiB, 2 * MiB))).toBe(-Errno.ENXIO);
    expect(devmMemremapPages(dev, p2pPagemap(0xc000_0000 - 2 * MiB, 4 * MiB))).toBe(-Errno.ENXIO);
    expect(warnings(k)).toEqual(['attempted on ram region 0x200000-0x3fffff', 'attempted on mixed region 0xbfe00000-0xc01fffff']);
    expect(k.memmap.pagemaps()).toEqual([]);
  });

  it('needs 2 MiB sub-section alignment of start and size (check_pfn_span, -EINVAL)', () => {
    const { k, dev } = setup();
    expect(devmMemremapPages(dev, p2pPagemap(BAR, MiB))).toBe(-Errno.EINVAL);
    expect(devmMemremapPages(dev, p2pPagemap(BAR + MiB, 2 * MiB))).toBe(-Errno.EINVAL);
    expect(warnings(k)).toEqual(['Misaligned __add_pages start: 0xe0000 end: 0xe00ff', 'Misaligned __add_pages start: 0xe0100 end: 0xe02ff']);
  });

  it('checks the type requirements (device-private needs ops and an owner) and CONFIG_ZONE_DEVICE', () => {
    const { k, dev } = setup();
    const priv = new DevPagemap({ type: MEMORY_DEVICE_PRIVATE, range: { start: BAR, end: BAR + 2 * MiB - 1 } });
    expect(devmMemremapPages(dev, priv)).toBe(-Errno.EINVAL);
    expect(warnings(k)).toEqual(['Missing migrate_to_ram method']);
    const off = setup({ config: { CONFIG_ZONE_DEVICE: false } });
    expect(devmMemremapPages(off.dev, p2pPagemap(BAR, 2 * MiB))).toBe(-Errno.ENXIO);
    expect(warnings(off.k)).toEqual(['WARNING: devm_memremap_pages() called without CONFIG_ZONE_DEVICE']);
  });

  it('fails on demand (FAULT_DEVM_MEMREMAP_PAGES) without touching anything', () => {
    const { k, dev } = setup();
    k.faults.inject(FAULT_DEVM_MEMREMAP_PAGES, { errno: -Errno.EBUSY as never });
    const pgmap = p2pPagemap(BAR, 2 * MiB);
    expect(devmMemremapPages(dev, pgmap)).toBe(-Errno.EBUSY);
    expect(devresNames(dev)).toEqual([]);
    expect(devmMemremapPages(dev, pgmap)).toBe(PAGE_OFFSET + BAR);
    expect(() => devmMemremapPages(dev, pgmap)).toThrow(/already mapped/);
  });

  it('waits for references before removing pages (memunmap_pages: kill, wait for the drain)', () => {
    const { k, dev } = setup();
    const pgmap = p2pPagemap(BAR, 2 * MiB);
    devmMemremapPages(dev, pgmap);
    const got = getDevPagemap(k, BAR / PAGE_SIZE + 1);
    expect(got).toBe(pgmap);
    expect(pgmap.ref.count).toBe(2);
    expect(devmMemunmapPages(dev, pgmap)).toBe(true);
    expect(pgmap.state).toBe('dying');
    expect(getDevPagemap(k, BAR / PAGE_SIZE + 1)).toBeNull(); // no new users
    expect(pfnToPage(k, BAR / PAGE_SIZE + 1)).not.toBeNull(); // pages still exist
    expect(pgmap.done.done).toBe(false);
    putDevPagemap(got!);
    expect(pgmap.state).toBe('unmapped');
    expect(pgmap.done.done).toBe(true);
    expect(pfnToPage(k, BAR / PAGE_SIZE + 1)).toBeNull();
    expect(devresNames(dev)).toEqual([]);
    expect(() => memunmapPages(pgmap)).toThrow(/is unmapped, not mapped/);
  });

  it('accepts an external, owner-managed ref as the 2018 API did (p2pdma devmap_ref)', () => {
    const { dev } = setup({ policy: 'v2' });
    const ref = new PercpuRef('0000:03:00.0 devmap_ref');
    let released = 0;
    ref.init(() => released++);
    const pgmap = p2pPagemap(BAR, MiB, { ref });
    expect(devmMemremapPages(dev, pgmap)).toBe(PAGE_OFFSET + BAR);
    expect(ref.tryGetLive()).toBe(true); // an allocation
    ref.kill(); // pci_p2pdma_percpu_kill runs first on unbind
    deviceDel(dev);
    expect(pgmap.state).toBe('dying');
    ref.put(); // the allocation is freed
    expect(released).toBe(1);
    expect(pgmap.state).toBe('unmapped');
    expect(ref.initialized).toBe(true); // the owner exits its own ref
  });

  it('hands ZONE_DEVICE pages back through ops.pageFree when their refcount drops to zero', () => {
    const { k, dev } = setup();
    const freed: number[] = [];
    const pgmap = new DevPagemap({ type: MEMORY_DEVICE_GENERIC, range: { start: BAR, end: BAR + 2 * MiB - 1 }, ops: { pageFree: (p) => freed.push(p.pfn) } });
    devmMemremapPages(dev, pgmap);
    const page = pfnToPage(k, BAR / PAGE_SIZE)!;
    getPage(page);
    getPage(page);
    putPage(page);
    expect(freed).toEqual([]);
    putPage(page);
    expect(freed).toEqual([BAR / PAGE_SIZE]);
    expect(() => putPage(page)).toThrow(/refcount 0/);
  });
});

describe('devm_memremap_pages under the v2 policy (4.16: 128 MiB sections)', () => {
  it('makes two small BARs in one section conflict (dev_WARN), and allows unaligned ranges', () => {
    const { k, dev } = setup({ policy: 'v2' });
    expect(devmMemremapPages(dev, p2pPagemap(BAR, MiB))).toBe(PAGE_OFFSET + BAR);
    expect(devmMemremapPages(dev, p2pPagemap(BAR + 16 * MiB, MiB))).toBe(-Errno.ENOMEM);
    expect(devmMemremapPages(dev, p2pPagemap(BAR + 128 * MiB, 16 * PAGE_SIZE))).toBe(PAGE_OFFSET + BAR + 128 * MiB);
    expect(warnings(k)).toEqual(['pci 0000:03:00.0: Conflicting mapping in same section']);
  });

  it('checks RAM over the whole section the range touches', () => {
    const { k, dev } = setup({ policy: 'v2', systemRam: [{ base: 0, size: 0xc100_0000 }] });
    expect(devmMemremapPages(dev, p2pPagemap(0xc400_0000, MiB))).toBe(-Errno.ENXIO);
    expect(warnings(k)).toEqual(['devm_memremap_pages attempted on mixed region [mem 0xc4000000-0xc40fffff flags 0x200]']);
  });
});
