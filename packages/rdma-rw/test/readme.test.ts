/** The README example (seed patch 06: a flagged RDMA READ into p2pmem) runs as documented. */
import { DMA_FROM_DEVICE, Kernel } from '@p2pdma/kernel';
import type { P2pSgl } from '@p2pdma/p2pdma';
import { pciP2pdmaAddResource, pciP2pmemAllocSgl, pciP2pmemPublish } from '@p2pdma/p2pdma';
import { enumerate, getBuiltin, kernelOptionsForTopology, pciRegisterDriver } from '@p2pdma/pci-core';
import { expect, it } from 'vitest';
import type { IbCq, IbPd, IbQp, RemoteMr } from '../src/index';
import {
  IB_ACCESS_REMOTE_READ,
  IB_POLL_DIRECT,
  IB_QPT_RC,
  IB_SIGNAL_REQ_WR,
  IB_WC_RDMA_READ,
  IB_WC_SUCCESS,
  ibAllocCq,
  ibAllocPd,
  ibCreateQp,
  ibPollCq,
  mlx5CoreDriver,
  mlx5IbDevice,
  RDMA_RW_CTX_FLAG_PCI_P2PDMA,
  RdmaRwCtx,
  rdmaConnect,
  rdmaRwCtxDestroy,
  rdmaRwCtxInit,
  rdmaRwCtxPost,
  RemoteHost,
  rnicAttach,
} from '../src/index';

it('the README example runs as documented', () => {
  const spec = getBuiltin('seed-switch')!;
  const k = new Kernel({ ...kernelOptionsForTopology(spec), policy: 'v2' });
  const sys = enumerate(k, spec);
  if ('error' in sys) throw new Error(sys.error.message);
  const rnic = sys.findByBdf('03:00.0')!;
  const card = sys.findByBdf('06:00.0')!;
  rnicAttach(rnic);
  pciRegisterDriver(k, mlx5CoreDriver());
  expect(k.log.grep('firmware version').map((l) => l.text)).toEqual(['mlx5_core 0000:03:00.0: firmware version: 16.27.2008']);
  const ib = mlx5IbDevice(rnic)!;
  expect(ib.name).toBe('mlx5_0');

  const pd = ibAllocPd(ib) as IbPd;
  const cq = ibAllocCq(ib, 64, IB_POLL_DIRECT) as IbCq;
  const qp = ibCreateQp(pd, {
    sendCq: cq,
    recvCq: cq,
    qpType: IB_QPT_RC,
    portNum: 1,
    sqSigType: IB_SIGNAL_REQ_WR,
    cap: { maxSendWr: 16, maxRecvWr: 16, maxSendSge: 4, maxRecvSge: 1 },
  }) as IbQp;
  const host = new RemoteHost({ name: 'initiator', memoryBytes: 1 << 20 });
  expect(rdmaConnect(qp, host.createQp())).toBe(0);
  const mr = host.regMr(0, 1 << 20, IB_ACCESS_REMOTE_READ) as RemoteMr;
  host.write(0, new Uint8Array(8192).fill(0xab));

  pciP2pdmaAddResource(card, 4, 0, 0);
  pciP2pmemPublish(card, true);
  const { sgl } = pciP2pmemAllocSgl(card, 8192) as P2pSgl;

  const ctx = new RdmaRwCtx();
  expect(rdmaRwCtxInit(ctx, qp, 1, sgl, 1, 0, 0, mr.rkey, DMA_FROM_DEVICE, RDMA_RW_CTX_FLAG_PCI_P2PDMA)).toBe(1);
  expect(rdmaRwCtxPost(ctx, qp, 1, { done: () => {} }, null)).toBe(0);
  k.clock.runUntilIdle();
  expect(ibPollCq(cq, 1).map((w) => [w.status, w.opcode, w.byteLen])).toEqual([[IB_WC_SUCCESS, IB_WC_RDMA_READ, 8192]]);
  expect(sys.fabric.counters().dram).toEqual({ read: 0, write: 0 });
  const landed = new Uint8Array(8192);
  card.barBacking(4)!.read(sgl.page!.pfn * 4096 + sgl.offset - card.resource[4]!.start, landed);
  expect(landed.every((b) => b === 0xab)).toBe(true);
  rdmaRwCtxDestroy(ctx, qp, 1, sgl, 1, DMA_FROM_DEVICE, RDMA_RW_CTX_FLAG_PCI_P2PDMA);
  expect(k.dmaDebug.errorCount).toBe(0);
});
