/**
 * The verbs the RDMA core gives ULPs: ib_alloc_pd, ib_alloc_cq/ib_poll_cq/__ib_process_cq,
 * ib_create_qp (+ rdma_rw_init_qp), ib_modify_qp, ib_post_send/ib_post_recv (mlx5_ib_post_send's
 * checks), ib_destroy_qp, and the IB rule that a failed work request moves the QP to the error
 * state and flushes what follows.
 */
import { KERN_WARNING, KernelBug, virtToPhys } from '@p2pdma/kernel';
import { describe, expect, test } from 'vitest';
import type { BadWrRef, IbDevice, IbSendWr } from '../src/index';
import {
  IB_POLL_DIRECT,
  IB_POLL_SOFTIRQ,
  IB_QPS_ERR,
  IB_QPS_INIT,
  IB_QPS_RESET,
  IB_QPS_RTR,
  IB_QPS_RTS,
  IB_QPT_RC,
  IB_QPT_UD,
  IB_SEND_SIGNALED,
  IB_SIGNAL_ALL_WR,
  IB_SIGNAL_REQ_WR,
  IB_VENDOR_ERR,
  IB_WC_LOC_PROT_ERR,
  IB_WC_RDMA_READ,
  IB_WC_RDMA_WRITE,
  IB_WC_RECV,
  IB_WC_REM_ACCESS_ERR,
  IB_WC_SUCCESS,
  IB_WC_WR_FLUSH_ERR,
  IB_WR_RDMA_READ,
  IB_WR_RDMA_WRITE,
  IB_WR_SEND,
  ibAllocCq,
  ibAllocPd,
  ibCreateQp,
  ibDeallocPd,
  ibDestroyQp,
  ibFreeCq,
  ibModifyQp,
  ibPollCq,
  ibPostRecv,
  ibPostSend,
  ibProcessCqDirect,
  ibRegisterDevice,
  ibWcStatusMsg,
  MLX5_CX5_ATTRS,
  MLX5_TIMING,
  RemoteHost,
  rdmaConnect,
  rxeAdd,
} from '../src/index';
import { connect, drain, machine, ok, ramBuffer, recorder, wr } from './helpers';

const dma = (virt: number) => virtToPhys(virt);

function qpAttr(ib: IbDevice, over: Partial<Parameters<typeof ibCreateQp>[1]> = {}) {
  const cq = ok(ibAllocCq(ib, 64, IB_POLL_DIRECT));
  return {
    sendCq: cq,
    recvCq: cq,
    cap: { maxSendWr: 8, maxRecvWr: 4, maxSendSge: 2, maxRecvSge: 1 },
    sqSigType: IB_SIGNAL_REQ_WR,
    qpType: IB_QPT_RC,
    portNum: 1,
    ...over,
  } as Parameters<typeof ibCreateQp>[1];
}

describe('ib_alloc_pd, ib_alloc_cq, ib_create_qp limits', () => {
  test('a PD of mlx5 carries the reserved lkey; rxe (no reserved lkey) gets a DMA MR lkey per PD', () => {
    const m = machine();
    expect(ok(ibAllocPd(m.ib)).localDmaLkey).toBe(0x100);
    const rxe = ok(rxeAdd(m.k));
    const a = ok(ibAllocPd(rxe)).localDmaLkey;
    const b = ok(ibAllocPd(rxe)).localDmaLkey;
    expect(a).not.toBe(b);
    expect(a & 0xff).toBe(0);
  });

  test('CQ sizes outside 1..max_cqe are -EINVAL', () => {
    const m = machine();
    expect(ibAllocCq(m.ib, 0, IB_POLL_DIRECT)).toBe(-22);
    expect(ibAllocCq(m.ib, MLX5_CX5_ATTRS.maxCqe + 1, IB_POLL_DIRECT)).toBe(-22);
    expect(ok(ibAllocCq(m.ib, MLX5_CX5_ATTRS.maxCqe, IB_POLL_DIRECT)).cqe).toBe(MLX5_CX5_ATTRS.maxCqe);
  });

  test('ib_create_qp refuses UD, foreign CQs, unknown ports, queue and SGE sizes beyond the device (-EINVAL)', () => {
    const m = machine();
    const pd = ok(ibAllocPd(m.ib));
    const rxe = ok(rxeAdd(m.k));
    const cap = { maxSendWr: 8, maxRecvWr: 4, maxSendSge: 2, maxRecvSge: 1 };
    expect(ibCreateQp(pd, qpAttr(m.ib, { qpType: IB_QPT_UD }))).toBe(-22);
    expect(ibCreateQp(pd, qpAttr(m.ib, { sendCq: ok(ibAllocCq(rxe, 8, IB_POLL_DIRECT)) }))).toBe(-22);
    expect(ibCreateQp(pd, qpAttr(m.ib, { portNum: 2 }))).toBe(-22);
    expect(ibCreateQp(pd, qpAttr(m.ib, { cap: { ...cap, maxSendWr: 32769 } }))).toBe(-22);
    expect(ibCreateQp(pd, qpAttr(m.ib, { cap: { ...cap, maxSendSge: 31 } }))).toBe(-22);
    expect(ibCreateQp(pd, qpAttr(m.ib, { cap: { ...cap, maxRecvWr: 0 } }))).toBe(-22);
    expect(pd.usecnt).toBe(0);
  });

  test('rdma_rw_init_qp: max_rdma_ctxs grows the send queue by one WR each, clamped to max_qp_wr', () => {
    const m = machine();
    const pd = ok(ibAllocPd(m.ib));
    const cap = { maxSendWr: 8, maxRecvWr: 4, maxSendSge: 2, maxRecvSge: 1 };
    expect(ok(ibCreateQp(pd, qpAttr(m.ib, { cap: { ...cap, maxRdmaCtxs: 100 } }))).cap.maxSendWr).toBe(108);
    expect(ok(ibCreateQp(pd, qpAttr(m.ib, { cap: { ...cap, maxSendWr: 32000, maxRdmaCtxs: 1000 } }))).cap.maxSendWr).toBe(32768);
  });

  test('max_read_sge = min(max_send_sge, attrs.max_sge_rd); max_write_sge = max_send_sge', () => {
    const m = machine();
    const dev = ok(
      ibRegisterDevice(m.k, {
        name: 'small%d',
        parent: m.rnic,
        attrs: { ...MLX5_CX5_ATTRS, fwVer: '1.0.0', maxSgeRd: 3 },
        ports: [{ state: 4, activeMtu: 4096, maxMsgSz: 1 << 30, activeWidth: 4, activeSpeedGbps: 25, linkLayer: 'InfiniBand' }],
        localDmaLkey: 7,
        ops: { driverName: 'test', postedWrites: true, timing: MLX5_TIMING, localRead: () => true, localWrite: () => true, ringSendDoorbell: () => {} },
      }),
    );
    expect(dev.name).toBe('small0');
    const qp = ok(ibCreateQp(ok(ibAllocPd(dev)), qpAttr(dev, { cap: { maxSendWr: 8, maxRecvWr: 1, maxSendSge: 10, maxRecvSge: 1 } })));
    expect([qp.maxWriteSge, qp.maxReadSge]).toEqual([10, 3]);
  });

  test('ib_dealloc_pd / ib_free_cq of objects still in use warn and keep them', () => {
    const m = machine();
    const c = connect(m.ib);
    m.k.log.clear();
    ibDeallocPd(c.pd);
    ibFreeCq(c.cq);
    expect(m.k.log.lines().map((l) => [l.level, l.text])).toEqual([
      [KERN_WARNING, 'WARNING: ib_dealloc_pd: mlx5_0 PD still used by 1 object(s)'],
      [KERN_WARNING, 'WARNING: ib_free_cq: mlx5_0 CQ still used by 1 QP(s)'],
    ]);
    expect([c.pd.deallocated, c.cq.freed]).toEqual([false, false]);
    ibDestroyQp(c.qp);
    ibFreeCq(c.cq);
    ibDeallocPd(c.pd);
    expect([c.pd.deallocated, c.cq.freed]).toEqual([true, true]);
  });
});

describe('QP states (ib_modify_qp, rdma_connect)', () => {
  test('RESET → INIT → RTR needs a peer; rdmaConnect walks to RTS; a second connect is -EISCONN', () => {
    const m = machine();
    const qp = ok(ibCreateQp(ok(ibAllocPd(m.ib)), qpAttr(m.ib)));
    expect(qp.state).toBe(IB_QPS_RESET);
    expect(ibModifyQp(qp, IB_QPS_RTS)).toBe(-22);
    expect(ibModifyQp(qp, IB_QPS_INIT)).toBe(0);
    expect(ibModifyQp(qp, IB_QPS_RTR)).toBe(-22);
    const host = new RemoteHost({ name: 'h', memoryBytes: 4096 });
    const rqp = host.createQp();
    expect(rdmaConnect(qp, rqp)).toBe(0);
    expect(qp.state).toBe(IB_QPS_RTS);
    expect(rqp.peer).toBe(qp);
    expect(rdmaConnect(qp, host.createQp())).toBe(-22);
    const qp2 = ok(ibCreateQp(ok(ibAllocPd(m.ib)), qpAttr(m.ib)));
    expect(rdmaConnect(qp2, rqp)).toBe(-106);
    expect(qp2.state).toBe(IB_QPS_RESET);
  });

  test('ib_destroy_qp drops outstanding work without completions and disconnects the peer; twice is a bug', () => {
    const m = machine();
    const c = connect(m.ib);
    const buf = ramBuffer(m.k, 4096);
    ibPostSend(c.qp, wr(IB_WR_RDMA_READ, dma(buf), 4096, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    expect(ibDestroyQp(c.qp)).toBe(0);
    expect(drain(m.k, c.cq)).toEqual([]);
    expect(c.rqp.peer).toBeNull();
    expect(c.rqp.postSend(new Uint8Array(4))).toBe(-107);
    expect(() => ibDestroyQp(c.qp)).toThrow(KernelBug);
  });
});

describe('ib_post_send (mlx5_ib_post_send checks)', () => {
  test('posting before RTS is -EINVAL', () => {
    const m = machine();
    const qp = ok(ibCreateQp(ok(ibAllocPd(m.ib)), qpAttr(m.ib)));
    expect(ibPostSend(qp, wr(IB_WR_SEND, 0x100000, 8, 0x100))).toBe(-22);
  });

  test('too many SGEs is -EINVAL and bad_wr names it; the WRs before it are posted and run', () => {
    const m = machine();
    const c = connect(m.ib, { maxSendSge: 2 });
    const buf = ramBuffer(m.k, 4096);
    const good = wr(IB_WR_RDMA_READ, dma(buf), 64, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED });
    const s = { addr: dma(buf), length: 8, lkey: c.pd.localDmaLkey };
    const bad: IbSendWr = { next: null, wrCqe: null, sgList: [s, s, s], numSge: 3, opcode: IB_WR_RDMA_READ, sendFlags: 0, remoteAddr: 0, rkey: c.mr.rkey };
    good.next = bad;
    const ref: BadWrRef<IbSendWr> = { wr: null };
    expect(ibPostSend(c.qp, good, ref)).toBe(-22);
    expect(ref.wr).toBe(bad);
    expect(drain(m.k, c.cq).map((w) => [w.status, w.opcode])).toEqual([[IB_WC_SUCCESS, IB_WC_RDMA_READ]]);
  });

  test('a full send queue is -ENOMEM (max_send_wr outstanding); slots come back as WRs complete', () => {
    const m = machine();
    const c = connect(m.ib, { maxSendWr: 2 });
    const buf = ramBuffer(m.k, 4096);
    const mk = () => wr(IB_WR_RDMA_WRITE, dma(buf), 16, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey });
    const a = mk();
    const b = mk();
    const third = mk();
    a.next = b;
    b.next = third;
    const ref: BadWrRef<IbSendWr> = { wr: null };
    expect(ibPostSend(c.qp, a, ref)).toBe(-12);
    expect(ref.wr).toBe(third);
    m.k.clock.runUntilIdle();
    expect(ibPostSend(c.qp, mk())).toBe(0);
  });

  test('an RDMA opcode without remote address or rkey is -EINVAL; so is an opcode the model lacks', () => {
    const m = machine();
    const c = connect(m.ib);
    expect(ibPostSend(c.qp, wr(IB_WR_RDMA_WRITE, 0x100000, 8, 0x100))).toBe(-22);
    expect(ibPostSend(c.qp, { ...wr(IB_WR_SEND, 0x100000, 8, 0x100), opcode: 9 as IbSendWr['opcode'] })).toBe(-22);
  });

  test('an SGE list shorter than num_sge is a driver bug (KernelBug), not an errno', () => {
    const m = machine();
    const c = connect(m.ib);
    expect(() => ibPostSend(c.qp, { ...wr(IB_WR_SEND, 0x100000, 8, 0x100), numSge: 2 })).toThrow(KernelBug);
  });

  test('the hardware copies the WQE at post time: changing the WR afterwards changes nothing', () => {
    const m = machine();
    const c = connect(m.ib);
    c.remote.write(0, Uint8Array.of(1, 2, 3, 4));
    const buf = ramBuffer(m.k, 4096);
    const w = wr(IB_WR_RDMA_READ, dma(buf), 4, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey });
    ibPostSend(c.qp, w);
    (w.sgList[0] as { length: number }).length = 0;
    w.remoteAddr = 100;
    m.k.clock.runUntilIdle();
    expect([...ok(m.k.memory.cpuRead(dma(buf), 4))]).toEqual([1, 2, 3, 4]);
  });
});

describe('completions', () => {
  test('IB_SIGNAL_REQ_WR: unsignaled successes produce nothing; IB_SIGNAL_ALL_WR: every WR completes', () => {
    for (const [sig, expected] of [
      [IB_SIGNAL_REQ_WR, 1],
      [IB_SIGNAL_ALL_WR, 2],
    ] as const) {
      const m = machine();
      const pd = ok(ibAllocPd(m.ib));
      const qp = ok(ibCreateQp(pd, qpAttr(m.ib, { sqSigType: sig })));
      const host = new RemoteHost({ name: 'h', memoryBytes: 8192 });
      rdmaConnect(qp, host.createQp());
      const mr = ok(host.regMr(0, 8192, 6));
      const buf = ramBuffer(m.k, 4096);
      const a = wr(IB_WR_RDMA_WRITE, dma(buf), 16, pd.localDmaLkey, { remoteAddr: 0, rkey: mr.rkey });
      a.next = wr(IB_WR_RDMA_WRITE, dma(buf), 16, pd.localDmaLkey, { remoteAddr: 16, rkey: mr.rkey, sendFlags: IB_SEND_SIGNALED });
      ibPostSend(qp, a);
      expect(drain(m.k, qp.sendCq).map((w) => [w.status, w.opcode])).toEqual(Array(expected).fill([IB_WC_SUCCESS, IB_WC_RDMA_WRITE]));
    }
  });

  test('a failed WR completes in error, moves the QP to ERR and everything after it (sends and posted receives) is flushed', () => {
    const m = machine();
    const c = connect(m.ib);
    const buf = ramBuffer(m.k, 4096);
    const r = recorder(m.k);
    ibPostRecv(c.qp, { next: null, wrCqe: r.cqe, sgList: [{ addr: dma(buf), length: 64, lkey: c.pd.localDmaLkey }], numSge: 1 });
    const a = wr(IB_WR_RDMA_READ, dma(buf), 64, c.pd.localDmaLkey, { remoteAddr: 0, rkey: 0xdead00, wrCqe: r.cqe });
    a.next = wr(IB_WR_RDMA_READ, dma(buf), 64, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey, wrCqe: r.cqe, sendFlags: IB_SEND_SIGNALED });
    ibPostSend(c.qp, a);
    const wcs = drain(m.k, c.cq);
    expect(wcs.map((w) => [w.status, w.opcode, w.vendorErr])).toEqual([
      [IB_WC_REM_ACCESS_ERR, IB_WC_RDMA_READ, IB_VENDOR_ERR.REMOTE_UNKNOWN_RKEY],
      [IB_WC_WR_FLUSH_ERR, IB_WC_RECV, 0],
      [IB_WC_WR_FLUSH_ERR, IB_WC_RDMA_READ, 0],
    ]);
    expect(c.qp.state).toBe(IB_QPS_ERR);
    // Posting in ERR is accepted and flushed.
    expect(ibPostSend(c.qp, wr(IB_WR_SEND, dma(buf), 8, c.pd.localDmaLkey, { sendFlags: IB_SEND_SIGNALED }))).toBe(0);
    expect(drain(m.k, c.cq).map((w) => w.status)).toEqual([IB_WC_WR_FLUSH_ERR]);
    expect(ibWcStatusMsg(wcs[0]!.status)).toBe('remote access error');
  });

  test('ib_modify_qp(ERR) flushes posted receives at once', () => {
    const m = machine();
    const c = connect(m.ib);
    const buf = ramBuffer(m.k, 4096);
    ibPostRecv(c.qp, { next: null, wrCqe: null, sgList: [{ addr: dma(buf), length: 64, lkey: c.pd.localDmaLkey }], numSge: 1 });
    expect(ibModifyQp(c.qp, IB_QPS_ERR)).toBe(0);
    expect(ibPollCq(c.cq, 4).map((w) => [w.status, w.opcode])).toEqual([[IB_WC_WR_FLUSH_ERR, IB_WC_RECV]]);
  });

  test('IB_POLL_SOFTIRQ runs done() at the completion time; a NULL wr_cqe error is dropped, a NULL wr_cqe success warns once', () => {
    const m = machine();
    const pd = ok(ibAllocPd(m.ib));
    const cq = ok(ibAllocCq(m.ib, 16, IB_POLL_SOFTIRQ));
    const qp = ok(ibCreateQp(pd, qpAttr(m.ib, { sendCq: cq, recvCq: cq })));
    const host = new RemoteHost({ name: 'h', memoryBytes: 8192 });
    rdmaConnect(qp, host.createQp());
    const mr = ok(host.regMr(0, 8192, 6));
    const buf = ramBuffer(m.k, 4096);
    const r = recorder(m.k);
    ibPostSend(qp, wr(IB_WR_RDMA_WRITE, dma(buf), 1250, pd.localDmaLkey, { remoteAddr: 0, rkey: mr.rkey, sendFlags: IB_SEND_SIGNALED, wrCqe: r.cqe }));
    m.k.clock.runUntilIdle();
    // 100 ns WQE overhead + 1250 B at 12.5 B/ns + 2 x 600 ns round trip.
    expect(r.seen.map((s) => [s.wc.status, s.at])).toEqual([[IB_WC_SUCCESS, 100 + 100 + 1200]]);
    m.k.log.clear();
    ibPostSend(qp, wr(IB_WR_RDMA_WRITE, dma(buf), 8, pd.localDmaLkey, { remoteAddr: 0, rkey: mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    ibPostSend(qp, wr(IB_WR_RDMA_WRITE, dma(buf), 8, pd.localDmaLkey, { remoteAddr: 0, rkey: mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    m.k.clock.runUntilIdle();
    expect(m.k.log.lines().map((l) => l.text)).toEqual(['WARNING: __ib_process_cq: mlx5_0: successful completion without a completion entry']);
  });

  test('a direct-polled CQ holding cqe completions overruns: the next one is dropped and logged', () => {
    const m = machine();
    const pd = ok(ibAllocPd(m.ib));
    const cq = ok(ibAllocCq(m.ib, 2, IB_POLL_DIRECT));
    const qp = ok(ibCreateQp(pd, qpAttr(m.ib, { sendCq: cq, recvCq: cq, sqSigType: IB_SIGNAL_ALL_WR })));
    const host = new RemoteHost({ name: 'h', memoryBytes: 8192 });
    rdmaConnect(qp, host.createQp());
    const mr = ok(host.regMr(0, 8192, 6));
    const buf = ramBuffer(m.k, 4096);
    for (let i = 0; i < 3; i++) ibPostSend(qp, wr(IB_WR_RDMA_WRITE, dma(buf), 8, pd.localDmaLkey, { remoteAddr: 0, rkey: mr.rkey }));
    m.k.clock.runUntilIdle();
    expect(cq.overruns).toBe(1);
    expect(m.k.log.grep('CQ overrun').map((l) => l.text)).toEqual(['infiniband mlx5_0: CQ overrun: completion dropped (cqe 2)']);
    expect(ibProcessCqDirect(cq, 10)).toBe(2);
    expect(cq.pending).toBe(0);
  });

  test('ib_wc_status_msg texts', () => {
    expect([0, 4, 5, 10, 12, 21].map(ibWcStatusMsg)).toEqual([
      'success',
      'local protection error',
      'WR flushed',
      'remote access error',
      'transport retry counter exceeded',
      'general error',
    ]);
    expect(ibWcStatusMsg(22)).toBe('unrecognized status');
    expect(ibWcStatusMsg(-1)).toBe('unrecognized status');
  });
});

describe('local key and local DMA checks', () => {
  test('an SGE with a foreign lkey fails with IB_WC_LOC_PROT_ERR and moves nothing', () => {
    const m = machine();
    const c = connect(m.ib);
    c.remote.write(0, Uint8Array.of(9, 9, 9, 9));
    const buf = ramBuffer(m.k, 4096);
    ibPostSend(c.qp, wr(IB_WR_RDMA_READ, dma(buf), 4, 0x4242, { remoteAddr: 0, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    expect(drain(m.k, c.cq).map((w) => [w.status, w.vendorErr])).toEqual([[IB_WC_LOC_PROT_ERR, IB_VENDOR_ERR.BAD_LKEY]]);
    expect([...ok(m.k.memory.cpuRead(dma(buf), 4))]).toEqual([0, 0, 0, 0]);
    expect(c.remote.counters.txBytes).toBe(0);
  });

  test('an RDMA WRITE whose local DMA read fails in the fabric (IOMMU fault on an unmapped IOVA) completes with IB_WC_LOC_PROT_ERR', () => {
    const m = machine({ iommu: true });
    const c = connect(m.ib);
    ibPostSend(c.qp, wr(IB_WR_RDMA_WRITE, 2 ** 41, 64, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    expect(drain(m.k, c.cq).map((w) => [w.status, w.vendorErr])).toEqual([[IB_WC_LOC_PROT_ERR, IB_VENDOR_ERR.LOCAL_DMA_FAILED]]);
    expect(m.sys.fabric.errors().map((e) => [e.status, e.dir])).toEqual([['iommu-fault', 'read']]);
    expect(c.remote.counters.rxBytes).toBe(0);
  });

  test('an RDMA READ whose local DMA writes are dropped (posted writes) still completes successfully: only the fabric knows', () => {
    const m = machine({ iommu: true });
    const c = connect(m.ib);
    ibPostSend(c.qp, wr(IB_WR_RDMA_READ, 2 ** 41, 64, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    expect(drain(m.k, c.cq).map((w) => [w.status, w.byteLen])).toEqual([[IB_WC_SUCCESS, 64]]);
    expect(m.sys.fabric.errors().map((e) => [e.status, e.dir])).toEqual([['iommu-fault', 'write']]);
  });
});
