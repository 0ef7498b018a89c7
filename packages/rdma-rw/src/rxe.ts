/**
 * The software RDMA device (Soft-RoCE, rxe): an RDMA device that is not a PCI function of its
 * own. It registers with `dma_virt_ops`, so its "DMA addresses" are kernel virtual addresses and
 * every data movement is a CPU copy through `kernel.memory` (RAM directly; a BAR through its MMIO
 * mapping, i.e. CPU loads and stores down the fabric). It therefore cannot take part in PCI
 * peer-to-peer DMA: p2pdma refuses it as a client and its P2P mapping returns 0.
 *
 * Its DMA device is the IB device's own `struct device` (with `virt` ops), whose parent is the
 * Ethernet function it runs on (or nothing), as 4.16's `setup_dma_device` arranges for providers
 * bringing their own DMA ops. PDs get a DMA MR (rxe has no reserved lkey). Copies that fault
 * fail the work request with `IB_WC_LOC_PROT_ERR` (the real driver would oops).
 *
 * @kernel drivers/infiniband/sw/rxe (rxe_add, rxe_register_device, rxe_param.h limits)
 */
import type { Device, Kernel, NegErrno } from '@p2pdma/kernel';
import { isErr, PAGE_OFFSET, PHYS_ADDR_LIMIT } from '@p2pdma/kernel';
import type { IbDevice, IbDeviceAttr, IbPortAttr, IbTiming } from './ib-device';
import { IB_PORT_ACTIVE, ibRegisterDevice } from './ib-device';
import { sendFetch } from './internal/engine';

/** rxe's limits (`rxe_param.h`). */
export const RXE_ATTRS: IbDeviceAttr = {
  fwVer: '0.0.0',
  vendorId: 0xffffff,
  vendorPartId: 0,
  maxQpWr: 0x4000,
  maxSge: 32,
  maxSgeRd: 32,
  maxCqe: (1 << 15) - 1,
  maxQp: 0x10000,
};

/** rxe's port on a 25 GbE link with a 1500-byte Ethernet MTU (IB MTU 1024). */
export const RXE_PORT: IbPortAttr = {
  state: IB_PORT_ACTIVE,
  activeMtu: 1024,
  maxMsgSz: 0x80_0000,
  activeWidth: 1,
  activeSpeedGbps: 25,
  linkLayer: 'Ethernet',
};

/** rxe's timing: software processing and CPU copies at about 4 GB/s (rough). */
export const RXE_TIMING: IbTiming = { wrOverheadNs: 2000, wireLatencyNs: 5000, copyBytesPerNs: 4 };

/** Options of `rxeAdd`. */
export interface RxeOptions {
  /** Device name (default `rxe%d`: `rxe0`, `rxe1`, …). */
  readonly name?: string;
  /** The Ethernet function it runs on (the IB device's parent), or `null` (default). */
  readonly parent?: Device | null;
}

function virtToPhysOrNull(addr: number, len: number): number | null {
  if (!Number.isSafeInteger(addr) || addr < PAGE_OFFSET || addr + len > PAGE_OFFSET + PHYS_ADDR_LIMIT) return null;
  return addr - PAGE_OFFSET;
}

/**
 * Adds a software RDMA device (`rdma link add rxe0 type rxe netdev eth0`).
 * @param kernel the kernel.
 * @param opts name and parent.
 * @returns the RDMA device, or the registration's errno (`-EEXIST` for a name in use).
 * @kernel rxe_add / rxe_register_device
 */
export function rxeAdd(kernel: Kernel, opts: RxeOptions = {}): IbDevice | NegErrno {
  let self: IbDevice | null = null;
  const copy = (addr: number, len: number, what: string): number | null => {
    const phys = virtToPhysOrNull(addr, len);
    if (phys === null && self !== null) kernel.log.devErr(self.dev, `rxe: ${what} of ${len} bytes at 0x${addr.toString(16)}: not a kernel virtual address`);
    return phys;
  };
  const r = ibRegisterDevice(kernel, {
    name: opts.name ?? 'rxe%d',
    parent: opts.parent ?? null,
    dmaOps: 'virt',
    attrs: RXE_ATTRS,
    ports: [RXE_PORT],
    localDmaLkey: null,
    ops: {
      driverName: 'rxe',
      postedWrites: false,
      timing: RXE_TIMING,
      localRead: (addr, out) => {
        const phys = copy(addr, out.length, 'copy from');
        return phys !== null && !isErr(kernel.memory.cpuRead(phys, out.length, out));
      },
      localWrite: (addr, data) => {
        const phys = copy(addr, data.length, 'copy to');
        return phys !== null && kernel.memory.cpuWrite(phys, data) === 0;
      },
      ringSendDoorbell: (qp, producer) => sendFetch(qp, producer - qp.sqFetched),
    },
  });
  if (!isErr(r)) self = r;
  return r;
}
