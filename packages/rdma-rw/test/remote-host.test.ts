/**
 * The wire to remote hosts: RDMA READ pulls remote bytes and the RNIC DMA-writes them into local
 * memory through the fabric; RDMA WRITE DMA-reads local bytes and writes the remote MR; the
 * responder's rkey/bounds/permission checks (IB_WC_REM_ACCESS_ERR, nothing moves); SENDs both
 * ways with receive buffers, RNR waiting and IB_WC_LOC_LEN_ERR; per-direction byte counters.
 */
import { virtToPhys } from '@p2pdma/kernel';
import { describe, expect, test } from 'vitest';
import {
  IB_ACCESS_LOCAL_WRITE,
  IB_ACCESS_REMOTE_READ,
  IB_ACCESS_REMOTE_WRITE,
  IB_QPS_ERR,
  IB_SEND_SIGNALED,
  IB_VENDOR_ERR,
  IB_WC_LOC_LEN_ERR,
  IB_WC_RDMA_READ,
  IB_WC_RDMA_WRITE,
  IB_WC_RECV,
  IB_WC_REM_ACCESS_ERR,
  IB_WC_SEND,
  IB_WC_SUCCESS,
  IB_WR_RDMA_READ,
  IB_WR_RDMA_WRITE,
  IB_WR_SEND,
  ibPostRecv,
  ibPostSend,
  RemoteHost,
} from '../src/index';
import { connect, cpuRead, cpuWrite, drain, machine, ok, pattern, ramBuffer, wr } from './helpers';

const dma = (virt: number) => virtToPhys(virt);

describe('RDMA READ and WRITE against a remote host', () => {
  test('RDMA READ: remote bytes land in local RAM by NIC DMA writes through the switch and root port to DRAM', () => {
    const m = machine();
    const c = connect(m.ib);
    const data = pattern(8192, 1);
    c.remote.write(0x3000, data);
    const buf = ramBuffer(m.k, 8192);
    m.sys.fabric.resetCounters();
    ibPostSend(c.qp, wr(IB_WR_RDMA_READ, dma(buf), 8192, c.pd.localDmaLkey, { remoteAddr: 0x3000, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    const wcs = drain(m.k, c.cq);
    expect(wcs.map((w) => [w.status, w.opcode, w.byteLen])).toEqual([[IB_WC_SUCCESS, IB_WC_RDMA_READ, 8192]]);
    const f = m.sys.fabric.counters();
    expect(cpuRead(m.k, buf, 8192)).toEqual(data);
    expect(f.dram.write).toBe(8192);
    expect(f.links['0000:03:00.0']!.up).toBe(8192);
    expect(f.rootComplexes['pci0000:00']!.in).toBe(8192);
    expect(m.ib.ports[0]!.counters).toEqual({ xmitBytes: 0, rcvBytes: 8192 });
    expect(c.remote.counters).toEqual({ rxBytes: 0, txBytes: 8192, accessErrors: 0 });
  });

  test('RDMA WRITE: local RAM bytes are DMA-read and written into the remote MR', () => {
    const m = machine();
    const c = connect(m.ib);
    const data = pattern(3000, 2);
    const buf = ramBuffer(m.k, 4096);
    cpuWrite(m.k, buf, data);
    m.sys.fabric.resetCounters();
    ibPostSend(c.qp, wr(IB_WR_RDMA_WRITE, dma(buf), 3000, c.pd.localDmaLkey, { remoteAddr: 100, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    expect(drain(m.k, c.cq).map((w) => [w.status, w.opcode])).toEqual([[IB_WC_SUCCESS, IB_WC_RDMA_WRITE]]);
    expect(c.remote.read(100, 3000)).toEqual(data);
    expect(m.sys.fabric.counters().dram.read).toBe(3000);
    expect(m.ib.ports[0]!.counters).toEqual({ xmitBytes: 3000, rcvBytes: 0 });
    expect(c.remote.counters.rxBytes).toBe(3000);
  });

  test('a WR completes after WQE overhead + serialization at 100 Gb/s + one round trip, on the virtual clock', () => {
    const m = machine();
    const c = connect(m.ib);
    const buf = ramBuffer(m.k, 8192);
    ibPostSend(c.qp, wr(IB_WR_RDMA_READ, dma(buf), 8192, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    ibPostSend(c.qp, wr(IB_WR_RDMA_READ, dma(buf), 8192, c.pd.localDmaLkey, { remoteAddr: 0, rkey: c.mr.rkey, sendFlags: IB_SEND_SIGNALED }));
    m.k.clock.runNext();
    expect(m.k.clock.now()).toBe(100 + Math.ceil(8192 / 12.5) + 1200);
    m.k.clock.runNext();
    expect(m.k.clock.now()).toBe(2 * (100 + Math.ceil(8192 / 12.5)) + 1200);
  });

  describe('responder checks: IB_WC_REM_ACCESS_ERR and nothing written', () => {
    const cases = [
      { name: 'unknown rkey', rkey: (r: number) => r + 0x100, addr: 0, access: IB_ACCESS_REMOTE_READ | IB_ACCESS_REMOTE_WRITE, vendor: IB_VENDOR_ERR.REMOTE_UNKNOWN_RKEY },
      { name: 'range past the end of the MR', rkey: (r: number) => r, addr: 4096 - 8, access: IB_ACCESS_REMOTE_READ | IB_ACCESS_REMOTE_WRITE, vendor: IB_VENDOR_ERR.REMOTE_OUT_OF_BOUNDS },
      { name: 'MR without the remote permission', rkey: (r: number) => r, addr: 0, access: IB_ACCESS_LOCAL_WRITE, vendor: IB_VENDOR_ERR.REMOTE_NOT_PERMITTED },
    ];
    for (const k of cases) {
      for (const op of [IB_WR_RDMA_READ, IB_WR_RDMA_WRITE] as const) {
        test(`${op === IB_WR_RDMA_READ ? 'RDMA READ' : 'RDMA WRITE'}: ${k.name}`, () => {
          const m = machine();
          const c = connect(m.ib);
          const mr = ok(c.remote.regMr(0x10000, 4096, k.access));
          const remoteBefore = pattern(4096, 3);
          c.remote.write(0x10000, remoteBefore);
          const buf = ramBuffer(m.k, 4096);
          const localBefore = pattern(64, 4);
          cpuWrite(m.k, buf, localBefore);
          m.sys.fabric.resetCounters();
          ibPostSend(c.qp, wr(op, dma(buf), 64, c.pd.localDmaLkey, { remoteAddr: 0x10000 + k.addr, rkey: k.rkey(mr.rkey), sendFlags: IB_SEND_SIGNALED }));
          expect(drain(m.k, c.cq).map((w) => [w.status, w.vendorErr, w.byteLen])).toEqual([[IB_WC_REM_ACCESS_ERR, k.vendor, 0]]);
          expect(c.qp.state).toBe(IB_QPS_ERR);
          expect(c.remote.read(0x10000, 4096)).toEqual(remoteBefore);
          expect(cpuRead(m.k, buf, 64)).toEqual(localBefore);
          const f = m.sys.fabric.counters();
          expect([f.dram.read, f.dram.write, f.links['0000:03:00.0']!.up]).toEqual([0, 0, 0]);
          expect(m.ib.ports[0]!.counters).toEqual({ xmitBytes: 0, rcvBytes: 0 });
          expect(c.remote.counters.accessErrors).toBe(1);
        });
      }
    }

    test('a deregistered MR stops working: its rkey is unknown', () => {
      const m = machine();
      const c = connect(m.ib);
      const mr = ok(c.remote.regMr(0, 4096, IB_ACCESS_REMOTE_WRITE));
      expect(c.remote.deregMr(mr)).toBe(0);
      expect(c.remote.deregMr(mr)).toBe(-22);
      const buf = ramBuffer(m.k, 4096);
      ibPostSend(c.qp, wr(IB_WR_RDMA_WRITE, dma(buf), 16, c.pd.localDmaLkey, { remoteAddr: 0, rkey: mr.rkey, sendFlags: IB_SEND_SIGNALED }));
      expect(drain(m.k, c.cq).map((w) => [w.status, w.vendorErr])).toEqual([[IB_WC_REM_ACCESS_ERR, IB_VENDOR_ERR.REMOTE_UNKNOWN_RKEY]]);
    });
  });
});

describe('SEND and receive', () => {
  test('a local SEND reaches the remote QP (received + onReceive)', () => {
    const m = machine();
    const c = connect(m.ib);
    const got: number[] = [];
    c.rqp.onReceive = (d) => got.push(d.length);
    const buf = ramBuffer(m.k, 4096);
    cpuWrite(m.k, buf, Uint8Array.of(1, 2, 3));
    ibPostSend(c.qp, wr(IB_WR_SEND, dma(buf), 3, c.pd.localDmaLkey, { sendFlags: IB_SEND_SIGNALED }));
    expect(drain(m.k, c.cq).map((w) => [w.status, w.opcode])).toEqual([[IB_WC_SUCCESS, IB_WC_SEND]]);
    expect(c.rqp.received.map((d) => [...d])).toEqual([[1, 2, 3]]);
    expect(got).toEqual([3]);
  });

  test('a remote SEND lands in the first posted receive buffer (DMA write to RAM); one arriving before any buffer waits for it (RNR)', () => {
    const m = machine();
    const c = connect(m.ib);
    const buf = ramBuffer(m.k, 4096);
    expect(c.rqp.postSend(Uint8Array.of(7, 7, 7, 7, 7))).toBe(0);
    m.k.clock.runUntilIdle();
    expect(c.cq.pending).toBe(0);
    ibPostRecv(c.qp, { next: null, wrCqe: null, sgList: [{ addr: dma(buf), length: 2, lkey: c.pd.localDmaLkey }, { addr: dma(buf) + 100, length: 64, lkey: c.pd.localDmaLkey }], numSge: 2 });
    const wcs = drain(m.k, c.cq);
    expect(wcs.map((w) => [w.status, w.opcode, w.byteLen])).toEqual([[IB_WC_SUCCESS, IB_WC_RECV, 5]]);
    expect([...cpuRead(m.k, buf, 2), ...cpuRead(m.k, buf + 100, 4)]).toEqual([7, 7, 7, 7, 7, 0]);
    expect(m.ib.ports[0]!.counters.rcvBytes).toBe(5);
    expect(c.remote.counters.txBytes).toBe(5);
  });

  test('a message longer than the receive buffer completes with IB_WC_LOC_LEN_ERR and the QP goes to ERR', () => {
    const m = machine();
    const c = connect(m.ib);
    const buf = ramBuffer(m.k, 4096);
    ibPostRecv(c.qp, { next: null, wrCqe: null, sgList: [{ addr: dma(buf), length: 4, lkey: c.pd.localDmaLkey }], numSge: 1 });
    c.rqp.postSend(new Uint8Array(5).fill(1));
    expect(drain(m.k, c.cq).map((w) => [w.status, w.opcode, w.vendorErr])).toEqual([[IB_WC_LOC_LEN_ERR, IB_WC_RECV, IB_VENDOR_ERR.MESSAGE_TOO_LONG]]);
    expect(c.qp.state).toBe(IB_QPS_ERR);
    expect(cpuRead(m.k, buf, 4)).toEqual(new Uint8Array(4));
  });
});

describe('RemoteHost input checks', () => {
  test('regMr outside memory, with zero length or unknown access bits is -EINVAL; read/write outside memory throw naming the range', () => {
    const h = new RemoteHost({ name: 'h', memoryBytes: 4096 });
    expect(h.regMr(4000, 200, IB_ACCESS_REMOTE_READ)).toBe(-22);
    expect(h.regMr(0, 0, IB_ACCESS_REMOTE_READ)).toBe(-22);
    expect(h.regMr(0, 16, 0x100)).toBe(-22);
    expect(() => h.read(4090, 10)).toThrow('RemoteHost h: range 4090+10 is outside its 4096-byte memory');
    expect(() => h.write(-1, new Uint8Array(1))).toThrow(RangeError);
    expect(() => new RemoteHost({ name: 'x', memoryBytes: 0 })).toThrow('RemoteHost x: memoryBytes 0 must be a positive integer');
  });

  test('rkeys are distinct per region', () => {
    const h = new RemoteHost({ name: 'h', memoryBytes: 4096 });
    const keys = new Set(Array.from({ length: 50 }, () => ok(h.regMr(0, 16, IB_ACCESS_REMOTE_READ)).rkey));
    expect(keys.size).toBe(50);
  });
});
