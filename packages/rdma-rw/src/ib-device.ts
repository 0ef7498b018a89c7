/**
 * RDMA devices (`struct ib_device`): what a provider driver (the mlx5 model, the software rxe
 * model) registers with the RDMA core, its attributes and ports, and the DMA device the core
 * maps scatterlists for.
 *
 * Registration follows `ib_register_device` of 4.16 (`setup_dma_device`): a provider that brings
 * its own DMA ops (rxe's `dma_virt_ops`) gets the IB device's own `struct device` as DMA device;
 * otherwise the DMA device is the parent (the PCI function). The IB device is a kernel `Device`
 * of class `infiniband` (`/sys/class/infiniband/mlx5_0`, log prefix `infiniband mlx5_0: `).
 *
 * @kernel include/rdma/ib_verbs.h (struct ib_device, struct ib_device_attr, struct ib_port_attr),
 *   drivers/infiniband/core/device.c (ib_register_device, ib_unregister_device)
 */
import type { Device, DmaOpsKind, Kernel, NegErrno } from '@p2pdma/kernel';
import { Device as KDevice, deviceAdd, deviceDel, err, KernelBug } from '@p2pdma/kernel';
import type { IbQp } from './ib-qp';
import { IB_QPS_ERR } from './ib-qp';
import { qpToError } from './internal/engine';

/**
 * Device capabilities, the subset rw.c and the model read.
 * @kernel struct ib_device_attr
 */
export interface IbDeviceAttr {
  /** Firmware version string (`16.27.2008`). @kernel ib_device.fw_ver (get_dev_fw_str) */
  readonly fwVer: string;
  /** Vendor ID (`0x02c9` Mellanox). @kernel ib_device_attr.vendor_id */
  readonly vendorId: number;
  /** Vendor part ID (`4119` for ConnectX-5). @kernel ib_device_attr.vendor_part_id */
  readonly vendorPartId: number;
  /** Largest send/receive queue depth of one QP. @kernel ib_device_attr.max_qp_wr */
  readonly maxQpWr: number;
  /** Most SGEs in one send or receive work request. @kernel ib_device_attr.max_sge */
  readonly maxSge: number;
  /** Most SGEs in one RDMA READ work request. @kernel ib_device_attr.max_sge_rd */
  readonly maxSgeRd: number;
  /** Largest CQ. @kernel ib_device_attr.max_cqe */
  readonly maxCqe: number;
  /** Most QPs. @kernel ib_device_attr.max_qp */
  readonly maxQp: number;
}

/** A port is up. @kernel IB_PORT_ACTIVE */
export const IB_PORT_ACTIVE = 4;
/** A port is down. @kernel IB_PORT_DOWN */
export const IB_PORT_DOWN = 1;

/**
 * Port attributes.
 * @kernel struct ib_port_attr
 */
export interface IbPortAttr {
  /** `IB_PORT_ACTIVE` or `IB_PORT_DOWN`. */
  readonly state: typeof IB_PORT_ACTIVE | typeof IB_PORT_DOWN;
  /** Active MTU in bytes (4096). */
  readonly activeMtu: number;
  /** Largest message one work request may move. @kernel ib_port_attr.max_msg_sz */
  readonly maxMsgSz: number;
  /** Active link width in lanes (4 for 4X). */
  readonly activeWidth: number;
  /** Per-lane data rate in Gb/s (25 for EDR, 4 × 25 = 100 Gb/s). */
  readonly activeSpeedGbps: number;
  /** `'InfiniBand'` or `'Ethernet'` (RoCE, and rxe). */
  readonly linkLayer: 'InfiniBand' | 'Ethernet';
}

/** Data bytes that crossed one port's wire, per direction (the `port_xmit_data`/`port_rcv_data` counters, in bytes). */
export interface IbPortCounters {
  /** Bytes sent towards remote hosts. */
  xmitBytes: number;
  /** Bytes received from remote hosts. */
  rcvBytes: number;
}

/**
 * One port of an RDMA device.
 * @kernel ib_device port data
 */
export class IbPort {
  /** Data bytes per direction; see `IbPortCounters`. Updated by the transport. */
  readonly counters: IbPortCounters = { xmitBytes: 0, rcvBytes: 0 };

  /**
   * @param portNum the port number (1-based, as IB numbers ports).
   * @param attr the port attributes.
   */
  constructor(
    readonly portNum: number,
    readonly attr: IbPortAttr,
  ) {}

  /** Data rate in bytes per nanosecond (width × lane rate / 8). */
  get bytesPerNs(): number {
    return (this.attr.activeWidth * this.attr.activeSpeedGbps) / 8;
  }
}

/**
 * Timing of a provider's transport on the virtual clock (rough figures for the model; the
 * performance model owns accurate ones).
 */
export interface IbTiming {
  /** Per work request processing time in ns (WQE fetch, context lookup). */
  readonly wrOverheadNs: number;
  /** One-way wire plus remote responder latency in ns; a work request completes after a round trip. */
  readonly wireLatencyNs: number;
  /** Local memory copy rate in bytes/ns, when slower than the port (software devices), else `null`. */
  readonly copyBytesPerNs: number | null;
}

/**
 * What a provider supplies to the RDMA core: how the device reaches local memory for an SGE
 * address, and how it is told about new send work requests. The model's `ib_device_ops`.
 */
export interface IbDeviceOps {
  /** The provider's name (`'mlx5'`, `'rxe'`). */
  readonly driverName: string;
  /**
   * Whether local writes are posted (PCIe memory writes: the device never learns that a write
   * was dropped, e.g. by an IOMMU fault) rather than checked (CPU copies of a software device).
   */
  readonly postedWrites: boolean;
  /** Transport timing. */
  readonly timing: IbTiming;
  /**
   * Reads local memory at an SGE address (a DMA address of the DMA device).
   * @param addr the address.
   * @param out filled with the bytes.
   * @returns whether the read succeeded.
   */
  localRead(addr: number, out: Uint8Array): boolean;
  /**
   * Writes local memory at an SGE address.
   * @param addr the address.
   * @param data the bytes (copied).
   * @returns whether the write succeeded (always `true` when writes are posted).
   */
  localWrite(addr: number, data: Uint8Array): boolean;
  /**
   * Tells the hardware that the send queue of `qp` holds WQEs up to `producer` (the doorbell).
   * @param qp the QP.
   * @param producer the send queue producer counter after the post.
   */
  ringSendDoorbell(qp: IbQp, producer: number): void;
}

/** How a provider registers a device. */
export interface IbDeviceRegistration {
  /** Name with `%d` for the instance number (`'mlx5_%d'`), or a fixed name (`'rxe0'`). */
  readonly name: string;
  /** Parent device (the PCI function, or a software device's netdev parent); `null` for none. */
  readonly parent: Device | null;
  /**
   * The provider's own DMA ops (`'virt'` for `dma_virt_ops`): the IB device's `struct device`
   * becomes the DMA device. Omitted: the parent is the DMA device (it must exist).
   */
  readonly dmaOps?: DmaOpsKind;
  /** Device capabilities. */
  readonly attrs: IbDeviceAttr;
  /** Port attributes, port 1 first. */
  readonly ports: readonly IbPortAttr[];
  /** The device-wide reserved lkey (`IB_DEVICE_LOCAL_DMA_LKEY`), or `null`: PDs then get a DMA MR. */
  readonly localDmaLkey: number | null;
  /** The provider's operations. */
  readonly ops: IbDeviceOps;
}

interface Registry {
  readonly byName: Map<string, IbDevice>;
}

const registries = new WeakMap<Kernel, Registry>();

function registry(kernel: Kernel): Registry {
  let r = registries.get(kernel);
  if (r === undefined) {
    r = { byName: new Map() };
    registries.set(kernel, r);
  }
  return r;
}

/**
 * A registered RDMA device.
 * @kernel struct ib_device
 */
export class IbDevice {
  /** The kernel. */
  readonly kernel: Kernel;
  /** The device name (`mlx5_0`). */
  readonly name: string;
  /** The IB device's own `struct device` (class `infiniband`). @kernel ib_device.dev */
  readonly dev: Device;
  /** The device the core maps DMA for: the PCI function, or `dev` for `virt` ops. @kernel ib_device.dma_device */
  readonly dmaDevice: Device;
  /** Capabilities. @kernel ib_device.attrs */
  readonly attrs: IbDeviceAttr;
  /** Ports, port 1 at index 0. */
  readonly ports: readonly IbPort[];
  /** The reserved lkey, or `null`. @kernel ib_device.local_dma_lkey */
  readonly localDmaLkey: number | null;
  /** The provider's operations. */
  readonly ops: IbDeviceOps;
  /** @internal live QPs by number; owned by the QP code. */
  readonly qps = new Map<number, IbQp>();
  /** @internal next QP number; owned by the QP code. */
  nextQpn = 0x100;
  /** @internal next memory key index; owned by the PD/MR code. */
  nextKeyIndex = 1;
  private alive = true;

  /** @internal use `ibRegisterDevice`. */
  constructor(kernel: Kernel, name: string, dev: Device, dmaDevice: Device, reg: IbDeviceRegistration) {
    this.kernel = kernel;
    this.name = name;
    this.dev = dev;
    this.dmaDevice = dmaDevice;
    this.attrs = reg.attrs;
    this.ports = reg.ports.map((a, i) => new IbPort(i + 1, a));
    this.localDmaLkey = reg.localDmaLkey;
    this.ops = reg.ops;
  }

  /** Whether the device is registered (false after `ibUnregisterDevice`). */
  get registered(): boolean {
    return this.alive;
  }

  /** @internal marks the device gone; used by `ibUnregisterDevice`. */
  markUnregistered(): void {
    this.alive = false;
  }

  /**
   * A port by number.
   * @param portNum 1-based port number.
   * @returns the port, or `null` for a number the device does not have.
   */
  port(portNum: number): IbPort | null {
    return this.ports[portNum - 1] ?? null;
  }
}

/**
 * Registers an RDMA device: picks its name, creates its `infiniband` class device and sets its
 * DMA device.
 * @param kernel the kernel.
 * @param reg what the provider registers.
 * @returns the device, or `-EINVAL` for a registration without ports, without a parent when
 *   the parent must be the DMA device, or with a fixed name already taken (`-EEXIST` from the
 *   device core for that case: the name is checked first, so nothing is left half-registered).
 * @kernel ib_register_device
 */
export function ibRegisterDevice(kernel: Kernel, reg: IbDeviceRegistration): IbDevice | NegErrno {
  if (reg.ports.length === 0) return err('EINVAL');
  if (reg.dmaOps === undefined && reg.parent === null) return err('EINVAL');
  const r = registry(kernel);
  let name = reg.name;
  if (name.includes('%d')) {
    let i = 0;
    while (r.byName.has(name.replace('%d', String(i))) || kernel.findDevice(name.replace('%d', String(i))) !== null) i++;
    name = name.replace('%d', String(i));
  } else if (r.byName.has(name) || kernel.findDevice(name) !== null) {
    return err('EEXIST');
  }
  const dev = new KDevice(kernel, name, { parent: reg.parent, className: 'infiniband', ...(reg.dmaOps === undefined ? {} : { dmaOps: reg.dmaOps }) });
  const rc = deviceAdd(dev);
  if (rc !== 0) return rc;
  const dmaDevice = reg.dmaOps === undefined ? reg.parent! : dev;
  const ibdev = new IbDevice(kernel, name, dev, dmaDevice, reg);
  r.byName.set(name, ibdev);
  return ibdev;
}

/**
 * Unregisters an RDMA device: every QP still alive moves to the error state (its outstanding
 * work requests are flushed), then the class device is deleted.
 * @param ibdev the device.
 * @throws KernelBug when it is not registered.
 * @kernel ib_unregister_device
 */
export function ibUnregisterDevice(ibdev: IbDevice): void {
  if (!ibdev.registered) throw new KernelBug(`ib_unregister_device(${ibdev.name}): not registered`);
  for (const qp of ibdev.qps.values()) if (qp.state !== IB_QPS_ERR) qpToError(qp);
  ibdev.markUnregistered();
  registry(ibdev.kernel).byName.delete(ibdev.name);
  deviceDel(ibdev.dev);
}

/**
 * Finds a registered RDMA device by name.
 * @param kernel the kernel.
 * @param name `mlx5_0`, `rxe0`.
 * @returns the device, or `null`.
 * @kernel ib_device_get_by_name
 */
export function ibDeviceGetByName(kernel: Kernel, name: string): IbDevice | null {
  return registry(kernel).byName.get(name) ?? null;
}

/**
 * Every registered RDMA device of a kernel, in registration order.
 * @param kernel the kernel.
 * @returns the devices (a fresh array).
 */
export function ibDevices(kernel: Kernel): IbDevice[] {
  return [...registry(kernel).byName.values()];
}

/**
 * Whether a device "DMAs" with CPU copies through kernel virtual addresses (rxe, siw, hfi1's
 * `dma_virt_ops`).
 * @param ibdev the device.
 * @returns `true` when its DMA device uses `virt` ops.
 * @kernel ib_uses_virt_dma
 */
export function ibUsesVirtDma(ibdev: IbDevice): boolean {
  return ibdev.dmaDevice.dmaOps === 'virt';
}
