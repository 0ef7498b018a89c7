/**
 * The software RDMA device (rxe, dma_virt_ops): it is no PCI function, so the seed refuses it as
 * a P2P client ("... makes use of dma_virt_ops", -ENODEV) and its P2P mapping returns 0 (init
 * -ENOMEM); its data path is CPU copies by kernel virtual address. Under 6.6 it maps p2pmem by
 * virtual address too and copies through the BAR's MMIO mapping.
 */
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, KERN_WARNING, physToVirt, sgVirt } from '@p2pdma/kernel';
import { P2pdmaClientList, pciP2pdmaAddClient, pciP2pdmaAddResource, pciP2pmemAllocSgl, pciP2pmemPublish } from '@p2pdma/p2pdma';
import { describe, expect, test } from 'vitest';
import {
  IB_WC_LOC_PROT_ERR,
  IB_WC_SUCCESS,
  ibUsesVirtDma,
  RDMA_RW_CTX_FLAG_PCI_P2PDMA,
  RdmaRwCtx,
  RXE_ATTRS,
  rdmaRwCtxDestroy,
  rdmaRwCtxInit,
  rdmaRwCtxPost,
  rxeAdd,
} from '../src/index';
import { barBytes, connect, cpuRead, cpuWrite, drain, machine, ok, pattern, physOf, ramBuffer, sameBytes, sgOf } from './helpers';

describe('rxe registration', () => {
  test('rxe0 is its own DMA device with virt ops, a child of the Ethernet function it runs on; a second fixed name is -EEXIST', () => {
    const m = machine();
    const rxe = ok(rxeAdd(m.k, { parent: m.rnic }));
    expect(rxe.name).toBe('rxe0');
    expect(rxe.dmaDevice).toBe(rxe.dev);
    expect(rxe.dmaDevice.dmaOps).toBe('virt');
    expect(rxe.dev.parent).toBe(m.rnic);
    expect(ibUsesVirtDma(rxe)).toBe(true);
    expect(ibUsesVirtDma(m.ib)).toBe(false);
    expect(rxe.localDmaLkey).toBeNull();
    expect(rxe.attrs).toBe(RXE_ATTRS);
    expect(ok(rxeAdd(m.k)).name).toBe('rxe1');
    expect(rxeAdd(m.k, { name: 'rxe0' })).toBe(-17);
  });
});

describe('v2: rxe cannot take part in P2P', () => {
  test('pci_p2pdma_add_client refuses it: -ENODEV and the seed warning on the IB device', () => {
    const m = machine({ policy: 'v2' });
    const rxe = ok(rxeAdd(m.k, { parent: m.rnic }));
    const list = new P2pdmaClientList(m.k);
    m.k.log.clear();
    expect(pciP2pdmaAddClient(list, rxe.dmaDevice)).toBe(-19);
    expect(m.k.log.lines().map((l) => [l.level, l.text])).toEqual([
      [KERN_WARNING, 'infiniband rxe0: cannot be used for peer-to-peer DMA because the driver makes use of dma_virt_ops'],
    ]);
    expect(list.clients()).toEqual([]);
    expect(pciP2pdmaAddClient(list, m.ib.dmaDevice)).toBe(0);
  });

  test('rdma_rw_ctx_init with RDMA_RW_CTX_FLAG_PCI_P2PDMA: pci_p2pdma_map_sg returns 0 for dma_virt_ops, so -ENOMEM, nothing mapped', () => {
    const m = machine({ policy: 'v2' });
    expect(pciP2pdmaAddResource(m.card, 4, 0, 0)).toBe(0);
    pciP2pmemPublish(m.card, true);
    const rxe = ok(rxeAdd(m.k));
    const c = connect(rxe);
    const sgl = ok(pciP2pmemAllocSgl(m.card, 4096));
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, c.qp, 1, sgl.sgl, 1, 0, 0, c.mr.rkey, DMA_FROM_DEVICE, RDMA_RW_CTX_FLAG_PCI_P2PDMA)).toBe(-12);
    expect(ctx.type).toBeNull();
    expect(m.k.dmaDebug.liveCount()).toBe(0);
  });
});

describe('rxe data path: CPU copies by kernel virtual address', () => {
  for (const policy of ['v2', 'upstream'] as const) {
    test(`${policy}: READ and WRITE through system memory; SGEs hold kernel virtual addresses and the fabric sees no device DMA`, () => {
      const m = machine({ policy });
      const rxe = ok(rxeAdd(m.k));
      const c = connect(rxe);
      const a = ramBuffer(m.k, 8192);
      const b = ramBuffer(m.k, 100);
      const sgt = sgOf(m.k, [
        { virt: a, len: 8192 },
        { virt: b, len: 100 },
      ]);
      const data = pattern(8292, 21);
      c.remote.write(0, data);
      m.sys.fabric.resetCounters();
      const read = new RdmaRwCtx();
      expect(rdmaRwCtxInit(read, c.qp, 1, sgt.sgl, 2, 0, 0, c.mr.rkey, DMA_FROM_DEVICE, 0)).toBe(1);
      expect(read.sges.map((s) => s.addr)).toEqual([a, b]);
      expect(read.sges[0]!.lkey).toBe(c.pd.localDmaLkey);
      rdmaRwCtxPost(read, c.qp, 1, null, null);
      drain(m.k, c.cq);
      expect(sameBytes(new Uint8Array([...cpuRead(m.k, a, 8192), ...cpuRead(m.k, b, 100)]), data)).toBe('equal');
      rdmaRwCtxDestroy(read, c.qp, 1, sgt.sgl, 2, DMA_FROM_DEVICE, 0);
      cpuWrite(m.k, a, pattern(8192, 22));
      const write = new RdmaRwCtx();
      rdmaRwCtxInit(write, c.qp, 1, sgt.sgl, 1, 0, 0x10000, c.mr.rkey, DMA_TO_DEVICE, 0);
      rdmaRwCtxPost(write, c.qp, 1, null, null);
      drain(m.k, c.cq);
      expect(sameBytes(c.remote.read(0x10000, 8192), pattern(8192, 22))).toBe('equal');
      rdmaRwCtxDestroy(write, c.qp, 1, sgt.sgl, 1, DMA_TO_DEVICE, 0);
      const f = m.sys.fabric.counters();
      expect([f.dram.read, f.dram.write, f.links['0000:03:00.0']!.up]).toEqual([0, 0, 0]);
      expect([m.k.dmaDebug.liveCount(), m.k.dmaDebug.errorCount]).toEqual([0, 0]);
      expect(rxe.ports[0]!.counters).toEqual({ xmitBytes: 8192, rcvBytes: 8292 });
    });
  }

  test('upstream (6.6 ib_dma_virt_map_sg): a p2pmem SGL maps to its kernel virtual address and rxe copies into the BAR with CPU stores through the root complex', () => {
    const m = machine({ policy: 'upstream' });
    expect(pciP2pdmaAddResource(m.card, 4, 0, 0)).toBe(0);
    pciP2pmemPublish(m.card, true);
    const rxe = ok(rxeAdd(m.k));
    const c = connect(rxe);
    const sgl = ok(pciP2pmemAllocSgl(m.card, 4096));
    const data = pattern(4096, 23);
    c.remote.write(0, data);
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, c.qp, 1, sgl.sgl, 1, 0, 0, c.mr.rkey, DMA_FROM_DEVICE, 0)).toBe(1);
    expect(ctx.sges[0]!.addr).toBe(sgVirt(sgl.sgl));
    expect(ctx.sges[0]!.addr).toBe(physToVirt(physOf(sgl.sgl)));
    rdmaRwCtxPost(ctx, c.qp, 1, null, null);
    m.sys.fabric.resetCounters();
    expect(drain(m.k, c.cq).map((w) => w.status)).toEqual([IB_WC_SUCCESS]);
    expect(sameBytes(barBytes(m.card, 4, physOf(sgl.sgl), 4096), data)).toBe('equal');
    const f = m.sys.fabric.counters();
    expect(f.rootComplexes['pci0000:00']!.cpuMmioWrite).toBe(4096);
    expect(f.links['0000:03:00.0']!.up).toBe(0);
  });

  test('a copy to an address that is no kernel virtual address fails the WR with a local protection error and a log line', () => {
    const m = machine();
    const rxe = ok(rxeAdd(m.k));
    const c = connect(rxe);
    const ctx = new RdmaRwCtx();
    const a = ramBuffer(m.k, 4096);
    const sgt = sgOf(m.k, [{ virt: a, len: 4096 }]);
    rdmaRwCtxInit(ctx, c.qp, 1, sgt.sgl, 1, 0, 0, c.mr.rkey, DMA_FROM_DEVICE, 0);
    ctx.sges[0]!.addr = 0x1000;
    rdmaRwCtxPost(ctx, c.qp, 1, { done: () => {} }, null);
    m.k.log.clear();
    const wcs = drain(m.k, c.cq);
    expect(wcs.map((w) => w.status)).toEqual([IB_WC_LOC_PROT_ERR]);
    expect(m.k.log.grep('rxe:').map((l) => l.text)).toEqual(['infiniband rxe0: rxe: copy to of 4096 bytes at 0x1000: not a kernel virtual address']);
  });
});
