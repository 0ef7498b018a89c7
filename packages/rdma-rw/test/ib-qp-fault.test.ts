/**
 * Injected RNIC completion errors (qp.injectCompletionError): the chosen WR completes with the
 * IB_WC_* status, moves nothing, and the QP goes to the error state so every later WR is
 * flushed, as RC hardware does (IB spec: a completion error moves the QP to the error state).
 */
import { virtToPhys } from '@p2pdma/kernel';
import { describe, expect, test } from 'vitest';
import {
  IB_COMPLETION_ERRORS,
  IB_QPS_ERR,
  IB_SEND_SIGNALED,
  IB_VENDOR_ERR_INJECTED,
  IB_WC_RDMA_READ,
  IB_WC_RDMA_WRITE,
  IB_WC_RECV,
  IB_WC_REM_ACCESS_ERR,
  IB_WC_RETRY_EXC_ERR,
  IB_WC_LOC_PROT_ERR,
  IB_WC_SUCCESS,
  IB_WC_WR_FLUSH_ERR,
  IB_WC_WR_FLUSH_ERR as FLUSH,
  IB_WR_RDMA_READ,
  IB_WR_RDMA_WRITE,
  ibPostRecv,
  ibPostSend,
} from '../src/index';
import { connect, drain, machine, ok, ramBuffer, wr } from './helpers';

const dma = (virt: number) => virtToPhys(virt);

describe('injected completion errors (IB_WC_* error statuses on demand)', () => {
  test('the table lists the injectable statuses; a bad spec is refused with the field named', () => {
    expect(IB_COMPLETION_ERRORS.map((e) => e.status)).toContain(IB_WC_REM_ACCESS_ERR);
    expect(IB_COMPLETION_ERRORS.map((e) => e.status)).not.toContain(IB_WC_SUCCESS);
    const m = machine();
    const c = connect(m.ib);
    expect(() => c.qp.injectCompletionError({ status: IB_WC_SUCCESS as never })).toThrow('injectCompletionError: status 0 is not an injectable IB_WC_* error status');
    expect(() => c.qp.injectCompletionError({ status: IB_WC_WR_FLUSH_ERR as never })).toThrow(/status 5 is not/);
    expect(() => c.qp.injectCompletionError({ status: IB_WC_REM_ACCESS_ERR, nth: 0 })).toThrow('injectCompletionError: nth 0 must be a positive integer');
    expect(() => c.qp.injectCompletionError({ status: IB_WC_REM_ACCESS_ERR, opcode: 7 as never })).toThrow(/opcode 7 is not/);
    expect(c.qp.completionFaults?.armed ?? 0).toBe(0);
  });

  test('IB_WC_REM_ACCESS_ERR on the 2nd RDMA READ: the first lands, the second moves nothing, the third is flushed; QP in error', () => {
    const m = machine();
    const c = connect(m.ib);
    c.remote.write(0, Uint8Array.of(1, 2, 3, 4));
    const buf = ramBuffer(m.k, 4096);
    c.qp.injectCompletionError({ status: IB_WC_REM_ACCESS_ERR, opcode: IB_WR_RDMA_READ, nth: 2 });
    const rd = (off: number) => wr(IB_WR_RDMA_READ, dma(buf) + off, 4, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED });
    const w1 = rd(0);
    w1.next = rd(64);
    w1.next.next = wr(IB_WR_RDMA_WRITE, dma(buf), 4, c.pd.localDmaLkey, { remoteAddr: 64, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED });
    expect(ibPostSend(c.qp, w1)).toBe(0);
    const wcs = drain(m.k, c.cq);
    expect(wcs.map((w) => [w.opcode, w.status, w.vendorErr])).toEqual([
      [IB_WC_RDMA_READ, IB_WC_SUCCESS, 0],
      [IB_WC_RDMA_READ, IB_WC_REM_ACCESS_ERR, IB_VENDOR_ERR_INJECTED],
      [IB_WC_RDMA_WRITE, FLUSH, 0],
    ]);
    expect([...ok(m.k.memory.cpuRead(dma(buf), 4))]).toEqual([1, 2, 3, 4]);
    expect([...ok(m.k.memory.cpuRead(dma(buf) + 64, 4))]).toEqual([0, 0, 0, 0]);
    expect([...c.remote.read(64, 4)]).toEqual([0, 0, 0, 0]);
    expect(c.qp.state).toBe(IB_QPS_ERR);
    expect(c.qp.completionFaults!.fired).toBe(1);
    expect(c.qp.completionFaults!.armed).toBe(0);
  });

  test('IB_WC_RETRY_EXC_ERR on any send WR completes even an unsignaled WR with the error', () => {
    const m = machine();
    const c = connect(m.ib);
    const buf = ramBuffer(m.k, 4096);
    c.qp.injectCompletionError({ status: IB_WC_RETRY_EXC_ERR });
    ibPostSend(c.qp, wr(IB_WR_RDMA_WRITE, dma(buf), 16, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey }));
    expect(drain(m.k, c.cq).map((w) => w.status)).toEqual([IB_WC_RETRY_EXC_ERR]);
    expect(c.remote.counters.rxBytes).toBe(0);
  });

  test("'recv': an incoming SEND completes its receive with the error and the QP flushes the other receives", () => {
    const m = machine();
    const c = connect(m.ib);
    const buf = ramBuffer(m.k, 4096);
    c.qp.injectCompletionError({ status: IB_WC_LOC_PROT_ERR, opcode: 'recv' });
    for (let i = 0; i < 2; i++) ibPostRecv(c.qp, { next: null, wrCqe: null, sgList: [{ addr: dma(buf) + i * 64, length: 64, lkey: c.pd.localDmaLkey }], numSge: 1 });
    expect(c.rqp.postSend(Uint8Array.of(7, 7, 7, 7))).toBe(0);
    expect(drain(m.k, c.cq).map((w) => [w.opcode, w.status])).toEqual([
      [IB_WC_RECV, IB_WC_LOC_PROT_ERR],
      [IB_WC_RECV, FLUSH],
    ]);
    expect([...ok(m.k.memory.cpuRead(dma(buf), 4))]).toEqual([0, 0, 0, 0]);
  });

  test('clearCompletionErrors disarms what is pending; WRs then succeed', () => {
    const m = machine();
    const c = connect(m.ib);
    const buf = ramBuffer(m.k, 4096);
    c.qp.injectCompletionError({ status: IB_WC_REM_ACCESS_ERR, times: 3 });
    c.qp.clearCompletionErrors();
    ibPostSend(c.qp, wr(IB_WR_RDMA_WRITE, dma(buf), 16, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    expect(drain(m.k, c.cq).map((w) => w.status)).toEqual([IB_WC_SUCCESS]);
    expect(c.qp.completionFaults!.fired).toBe(0);
  });
});
