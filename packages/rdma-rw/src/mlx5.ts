/**
 * The mlx5 driver model: binds to ConnectX functions on the PCI bus, brings the RNIC hardware up
 * through its BAR 0 registers (CPU MMIO, through the fabric) and registers the `mlx5_<n>` RDMA
 * device whose DMA device is the PCI function itself. Posting a send work request writes the
 * UAR doorbell.
 *
 * Probe follows 4.16's `mlx5_load_one` as far as the model goes: check BAR 0, print the firmware
 * version, check the command interface revision, check that firmware left the initializing
 * state, then register the IB device (mlx5_ib's part). Capabilities come from the hardware model
 * directly (there is no command interface to query them).
 *
 * @kernel drivers/net/ethernet/mellanox/mlx5/core/main.c (init_one, mlx5_load_one, wait_fw_init),
 *   drivers/net/ethernet/mellanox/mlx5/core/cmd.c (mlx5_cmd_init),
 *   drivers/infiniband/hw/mlx5/main.c (mlx5_ib_add)
 */
import type { Device, KResult } from '@p2pdma/kernel';
import { err, isErr } from '@p2pdma/kernel';
import type { PciDev, PciDeviceId, PciDriver } from '@p2pdma/pci-core';
import { IORESOURCE_MEM, pciBusType, pciResourceFlags, pciResourceStart } from '@p2pdma/pci-core';
import type { IbDeviceAttr, IbPortAttr, IbTiming } from './ib-device';
import { IB_PORT_ACTIVE, IbDevice, ibRegisterDevice, ibUnregisterDevice } from './ib-device';
import type { IbQp, IbWrOpcode } from './ib-qp';
import { IB_WR_RDMA_READ, IB_WR_RDMA_WRITE, IB_WR_SEND } from './ib-qp';
import {
  MLX5_CMD_IF_REV,
  MLX5_INIT_SEG_FW_REV,
  MLX5_INIT_SEG_INITIALIZING,
  MLX5_INITIALIZING_BIT,
  MLX5_OPCODE_RDMA_READ,
  MLX5_OPCODE_RDMA_WRITE,
  MLX5_OPCODE_SEND,
  MLX5_UAR_SQ_DOORBELL,
  rnicOf,
} from './rnic';

/** Mellanox's PCI vendor ID. @kernel PCI_VENDOR_ID_MELLANOX */
export const PCI_VENDOR_ID_MELLANOX = 0x15b3;

/** The functions the driver binds: ConnectX-4, -4 Lx, -5, -5 Ex, -6. @kernel mlx5_core_pci_table (subset) */
export const MLX5_CORE_PCI_TABLE: readonly PciDeviceId[] = [
  { vendor: PCI_VENDOR_ID_MELLANOX, device: 0x1013 },
  { vendor: PCI_VENDOR_ID_MELLANOX, device: 0x1015 },
  { vendor: PCI_VENDOR_ID_MELLANOX, device: 0x1017 },
  { vendor: PCI_VENDOR_ID_MELLANOX, device: 0x1019 },
  { vendor: PCI_VENDOR_ID_MELLANOX, device: 0x101b },
];

/** How long 4.16 waits for firmware to leave the initializing state. @kernel FW_INIT_TIMEOUT_MILI */
export const MLX5_FW_INIT_TIMEOUT_MILI = 2000;

/** Capabilities of the modelled ConnectX-5 (as `ibv_devinfo -v` reports one). */
export const MLX5_CX5_ATTRS: Omit<IbDeviceAttr, 'fwVer'> = {
  vendorId: 0x02c9,
  vendorPartId: 4119,
  maxQpWr: 32768,
  maxSge: 30,
  maxSgeRd: 30,
  maxCqe: 4194303,
  maxQp: 262144,
};

/** Port 1 of the modelled ConnectX-5: 4X EDR InfiniBand (100 Gb/s), 4096-byte MTU. */
export const MLX5_CX5_PORT: IbPortAttr = {
  state: IB_PORT_ACTIVE,
  activeMtu: 4096,
  maxMsgSz: 0x4000_0000,
  activeWidth: 4,
  activeSpeedGbps: 25,
  linkLayer: 'InfiniBand',
};

/** Transport timing of the modelled ConnectX-5 (rough: ~1.3 µs round trip per work request). */
export const MLX5_TIMING: IbTiming = { wrOverheadNs: 100, wireLatencyNs: 600, copyBytesPerNs: null };

/** The reserved lkey the modelled firmware reports (the model's value). @kernel ib_device.local_dma_lkey */
export const MLX5_RESERVED_LKEY = 0x100;

/** WQE opcode written in the doorbell, per work request opcode. */
const DOORBELL_OPCODE: Readonly<Record<IbWrOpcode, number>> = {
  [IB_WR_RDMA_WRITE]: MLX5_OPCODE_RDMA_WRITE,
  [IB_WR_RDMA_READ]: MLX5_OPCODE_RDMA_READ,
  [IB_WR_SEND]: MLX5_OPCODE_SEND,
};

function be32(kernel: Device['kernel'], phys: number): number | null {
  const b = kernel.memory.cpuRead(phys, 4);
  if (isErr(b)) return null;
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false);
}

function probe(dev: Device): KResult {
  const pdev = dev as PciDev;
  const k = pdev.kernel;
  if ((pciResourceFlags(pdev, 0) & IORESOURCE_MEM) === 0 || pciResourceStart(pdev, 0) === 0) {
    k.log.devErr(pdev, 'Missing registers BAR, aborting');
    return err('ENODEV');
  }
  const bar0 = pciResourceStart(pdev, 0);
  const fwRev = be32(k, bar0 + MLX5_INIT_SEG_FW_REV);
  const cmdif = be32(k, bar0 + MLX5_INIT_SEG_FW_REV + 4);
  if (fwRev === null || cmdif === null) return err('EIO');
  const major = fwRev & 0xffff;
  const minor = fwRev >>> 16;
  const sub = cmdif & 0xffff;
  k.log.devInfo(pdev, `firmware version: ${major}.${minor}.${sub}`);
  if (cmdif >>> 16 !== MLX5_CMD_IF_REV) {
    k.log.devErr(pdev, `Driver cmdif rev(${MLX5_CMD_IF_REV}) differs from firmware's(${cmdif >>> 16})`);
    return err('EINVAL');
  }
  const init = be32(k, bar0 + MLX5_INIT_SEG_INITIALIZING);
  if (init === null || (init & MLX5_INITIALIZING_BIT) !== 0) {
    k.log.devErr(pdev, `Firmware over ${MLX5_FW_INIT_TIMEOUT_MILI} MS in initializing state, aborting`);
    return err('EBUSY');
  }
  const hw = rnicOf(pdev);
  if (hw === null) return err('ENODEV');
  const ibdev = ibRegisterDevice(k, {
    name: 'mlx5_%d',
    parent: pdev,
    attrs: { ...MLX5_CX5_ATTRS, fwVer: `${major}.${minor}.${sub}` },
    ports: [MLX5_CX5_PORT],
    localDmaLkey: MLX5_RESERVED_LKEY,
    ops: {
      driverName: 'mlx5',
      postedWrites: true,
      timing: MLX5_TIMING,
      localRead: (addr, out) => hw.dmaRead(addr, out),
      localWrite: (addr, data) => hw.dmaWrite(addr, data),
      ringSendDoorbell: (qp: IbQp, producer: number) => {
        const last = qp.sq.last();
        const db = new Uint8Array(8);
        // Big-endian on the bytes (a DataView would first move the small array off-heap).
        putBe32(db, 0, ((producer & 0xffff) << 8) | (last === undefined ? 0 : DOORBELL_OPCODE[last.opcode]));
        putBe32(db, 4, (qp.qpNum & 0xff_ffff) << 8);
        k.memory.cpuWrite(bar0 + MLX5_UAR_SQ_DOORBELL, db);
      },
    },
  });
  if (isErr(ibdev)) return ibdev;
  hw.ibdev = ibdev;
  pdev.driverData = ibdev;
  return 0;
}

function remove(dev: Device): void {
  const ibdev = dev.driverData;
  if (!(ibdev instanceof IbDevice)) return;
  const hw = rnicOf(dev as PciDev);
  if (hw !== null) hw.ibdev = null;
  ibUnregisterDevice(ibdev);
}

/**
 * The mlx5 PCI driver. Register it with pci-core's `pciRegisterDriver` (it binds to every
 * matching function present, and to functions added later).
 * @returns a fresh driver object named `mlx5_core`.
 * @kernel mlx5_core_driver
 */
export function mlx5CoreDriver(): PciDriver {
  return { name: 'mlx5_core', bus: pciBusType, idTable: MLX5_CORE_PCI_TABLE, probe, remove };
}

/**
 * The RDMA device the mlx5 driver registered for a function.
 * @param pdev the function.
 * @returns its `mlx5_<n>` device, or `null` when the driver is not bound to it.
 */
export function mlx5IbDevice(pdev: PciDev): IbDevice | null {
  return pdev.driverData instanceof IbDevice && pdev.driver?.name === 'mlx5_core' ? pdev.driverData : null;
}

/** Writes `v >>> 0` big-endian at `off` (what `DataView.setUint32(off, v >>> 0, false)` writes). */
function putBe32(b: Uint8Array, off: number, v: number): void {
  const x = v >>> 0;
  b[off] = x >>> 24;
  b[off + 1] = (x >>> 16) & 0xff;
  b[off + 2] = (x >>> 8) & 0xff;
  b[off + 3] = x & 0xff;
}
