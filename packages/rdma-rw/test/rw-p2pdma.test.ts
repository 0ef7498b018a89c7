/**
 * Seed patch 06/10 ("IB/core: Add optional PCI P2P flag to rdma_rw_ctx_[init|destroy]()") and
 * Sagi's review (decide from the pages, not a flag; accepted for v3, upstream since 4.20 and
 * inside dma_map_sgtable since 6.0): RDMA READ/WRITE with p2pmem SGLs on the seed's machine, under
 * both policies, with the IOMMU off and on, and what a wrong or missing flag does.
 */
import type { Scatterlist } from '@p2pdma/kernel';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, KERN_WARNING, sgVirt } from '@p2pdma/kernel';
import type { P2pSgl } from '@p2pdma/p2pdma';
import { p2pdmaEnumerationHooks, pciAllocP2pmem, pciP2pdmaAddResource, pciP2pmemAllocSgl, pciP2pmemPublish, pciP2pmemVirtToBus } from '@p2pdma/p2pdma';
import type { PciDev } from '@p2pdma/pci-core';
import { describe, expect, test } from 'vitest';
import { FAULT_RDMA_RW_ALLOC, IB_WC_RDMA_READ, IB_WC_RDMA_WRITE, IB_WC_SUCCESS, RDMA_RW_CTX_FLAG_PCI_P2PDMA, RdmaRwCtx, rdmaRwCtxDestroy, rdmaRwCtxInit, rdmaRwCtxPost } from '../src/index';
import type { Conn, Machine, MachineOptions } from './helpers';
import { barBytes, connect, drain, machine, ok, pattern, physOf, ramBuffer, recorder, sameBytes, sgOf } from './helpers';

const LEN = 64 * 1024;
const FLAG = RDMA_RW_CTX_FLAG_PCI_P2PDMA;

interface Rig extends Machine {
  c: Conn;
  sgl: P2pSgl;
}

/** The seed machine with the p2pmem card's BAR 4 published, a connected QP and a 64 KiB p2pmem SGL. */
function rig(opts: MachineOptions): Rig {
  const m = machine(opts);
  expect(pciP2pdmaAddResource(m.card, 4, 0, 0)).toBe(0);
  pciP2pmemPublish(m.card, true);
  const c = connect(m.ib);
  const sgl = ok(pciP2pmemAllocSgl(m.card, LEN));
  return { ...m, c, sgl };
}

/**
 * Posts a context (the doorbell is a CPU MMIO write), resets the fabric counters, runs the
 * clock: the counters then hold the data movement only.
 */
function run(r: Rig, ctx: RdmaRwCtx) {
  const rec = recorder(r.k);
  expect(rdmaRwCtxPost(ctx, r.c.qp, 1, rec.cqe, null)).toBe(0);
  r.sys.fabric.resetCounters();
  const wcs = drain(r.k, r.c.cq);
  expect(wcs.every((w) => w.wrCqe === rec.cqe)).toBe(true);
  return { wcs, f: r.sys.fabric.counters() };
}

function bar(card: PciDev, sg: Scatterlist, len = LEN): Uint8Array {
  return barBytes(card, 4, physOf(sg), len);
}

/** Data bytes on the link from the switch's upstream port to the root port, both directions. */
function aboveSwitch(f: ReturnType<Rig['sys']['fabric']['counters']>): number {
  const l = f.links['0000:01:00.0']!;
  return l.up + l.down;
}

describe('v2 (seed patch 06): the flag selects pci_p2pdma_map_sg', () => {
  test('RDMA READ into p2pmem with RDMA_RW_CTX_FLAG_PCI_P2PDMA: the NIC writes the provider BAR across the switch, zero DRAM and root-complex bytes', () => {
    const r = rig({ policy: 'v2' });
    const data = pattern(LEN, 11);
    r.c.remote.write(0x8000, data);
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0x8000, r.c.mr.rkey, DMA_FROM_DEVICE, FLAG)).toBe(1);
    expect(ctx.sges[0]!.addr).toBe(pciP2pmemVirtToBus(r.card, sgVirt(r.sgl.sgl)));
    const { wcs, f } = run(r, ctx);
    expect(wcs.map((w) => [w.status, w.opcode, w.byteLen])).toEqual([[IB_WC_SUCCESS, IB_WC_RDMA_READ, LEN]]);
    expect(sameBytes(bar(r.card, r.sgl.sgl), data)).toBe('equal');
    expect(f.dram).toEqual({ read: 0, write: 0 });
    expect([f.rootComplexes['pci0000:00']!.in, f.rootComplexes['pci0000:00']!.peerForwarded]).toEqual([0, 0]);
    expect(aboveSwitch(f)).toBe(0);
    expect(f.links['0000:03:00.0']!.up).toBe(LEN);
    expect(f.links['0000:06:00.0']!.down).toBe(LEN);
    expect(f.devices['0000:06:00.0']!.barWrite).toBe(LEN);
    rdmaRwCtxDestroy(ctx, r.c.qp, 1, r.sgl.sgl, 1, DMA_FROM_DEVICE, FLAG);
    expect([r.k.dmaDebug.liveCount(), r.k.dmaDebug.errorCount]).toEqual([0, 0]);
  });

  test('RDMA WRITE from p2pmem with the flag: the NIC reads the BAR across the switch and the remote host gets its bytes', () => {
    const r = rig({ policy: 'v2' });
    const data = pattern(LEN, 12);
    r.card.barBacking(4)!.write(physOf(r.sgl.sgl) - r.card.resource[4]!.start, data);
    const ctx = new RdmaRwCtx();
    rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_TO_DEVICE, FLAG);
    const { wcs, f } = run(r, ctx);
    expect(wcs.map((w) => [w.status, w.opcode])).toEqual([[IB_WC_SUCCESS, IB_WC_RDMA_WRITE]]);
    expect(sameBytes(r.c.remote.read(0, LEN), data)).toBe('equal');
    expect(f.dram).toEqual({ read: 0, write: 0 });
    expect(aboveSwitch(f)).toBe(0);
    expect(f.devices['0000:06:00.0']!.barRead).toBe(LEN);
    expect(r.ib.ports[0]!.counters.xmitBytes).toBe(LEN);
  });

  test('without the flag, IOMMU off: ib_dma_map_sg gives the CPU address, which equals the bus address on this host, so the bytes still land across the switch, but the DMA API now tracks a mapping of device memory', () => {
    const r = rig({ policy: 'v2' });
    const data = pattern(LEN, 13);
    r.c.remote.write(0, data);
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, 0)).toBe(1);
    expect(ctx.sges[0]!.addr).toBe(physOf(r.sgl.sgl));
    expect(r.k.dmaDebug.liveMappings(r.rnic).map((e) => [e.dmaAddress, e.size])).toEqual([[physOf(r.sgl.sgl), LEN]]);
    const { f } = run(r, ctx);
    expect(sameBytes(bar(r.card, r.sgl.sgl), data)).toBe('equal');
    expect(aboveSwitch(f)).toBe(0);
    rdmaRwCtxDestroy(ctx, r.c.qp, 1, r.sgl.sgl, 1, DMA_FROM_DEVICE, 0);
    expect([r.k.dmaDebug.liveCount(), r.k.dmaDebug.errorCount]).toEqual([0, 0]);
  });

  test('without the flag, IOMMU on: the IOVA maps the BAR through the host bridge, so the NIC writes go up to the root complex and back down (root-complex bytes > 0), not across the switch', () => {
    const r = rig({ policy: 'v2', iommu: true });
    const data = pattern(LEN, 14);
    r.c.remote.write(0, data);
    const ctx = new RdmaRwCtx();
    rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, 0);
    expect(ctx.sges[0]!.addr).toBeGreaterThanOrEqual(2 ** 40);
    const { wcs, f } = run(r, ctx);
    expect(wcs.map((w) => w.status)).toEqual([IB_WC_SUCCESS]);
    expect(sameBytes(bar(r.card, r.sgl.sgl), data)).toBe('equal');
    const rc = f.rootComplexes['pci0000:00']!;
    expect([rc.in, rc.peerForwarded]).toEqual([LEN, LEN]);
    expect(f.links['0000:01:00.0']).toEqual({ up: LEN, down: LEN });
    expect(f.dram).toEqual({ read: 0, write: 0 });
    rdmaRwCtxDestroy(ctx, r.c.qp, 1, r.sgl.sgl, 1, DMA_FROM_DEVICE, 0);
    expect(r.rnic.iommuGroup!.domain.mappedBytes()).toBe(0);
  });

  test('with the flag, IOMMU on and patch 04 applied at enumeration (ACS P2P redirect cleared below the switch): the bus address crosses the switch, the IOMMU is never consulted', () => {
    const r = rig({ policy: 'v2', iommu: true, hooks: p2pdmaEnumerationHooks });
    const data = pattern(LEN, 15);
    r.c.remote.write(0, data);
    const ctx = new RdmaRwCtx();
    rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, FLAG);
    const { f } = run(r, ctx);
    expect(sameBytes(bar(r.card, r.sgl.sgl), data)).toBe('equal');
    expect(aboveSwitch(f)).toBe(0);
    expect(f.errors).toBe(0);
  });

  test('with the flag, IOMMU on but without patch 04 (ACS redirect left on by the IOMMU setup): the bus address is redirected to the IOMMU, which has no mapping; the posted writes are dropped yet the READ completes successfully', () => {
    const r = rig({ policy: 'v2', iommu: true });
    r.c.remote.write(0, pattern(LEN, 16));
    const ctx = new RdmaRwCtx();
    rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, FLAG);
    const { wcs, f } = run(r, ctx);
    expect(wcs.map((w) => w.status)).toEqual([IB_WC_SUCCESS]);
    expect(sameBytes(bar(r.card, r.sgl.sgl), new Uint8Array(LEN))).toBe('equal');
    expect(f.errors).toBeGreaterThan(0);
    expect(new Set(r.sys.fabric.errors().map((e) => `${e.status} ${e.dir} ${e.initiator}`))).toEqual(new Set(['iommu-fault write 0000:03:00.0']));
    expect(f.devices['0000:06:00.0']).toBeUndefined();
  });
});

describe('v2: the flag on memory that is not p2pmem', () => {
  test('system memory with the flag: the seed dereferences sg_page(s)->pgmap, NULL for RAM (a kernel oops)', () => {
    const m = machine({ policy: 'v2' });
    const c = connect(m.ib);
    const sgt = sgOf(m.k, [{ virt: ramBuffer(m.k, 4096), len: 4096 }]);
    expect(() => rdmaRwCtxInit(new RdmaRwCtx(), c.qp, 1, sgt.sgl, 1, 0, 0, c.mr.rkey, DMA_FROM_DEVICE, FLAG)).toThrow(/NULL pointer dereference in pci_p2pdma_map_sg/);
  });

  test('CONFIG_PCI_P2PDMA off: pci_p2pdma_map_sg is the header stub returning 0, so the flag makes init -ENOMEM', () => {
    const m = machine({ policy: 'v2', kernel: { config: { CONFIG_PCI_P2PDMA: false } } });
    const c = connect(m.ib);
    const sgt = sgOf(m.k, [{ virt: ramBuffer(m.k, 4096), len: 4096 }]);
    expect(rdmaRwCtxInit(new RdmaRwCtx(), c.qp, 1, sgt.sgl, 1, 0, 0, c.mr.rkey, DMA_FROM_DEVICE, FLAG)).toBe(-12);
    expect(rdmaRwCtxInit(new RdmaRwCtx(), c.qp, 1, sgt.sgl, 1, 0, 0, c.mr.rkey, DMA_FROM_DEVICE, 0)).toBe(1);
  });
});

describe('v2: destroy must be given the flag init was given', () => {
  test('init with the flag, destroy without: ib_dma_unmap_sg of bus addresses never DMA-mapped is caught by DMA-API debug', () => {
    const r = rig({ policy: 'v2' });
    const ctx = new RdmaRwCtx();
    rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, FLAG);
    r.k.log.clear();
    rdmaRwCtxDestroy(ctx, r.c.qp, 1, r.sgl.sgl, 1, DMA_FROM_DEVICE, 0);
    expect(r.k.log.lines().map((l) => [l.level, l.text])).toEqual([
      [
        KERN_WARNING,
        'DMA-API: mlx5_core 0000:03:00.0: device driver tries to free DMA memory it has not allocated [device address=0x0000000080000000] [size=65536 bytes]',
      ],
    ]);
    expect(r.k.dmaDebug.errorCount).toBe(1);
  });

  for (const iommu of [false, true]) {
    test(`init without the flag, destroy with it (IOMMU ${iommu ? 'on' : 'off'}): the seed's pci_p2pdma_unmap_sg does nothing, so the DMA mapping${iommu ? ' and its IOVA' : ''} leak`, () => {
      const r = rig({ policy: 'v2', iommu });
      const ctx = new RdmaRwCtx();
      rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, 0);
      rdmaRwCtxDestroy(ctx, r.c.qp, 1, r.sgl.sgl, 1, DMA_FROM_DEVICE, FLAG);
      expect(r.k.dmaDebug.errorCount).toBe(0);
      expect(r.k.dmaDebug.liveMappings(r.rnic).map((e) => e.size)).toEqual([LEN]);
      if (iommu) expect(r.rnic.iommuGroup!.domain.mappedBytes()).toBe(LEN);
    });
  }

  test("the seed left init's error path on ib_dma_unmap_sg: a P2P context whose WR allocation fails warns as a bad unmap", () => {
    const r = rig({ policy: 'v2' });
    const a = pciAllocP2pmem(r.card, 4096)!;
    const b = pciAllocP2pmem(r.card, 4096)!;
    const sgt = sgOf(r.k, [
      { virt: a, len: 4096 },
      { virt: b, len: 4096 },
    ]);
    r.k.faults.inject(FAULT_RDMA_RW_ALLOC);
    r.k.log.clear();
    expect(rdmaRwCtxInit(new RdmaRwCtx(), r.c.qp, 1, sgt.sgl, 2, 0, 0, r.c.mr.rkey, DMA_TO_DEVICE, FLAG)).toBe(-12);
    expect(r.k.log.grep('DMA-API').map((l) => l.text)).toEqual([
      `DMA-API: mlx5_core 0000:03:00.0: device driver tries to free DMA memory it has not allocated [device address=0x${pciP2pmemVirtToBus(r.card, a).toString(16).padStart(16, '0')}] [size=4096 bytes]`,
      `DMA-API: mlx5_core 0000:03:00.0: device driver tries to free DMA memory it has not allocated [device address=0x${pciP2pmemVirtToBus(r.card, b).toString(16).padStart(16, '0')}] [size=4096 bytes]`,
    ]);
  });
});

describe('upstream (6.6): the pages decide, flags are ignored', () => {
  test('IOMMU off: a p2pmem SGL maps to the bus address whatever the flags, and the READ lands across the switch', () => {
    for (const [initFlags, destroyFlags] of [
      [0, 0],
      [FLAG, 0],
      [0, FLAG],
    ]) {
      const r = rig({ policy: 'upstream' });
      const data = pattern(LEN, 17);
      r.c.remote.write(0, data);
      const ctx = new RdmaRwCtx();
      expect(rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, initFlags!)).toBe(1);
      expect(ctx.sges[0]!.addr).toBe(pciP2pmemVirtToBus(r.card, sgVirt(r.sgl.sgl)));
      const { f } = run(r, ctx);
      expect(sameBytes(bar(r.card, r.sgl.sgl), data)).toBe('equal');
      expect([f.dram.write, aboveSwitch(f)]).toEqual([0, 0]);
      rdmaRwCtxDestroy(ctx, r.c.qp, 1, r.sgl.sgl, 1, DMA_FROM_DEVICE, destroyFlags!);
      expect([r.k.dmaDebug.liveCount(), r.k.dmaDebug.errorCount]).toEqual([0, 0]);
    }
  });

  test('IOMMU on: ACS redirect on the switch ports and a host bridge (8086:6f00) outside the whitelist make the pair NOT_SUPPORTED: init returns -EREMOTEIO, nothing mapped', () => {
    const r = rig({ policy: 'upstream', iommu: true });
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, FLAG)).toBe(-121);
    expect(ctx.type).toBeNull();
    expect(r.k.dmaDebug.liveCount()).toBe(0);
  });

  test('IOMMU on with pci=disable_acs_redir= on both switch ports: BUS_ADDR again, the READ crosses the switch only', () => {
    const r = rig({ policy: 'upstream', iommu: true, cmdline: 'pci=disable_acs_redir=0000:02:08.0;0000:02:11.0' });
    const data = pattern(LEN, 18);
    r.c.remote.write(0, data);
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, 0)).toBe(1);
    const { f } = run(r, ctx);
    expect(sameBytes(bar(r.card, r.sgl.sgl), data)).toBe('equal');
    expect([aboveSwitch(f), f.errors]).toEqual([0, 0]);
  });

  test('two whitelisted host bridges (8086:2020), IOMMU on: THRU_HOST_BRIDGE maps an IOVA; the data crosses both root complexes and lands; destroy unmaps it', () => {
    const r = rig({ policy: 'upstream', iommu: true, builtin: 'dual-host-bridge' });
    const data = pattern(LEN, 19);
    r.c.remote.write(0, data);
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, 0)).toBe(1);
    expect(ctx.sges[0]!.addr).toBeGreaterThanOrEqual(2 ** 40);
    const { f } = run(r, ctx);
    expect(sameBytes(bar(r.card, r.sgl.sgl), data)).toBe('equal');
    expect(f.rootComplexes['pci0000:00']!.peerForwarded).toBe(LEN);
    expect(f.rootComplexes['pci0000:80']!.peerForwarded).toBe(LEN);
    rdmaRwCtxDestroy(ctx, r.c.qp, 1, r.sgl.sgl, 1, DMA_FROM_DEVICE, 0);
    expect([r.k.dmaDebug.liveCount(), r.rnic.iommuGroup!.domain.mappedBytes()]).toEqual([0, 0]);
  });

  test('two host bridges outside the whitelist (8086:6f00): NOT_SUPPORTED, -EREMOTEIO', () => {
    const r = rig({ policy: 'upstream', builtin: 'dual-host-bridge-unlisted' });
    expect(rdmaRwCtxInit(new RdmaRwCtx(), r.c.qp, 1, r.sgl.sgl, 1, 0, 0, r.c.mr.rkey, DMA_FROM_DEVICE, FLAG)).toBe(-121);
  });

  test('a p2pmem context whose WR allocation fails is unmapped by page, without a DMA-API warning (6.6 unmaps the table)', () => {
    const r = rig({ policy: 'upstream' });
    const a = pciAllocP2pmem(r.card, 4096)!;
    const b = pciAllocP2pmem(r.card, 4096)!;
    const sgt = sgOf(r.k, [
      { virt: a, len: 4096 },
      { virt: b, len: 4096 },
    ]);
    r.k.faults.inject(FAULT_RDMA_RW_ALLOC);
    expect(rdmaRwCtxInit(new RdmaRwCtx(), r.c.qp, 1, sgt.sgl, 2, 0, 0, r.c.mr.rkey, DMA_TO_DEVICE, 0)).toBe(-12);
    expect(r.k.dmaDebug.errorCount).toBe(0);
    expect(sgt.sgl.dmaFlags).toBe(0);
  });
});
