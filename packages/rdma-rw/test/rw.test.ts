/**
 * rdma_rw_ctx_init/post/destroy on system memory (rw.c's map-WR paths): splitting into WRs by
 * max_sge (max_read_sge for READ), sg_offset, the WR chain (signaled last WR, chain_wr), the DMA
 * mapping's segment count (IOMMU merging), unmapping, the kcalloc failure path, and bytes moved
 * end to end (property test).
 */
import type { Kernel } from '@p2pdma/kernel';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, KernelBug, PAGE_SIZE, virtToPhys } from '@p2pdma/kernel';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  FAULT_RDMA_RW_ALLOC,
  IB_SEND_SIGNALED,
  IB_WC_RDMA_READ,
  IB_WC_RDMA_WRITE,
  IB_WC_SEND,
  IB_WC_SUCCESS,
  IB_WR_RDMA_READ,
  IB_WR_RDMA_WRITE,
  IB_WR_SEND,
  ibAllocCq,
  ibAllocPd,
  ibCreateQp,
  ibDestroyQp,
  ibRegisterDevice,
  IB_POLL_DIRECT,
  IB_QPT_RC,
  IB_SIGNAL_REQ_WR,
  MLX5_CX5_ATTRS,
  MLX5_CX5_PORT,
  MLX5_TIMING,
  RDMA_RW_MULTI_WR,
  RDMA_RW_SINGLE_WR,
  RdmaRwCtx,
  rdmaRwCtxDestroy,
  rdmaRwCtxInit,
  rdmaRwCtxPost,
  rdmaConnect,
  rdmaRwCtxWrs,
} from '../src/index';
import type { Conn, Machine } from './helpers';
import { connect, cpuRead, cpuWrite, drain, machine, ok, pattern, ramBuffer, recorder, sameBytes, sgOf, wr } from './helpers';

/** Four separate RAM buffers of the given sizes, as one scatterlist. */
function ramList(k: Kernel, sizes: readonly number[]) {
  const parts = sizes.map((len) => ({ virt: ramBuffer(k, len), len }));
  return { parts, sgt: sgOf(k, parts) };
}

describe('rdma_rw_ctx_init: work requests', () => {
  test('one mapped segment: RDMA_RW_SINGLE_WR with the local DMA lkey, READ for DMA_FROM_DEVICE', () => {
    const m = machine();
    const c = connect(m.ib);
    const { parts, sgt } = ramList(m.k, [8192]);
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, c.qp, 1, sgt.sgl, 1, 100, 0x5000, c.mr.rkey, DMA_FROM_DEVICE, 0)).toBe(1);
    expect(ctx.type).toBe(RDMA_RW_SINGLE_WR);
    expect(ctx.wrs).toHaveLength(1);
    expect(ctx.wrs[0]).toMatchObject({ opcode: IB_WR_RDMA_READ, numSge: 1, remoteAddr: 0x5000, rkey: c.mr.rkey, next: null });
    expect(ctx.sges).toEqual([{ addr: virtToPhys(parts[0]!.virt) + 100, length: 8092, lkey: 0x100 }]);
  });

  test('five segments with max_send_sge 2: three WRITE WRs (2+2+1 SGEs), each at remote_addr + the bytes before it', () => {
    const m = machine();
    const c = connect(m.ib, { maxSendSge: 2 });
    const sizes = [4096, 1000, 4096, 512, 2048];
    const { parts, sgt } = ramList(m.k, sizes);
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, c.qp, 1, sgt.sgl, 5, 0, 0x1000, c.mr.rkey, DMA_TO_DEVICE, 0)).toBe(3);
    expect(ctx.type).toBe(RDMA_RW_MULTI_WR);
    expect(ctx.wrs.map((w) => [w.opcode, w.numSge, w.remoteAddr])).toEqual([
      [IB_WR_RDMA_WRITE, 2, 0x1000],
      [IB_WR_RDMA_WRITE, 2, 0x1000 + 5096],
      [IB_WR_RDMA_WRITE, 1, 0x1000 + 5096 + 4608],
    ]);
    expect(ctx.wrs[0]!.next).toBe(ctx.wrs[1]);
    expect(ctx.wrs[1]!.next).toBe(ctx.wrs[2]);
    expect(ctx.sges.map((s) => s.addr)).toEqual(parts.map((p) => virtToPhys(p.virt)));
  });

  test('RDMA READ splits by max_read_sge = min(max_send_sge, max_sge_rd), WRITE by max_send_sge', () => {
    const m = machine();
    const dev = ok(
      ibRegisterDevice(m.k, {
        name: 'rdlimit%d',
        parent: m.rnic,
        attrs: { ...MLX5_CX5_ATTRS, fwVer: '1.0.0', maxSgeRd: 1 },
        ports: [MLX5_CX5_PORT],
        localDmaLkey: 0x100,
        ops: { driverName: 'test', postedWrites: true, timing: MLX5_TIMING, localRead: () => true, localWrite: () => true, ringSendDoorbell: () => {} },
      }),
    );
    const cq = ok(ibAllocCq(dev, 16, IB_POLL_DIRECT));
    const qp = ok(
      ibCreateQp(ok(ibAllocPd(dev)), {
        sendCq: cq,
        recvCq: cq,
        cap: { maxSendWr: 16, maxRecvWr: 1, maxSendSge: 4, maxRecvSge: 1 },
        sqSigType: IB_SIGNAL_REQ_WR,
        qpType: IB_QPT_RC,
        portNum: 1,
      }),
    );
    const { sgt } = ramList(m.k, [4096, 4096, 4096, 4096]);
    const read = new RdmaRwCtx();
    const write = new RdmaRwCtx();
    expect(rdmaRwCtxInit(read, qp, 1, sgt.sgl, 4, 0, 0, 1, DMA_FROM_DEVICE, 0)).toBe(4);
    rdmaRwCtxDestroy(read, qp, 1, sgt.sgl, 4, DMA_FROM_DEVICE, 0);
    expect(rdmaRwCtxInit(write, qp, 1, sgt.sgl, 4, 0, 0, 1, DMA_TO_DEVICE, 0)).toBe(1);
  });

  test('sg_offset skips whole mapped segments, then starts inside the next one', () => {
    const m = machine();
    const c = connect(m.ib, { maxSendSge: 4 });
    const { parts, sgt } = ramList(m.k, [1000, 2000, 3000]);
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, c.qp, 1, sgt.sgl, 3, 1000 + 500, 0, c.mr.rkey, DMA_TO_DEVICE, 0)).toBe(1);
    expect(ctx.sges).toEqual([
      { addr: virtToPhys(parts[1]!.virt) + 500, length: 1500, lkey: 0x100 },
      { addr: virtToPhys(parts[2]!.virt), length: 3000, lkey: 0x100 },
    ]);
  });

  test('an sg_offset at or past the mapped length walks off the list: a kernel BUG (NULL dereference)', () => {
    const m = machine();
    const c = connect(m.ib);
    const { sgt } = ramList(m.k, [1000, 2000]);
    expect(() => rdmaRwCtxInit(new RdmaRwCtx(), c.qp, 1, sgt.sgl, 2, 3000, 0, c.mr.rkey, DMA_TO_DEVICE, 0)).toThrow(
      'kernel BUG: rdma_rw_ctx_init(mlx5_0): sg_offset 3000 is beyond the mapped length (NULL scatterlist dereference)',
    );
  });

  test('with the IOMMU on, page-aligned entries merge into one IOVA segment: one SGE, one WR', () => {
    const m = machine({ iommu: true });
    const c = connect(m.ib, { maxSendSge: 1 });
    const data = pattern(4 * PAGE_SIZE, 5);
    const { parts, sgt } = ramList(m.k, [PAGE_SIZE, PAGE_SIZE, PAGE_SIZE, PAGE_SIZE]);
    parts.forEach((p, i) => {
      cpuWrite(m.k, p.virt, data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
    });
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, c.qp, 1, sgt.sgl, 4, 0, 0, c.mr.rkey, DMA_TO_DEVICE, 0)).toBe(1);
    expect(ctx.sges).toHaveLength(1);
    expect(ctx.sges[0]!.length).toBe(4 * PAGE_SIZE);
    expect(ctx.sges[0]!.addr).toBeGreaterThanOrEqual(2 ** 40);
    rdmaRwCtxPost(ctx, c.qp, 1, null, null);
    drain(m.k, c.cq);
    expect(c.remote.read(0, 4 * PAGE_SIZE)).toEqual(data);
    rdmaRwCtxDestroy(ctx, c.qp, 1, sgt.sgl, 4, DMA_TO_DEVICE, 0);
    expect(m.k.dmaDebug.liveCount()).toBe(0);
    expect(m.k.dmaDebug.errorCount).toBe(0);
  });

  for (const policy of ['v2', 'upstream'] as const) {
    test(`${policy}: the WR array allocation failing (kcalloc) is -ENOMEM and the list is unmapped again`, () => {
      const m = machine({ policy });
      const c = connect(m.ib);
      const { sgt } = ramList(m.k, [4096, 4096, 4096, 4096, 4096, 4096]);
      m.k.faults.inject(FAULT_RDMA_RW_ALLOC);
      const ctx = new RdmaRwCtx();
      expect(rdmaRwCtxInit(ctx, c.qp, 1, sgt.sgl, 6, 0, 0, c.mr.rkey, DMA_FROM_DEVICE, 0)).toBe(-12);
      expect(ctx.type).toBeNull();
      expect(m.k.dmaDebug.liveCount()).toBe(0);
      expect(m.k.dmaDebug.errorCount).toBe(0);
    });
  }
});

describe('rdma_rw_ctx_post / rdma_rw_ctx_wrs / rdma_rw_ctx_destroy', () => {
  test('only the last WR is signaled and carries the cqe: one completion for a three-WR READ', () => {
    const m = machine();
    const c = connect(m.ib, { maxSendSge: 1 });
    const data = pattern(3 * 4096, 9);
    c.remote.write(0x2000, data);
    const { parts, sgt } = ramList(m.k, [4096, 4096, 4096]);
    const ctx = new RdmaRwCtx();
    expect(rdmaRwCtxInit(ctx, c.qp, 1, sgt.sgl, 3, 0, 0x2000, c.mr.rkey, DMA_FROM_DEVICE, 0)).toBe(3);
    const r = recorder(m.k);
    expect(rdmaRwCtxPost(ctx, c.qp, 1, r.cqe, null)).toBe(0);
    expect(ctx.wrs.map((w) => [w.sendFlags & IB_SEND_SIGNALED, w.wrCqe === r.cqe])).toEqual([
      [0, false],
      [0, false],
      [IB_SEND_SIGNALED, true],
    ]);
    const wcs = drain(m.k, c.cq);
    expect(wcs.map((w) => [w.status, w.opcode, w.wrCqe === r.cqe])).toEqual([[IB_WC_SUCCESS, IB_WC_RDMA_READ, true]]);
    parts.forEach((p, i) => {
      expect(sameBytes(cpuRead(m.k, p.virt, 4096), data.subarray(i * 4096, (i + 1) * 4096))).toBe('equal');
    });
  });

  test('chain_wr: the RDMA WRITE chain runs first, then the appended SEND (nvmet-rdma sends its response this way)', () => {
    const m = machine();
    const c = connect(m.ib);
    const { parts, sgt } = ramList(m.k, [2048]);
    cpuWrite(m.k, parts[0]!.virt, pattern(2048, 3));
    const resp = ramBuffer(m.k, 16);
    cpuWrite(m.k, resp, Uint8Array.of(0xc0, 0xde));
    const ctx = new RdmaRwCtx();
    rdmaRwCtxInit(ctx, c.qp, 1, sgt.sgl, 1, 0, 0x100, c.mr.rkey, DMA_TO_DEVICE, 0);
    const r = recorder(m.k);
    const send = wr(IB_WR_SEND, virtToPhys(resp), 2, c.pd.localDmaLkey, { sendFlags: IB_SEND_SIGNALED, wrCqe: r.cqe });
    expect(rdmaRwCtxWrs(ctx, c.qp, 1, null, send)).toBe(ctx.wrs[0]);
    expect(ctx.wrs[0]!.next).toBe(send);
    expect(rdmaRwCtxPost(ctx, c.qp, 1, null, send)).toBe(0);
    expect(drain(m.k, c.cq).map((w) => w.opcode)).toEqual([IB_WC_SEND]);
    expect(c.remote.read(0x100, 2048)).toEqual(pattern(2048, 3));
    expect(c.rqp.received.map((d) => [...d])).toEqual([[0xc0, 0xde]]);
  });

  test('destroy unmaps (no live DMA mapping left) and a second destroy is a BUG', () => {
    const m = machine({ iommu: true });
    const c = connect(m.ib);
    const { sgt } = ramList(m.k, [4096, 100]);
    const ctx = new RdmaRwCtx();
    rdmaRwCtxInit(ctx, c.qp, 1, sgt.sgl, 2, 0, 0, c.mr.rkey, DMA_TO_DEVICE, 0);
    expect(m.k.dmaDebug.liveMappings(m.rnic).length).toBeGreaterThan(0);
    rdmaRwCtxDestroy(ctx, c.qp, 1, sgt.sgl, 2, DMA_TO_DEVICE, 0);
    expect(m.k.dmaDebug.liveMappings(m.rnic)).toEqual([]);
    expect(() => rdmaRwCtxDestroy(ctx, c.qp, 1, sgt.sgl, 2, DMA_TO_DEVICE, 0)).toThrow(KernelBug);
    expect(() => rdmaRwCtxWrs(ctx, c.qp, 1, null, null)).toThrow(KernelBug);
  });
});

describe('bytes moved end to end (property)', () => {
  const machines = new Map<string, { m: Machine; c: Conn }>();
  function rig(policy: 'v2' | 'upstream', iommu: boolean) {
    const key = `${policy}/${iommu}`;
    let r = machines.get(key);
    if (r === undefined) {
      const m = machine({ policy, iommu });
      r = { m, c: connect(m.ib) };
      machines.set(key, r);
    }
    return r;
  }

  test('any list of RAM chunks, sg_offset, max_sge, direction, policy and IOMMU setting: READ lands the remote bytes, WRITE delivers the local ones', () => {
    const chunk = fc.record({ len: fc.integer({ min: 1, max: 3 * PAGE_SIZE }), off: fc.integer({ min: 0, max: PAGE_SIZE - 1 }) });
    fc.assert(
      fc.property(
        fc.array(chunk, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom(DMA_TO_DEVICE, DMA_FROM_DEVICE),
        fc.constantFrom('v2' as const, 'upstream' as const),
        fc.boolean(),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        fc.integer({ min: 0, max: 4096 }),
        fc.integer({ min: 1, max: 1 << 30 }),
        (chunks, maxSge, dir, policy, iommu, offFrac, remoteAddr, seed) => {
          const { m, c } = rig(policy, iommu);
          const k = m.k;
          const total = chunks.reduce((a, x) => a + x.len, 0);
          const sgOffset = Math.floor(offFrac * total);
          const pages: Array<{ phys: number; n: number }> = [];
          const parts = chunks.map((x) => {
            const n = Math.ceil((x.off + x.len) / PAGE_SIZE);
            const phys = k.memory.allocPages(n)!;
            pages.push({ phys, n });
            return { virt: phys + 2 ** 52 + x.off, len: x.len };
          });
          const sgt = sgOf(k, parts);
          const before = pattern(total, seed);
          let at = 0;
          for (const p of parts) {
            cpuWrite(k, p.virt, before.subarray(at, at + p.len));
            at += p.len;
          }
          const remoteBefore = pattern(total, seed ^ 0x5555);
          c.remote.write(remoteAddr, remoteBefore);
          const qp = ok(
            ibCreateQp(c.pd, {
              sendCq: c.cq,
              recvCq: c.cq,
              cap: { maxSendWr: 64, maxRecvWr: 1, maxSendSge: maxSge, maxRecvSge: 1 },
              sqSigType: IB_SIGNAL_REQ_WR,
              qpType: IB_QPT_RC,
              portNum: 1,
            }),
          );
          expect(rdmaConnect(qp, c.remote.createQp())).toBe(0);
          const ctx = new RdmaRwCtx();
          const n = rdmaRwCtxInit(ctx, qp, 1, sgt.sgl, parts.length, sgOffset, remoteAddr, c.mr.rkey, dir, 0);
          expect(n).toBeGreaterThan(0);
          expect(ctx.wrs.every((w) => w.numSge <= maxSge)).toBe(true);
          const moved = ctx.sges.reduce((a, s) => a + s.length, 0);
          expect(moved).toBe(total - sgOffset);
          const r = recorder(k);
          expect(rdmaRwCtxPost(ctx, qp, 1, r.cqe, null)).toBe(0);
          const wcs = drain(k, c.cq);
          expect(wcs.map((w) => [w.status, w.opcode])).toEqual([[IB_WC_SUCCESS, dir === DMA_TO_DEVICE ? IB_WC_RDMA_WRITE : IB_WC_RDMA_READ]]);
          const local = new Uint8Array(total);
          at = 0;
          for (const p of parts) {
            local.set(cpuRead(k, p.virt, p.len), at);
            at += p.len;
          }
          if (dir === DMA_TO_DEVICE) {
            expect(sameBytes(c.remote.read(remoteAddr, moved), before.subarray(sgOffset))).toBe('equal');
            expect(sameBytes(local, before)).toBe('equal');
          } else {
            expect(sameBytes(local.subarray(sgOffset), remoteBefore.subarray(0, moved))).toBe('equal');
            expect(sameBytes(local.subarray(0, sgOffset), before.subarray(0, sgOffset))).toBe('equal');
          }
          rdmaRwCtxDestroy(ctx, qp, 1, sgt.sgl, parts.length, dir, 0);
          ibDestroyQp(qp);
          expect(k.dmaDebug.liveCount()).toBe(0);
          expect(k.dmaDebug.errorCount).toBe(0);
          for (const p of pages) k.memory.freePages(p.phys, p.n);
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });
});

