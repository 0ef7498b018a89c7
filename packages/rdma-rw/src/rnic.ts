/**
 * The RNIC hardware model: a ConnectX-style HCA behind a PCI function. BAR 0 holds its register
 * file (the mlx5 initialization segment and one UAR page with the send doorbell); its DMA is
 * issued through pci-core's fabric by DMA address, so every byte it moves is routed (across the
 * switch, up through the IOMMU, to DRAM or a peer's BAR) and counted.
 *
 * What the hardware does:
 * - Registers (`MLX5_INIT_SEG_REGISTERS`, big-endian as on the device): reads of known registers
 *   return their values, anything else reads as zeros; writes to read-only registers, unknown
 *   offsets or with the wrong width are logged and ignored (a misbehaving driver never breaks
 *   the model). The command interface (`CMD_DBELL`) is not modelled: the write is logged at
 *   debug level and ignored; objects (QPs, CQs) are created through the RDMA core directly.
 * - The send doorbell (`MLX5_UAR_SQ_DOORBELL`, an 8-byte write of the first half of the last
 *   WQE's control segment: `wqe counter << 8 | opcode`, `qpn << 8 | ds`) makes it fetch the
 *   QP's WQEs up to that counter and execute them (see `internal/engine.ts`). A doorbell for an
 *   unknown QP or beyond the posted WQEs is logged and ignored.
 * - Local memory accesses for SGEs are fabric DMA reads and writes from the function. Writes are
 *   posted: a write the fabric drops (an IOMMU fault, an Unsupported Request) is invisible to the
 *   device, which still reports success; only the fabric's error log shows it. A failed read
 *   makes the work request fail with `IB_WC_LOC_PROT_ERR`.
 * - WQE fetches and CQE writes are not routed through the fabric (they would be a few dozen
 *   bytes per work request to DRAM): fabric counters show payload bytes only.
 *
 * @kernel — (hardware) ConnectX PRM: initialization segment, UAR doorbells;
 *   drivers/net/ethernet/mellanox/mlx5/core's view of them (struct mlx5_init_seg)
 */
import type { MmioHandler, NegErrno } from '@p2pdma/kernel';
import { err, KernelBug } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { pciSystem } from '@p2pdma/pci-core';
import type { IbDevice } from './ib-device';
import { sendFetch } from './internal/engine';

/** Firmware revision: bits 15:0 major, 31:16 minor. @kernel mlx5_init_seg.fw_rev */
export const MLX5_INIT_SEG_FW_REV = 0x0000;
/** Command interface revision (31:16) and firmware sub-minor (15:0). @kernel mlx5_init_seg.cmdif_rev_fw_sub */
export const MLX5_INIT_SEG_CMDIF_REV_FW_SUB = 0x0004;
/** Command queue address, high half. @kernel mlx5_init_seg.cmdq_addr_h */
export const MLX5_INIT_SEG_CMDQ_ADDR_H = 0x0010;
/** Command queue address, low half, and queue size/stride. @kernel mlx5_init_seg.cmdq_addr_l_sz */
export const MLX5_INIT_SEG_CMDQ_ADDR_L_SZ = 0x0014;
/** Command doorbell (the command interface is not modelled). @kernel mlx5_init_seg.cmd_dbell */
export const MLX5_INIT_SEG_CMD_DBELL = 0x0018;
/** Bit 31 set while firmware initializes. @kernel mlx5_init_seg.initializing */
export const MLX5_INIT_SEG_INITIALIZING = 0x01fc;
/** Free-running timer, high half (the model counts virtual nanoseconds). @kernel mlx5_init_seg.internal_timer_h */
export const MLX5_INIT_SEG_INTERNAL_TIMER_H = 0x1000;
/** Free-running timer, low half. @kernel mlx5_init_seg.internal_timer_l */
export const MLX5_INIT_SEG_INTERNAL_TIMER_L = 0x1004;
/** The UAR page the driver uses (page 2 of BAR 0). */
export const MLX5_UAR_PAGE_OFFSET = 0x2000;
/** Doorbell/BlueFlame register inside a UAR page. @kernel MLX5_BF_OFFSET */
export const MLX5_BF_OFFSET = 0x800;
/** The send doorbell: `MLX5_UAR_PAGE_OFFSET + MLX5_BF_OFFSET`, 8 bytes, write-only. */
export const MLX5_UAR_SQ_DOORBELL = MLX5_UAR_PAGE_OFFSET + MLX5_BF_OFFSET;
/** `MLX5_INIT_SEG_INITIALIZING` bit: firmware still initializing. */
export const MLX5_INITIALIZING_BIT = 0x8000_0000;
/** Command interface revision the driver speaks. @kernel CMD_IF_REV */
export const MLX5_CMD_IF_REV = 5;
/** Send WQE opcode in a doorbell: RDMA WRITE. @kernel MLX5_OPCODE_RDMA_WRITE */
export const MLX5_OPCODE_RDMA_WRITE = 0x08;
/** Send WQE opcode: SEND. @kernel MLX5_OPCODE_SEND */
export const MLX5_OPCODE_SEND = 0x0a;
/** Send WQE opcode: RDMA READ. @kernel MLX5_OPCODE_RDMA_READ */
export const MLX5_OPCODE_RDMA_READ = 0x10;

/** How software may access a register. */
export type RegisterAccess = 'ro' | 'rw' | 'wo';

/** One register of the BAR 0 register file. */
export interface RnicRegister {
  /** Name (`FW_REV`). */
  readonly name: string;
  /** Offset from the start of BAR 0. */
  readonly offset: number;
  /** Width in bytes (4 or 8). */
  readonly width: 4 | 8;
  /** Access rule. */
  readonly access: RegisterAccess;
}

/** The register file of BAR 0, by offset. @kernel struct mlx5_init_seg (subset) + the UAR doorbell */
export const MLX5_INIT_SEG_REGISTERS: readonly RnicRegister[] = [
  { name: 'FW_REV', offset: MLX5_INIT_SEG_FW_REV, width: 4, access: 'ro' },
  { name: 'CMDIF_REV_FW_SUB', offset: MLX5_INIT_SEG_CMDIF_REV_FW_SUB, width: 4, access: 'ro' },
  { name: 'CMDQ_ADDR_H', offset: MLX5_INIT_SEG_CMDQ_ADDR_H, width: 4, access: 'rw' },
  { name: 'CMDQ_ADDR_L_SZ', offset: MLX5_INIT_SEG_CMDQ_ADDR_L_SZ, width: 4, access: 'rw' },
  { name: 'CMD_DBELL', offset: MLX5_INIT_SEG_CMD_DBELL, width: 4, access: 'wo' },
  { name: 'INITIALIZING', offset: MLX5_INIT_SEG_INITIALIZING, width: 4, access: 'ro' },
  { name: 'INTERNAL_TIMER_H', offset: MLX5_INIT_SEG_INTERNAL_TIMER_H, width: 4, access: 'ro' },
  { name: 'INTERNAL_TIMER_L', offset: MLX5_INIT_SEG_INTERNAL_TIMER_L, width: 4, access: 'ro' },
  { name: 'UAR_SQ_DOORBELL', offset: MLX5_UAR_SQ_DOORBELL, width: 8, access: 'wo' },
];

const REG_BY_OFFSET: ReadonlyMap<number, RnicRegister> = new Map(MLX5_INIT_SEG_REGISTERS.map((r) => [r.offset, r]));

/** Firmware revision as major.minor.subminor. */
export interface FwRev {
  /** Major (16 for ConnectX-5). */
  readonly major: number;
  /** Minor. */
  readonly minor: number;
  /** Sub-minor. */
  readonly subminor: number;
}

/** Construction options of an `Rnic`. */
export interface RnicOptions {
  /** Firmware revision (default 16.27.2008, a ConnectX-5 release). */
  readonly fwRev?: FwRev;
  /** Command interface revision the firmware speaks (default `MLX5_CMD_IF_REV`). */
  readonly cmdifRev?: number;
  /** Firmware never leaves the initializing state (a broken card; default false). */
  readonly stuckInInit?: boolean;
}

/** What the hardware counted. */
export interface RnicStats {
  /** Send doorbells accepted. */
  doorbells: number;
  /** Register writes ignored (logged). */
  ignoredWrites: number;
  /** Bytes it DMA-read from local memory (issued; failed parts included). */
  dmaReadBytes: number;
  /** Bytes it DMA-wrote to local memory (issued; dropped parts included). */
  dmaWriteBytes: number;
  /** DMA transactions the fabric failed (the device sees only failed reads). */
  dmaErrors: number;
}

const attached = new WeakMap<PciDev, Rnic>();

/**
 * The RNIC hardware of one PCI function.
 */
export class Rnic {
  /** Firmware revision. */
  readonly fwRev: FwRev;
  /** Command interface revision. */
  readonly cmdifRev: number;
  /** Counters; see `RnicStats`. */
  readonly stats: RnicStats = { doorbells: 0, ignoredWrites: 0, dmaReadBytes: 0, dmaWriteBytes: 0, dmaErrors: 0 };
  /** The RDMA device whose QPs the doorbell addresses (set by the driver), or `null`. */
  ibdev: IbDevice | null = null;
  private readonly cmdq = new Map<number, number>();
  private readonly stuck: boolean;

  /**
   * @param pdev the PCI function.
   * @param opts firmware identity and faults.
   * @internal use `rnicAttach`.
   */
  constructor(
    readonly pdev: PciDev,
    opts: RnicOptions,
  ) {
    this.fwRev = opts.fwRev ?? { major: 16, minor: 27, subminor: 2008 };
    this.cmdifRev = opts.cmdifRev ?? MLX5_CMD_IF_REV;
    this.stuck = opts.stuckInInit ?? false;
  }

  /** The BAR 0 handler (offsets from the BAR start). */
  get mmio(): MmioHandler {
    return { read: (off, out) => this.read(off, out), write: (off, data) => this.write(off, data) };
  }

  /**
   * Issues a DMA read from local memory.
   * @param addr the DMA address.
   * @param out the destination.
   * @returns whether the fabric completed it.
   */
  dmaRead(addr: number, out: Uint8Array): boolean {
    this.stats.dmaReadBytes += out.length;
    const r = this.fabric().dmaRead(this.pdev, addr, out);
    if (r.status !== 'ok') this.stats.dmaErrors++;
    return r.status === 'ok';
  }

  /**
   * Issues a posted DMA write to local memory.
   * @param addr the DMA address.
   * @param data the bytes.
   * @returns whether the fabric completed it (the device itself never learns).
   */
  dmaWrite(addr: number, data: Uint8Array): boolean {
    this.stats.dmaWriteBytes += data.length;
    const r = this.fabric().dmaWrite(this.pdev, addr, data);
    if (r.status !== 'ok') this.stats.dmaErrors++;
    return r.status === 'ok';
  }

  private fabric() {
    const sys = pciSystem(this.pdev.kernel);
    if (sys === null) throw new KernelBug(`rnic ${this.pdev.name}: no PCI subsystem`);
    return sys.fabric;
  }

  private value(reg: RnicRegister): bigint {
    const now = BigInt(Math.floor(this.pdev.kernel.clock.now()));
    switch (reg.offset) {
      case MLX5_INIT_SEG_FW_REV:
        return BigInt(((this.fwRev.minor & 0xffff) << 16) | (this.fwRev.major & 0xffff)) & 0xffff_ffffn;
      case MLX5_INIT_SEG_CMDIF_REV_FW_SUB:
        return BigInt(((this.cmdifRev & 0xffff) << 16) | (this.fwRev.subminor & 0xffff)) & 0xffff_ffffn;
      case MLX5_INIT_SEG_INITIALIZING:
        return this.stuck ? BigInt(MLX5_INITIALIZING_BIT) : 0n;
      case MLX5_INIT_SEG_INTERNAL_TIMER_H:
        return (now >> 32n) & 0xffff_ffffn;
      case MLX5_INIT_SEG_INTERNAL_TIMER_L:
        return now & 0xffff_ffffn;
      default:
        return BigInt(this.cmdq.get(reg.offset) ?? 0);
    }
  }

  private read(off: number, out: Uint8Array): void {
    out.fill(0);
    for (const reg of MLX5_INIT_SEG_REGISTERS) {
      if (reg.access === 'wo' || reg.offset >= off + out.length || reg.offset + reg.width <= off) continue;
      const v = this.value(reg);
      for (let i = 0; i < reg.width; i++) {
        const at = reg.offset + i - off;
        if (at >= 0 && at < out.length) out[at] = Number((v >> BigInt(8 * (reg.width - 1 - i))) & 0xffn);
      }
    }
  }

  private ignore(off: number, len: number, why: string): void {
    this.stats.ignoredWrites++;
    this.pdev.kernel.log.devWarn(this.pdev, `rnic: ${len}-byte write at BAR 0 offset 0x${off.toString(16)} ignored: ${why}`);
  }

  private write(off: number, data: Uint8Array): void {
    const reg = REG_BY_OFFSET.get(off);
    if (reg === undefined) {
      this.ignore(off, data.length, 'no register there');
      return;
    }
    if (data.length !== reg.width) {
      this.ignore(off, data.length, `${reg.name} is ${reg.width} bytes wide`);
      return;
    }
    if (reg.access === 'ro') {
      this.ignore(off, data.length, `${reg.name} is read-only`);
      return;
    }
    if (reg.offset === MLX5_INIT_SEG_CMD_DBELL) {
      this.pdev.kernel.log.devDbg(this.pdev, 'rnic: command doorbell ignored (the command interface is not modelled)');
      return;
    }
    if (reg.offset === MLX5_UAR_SQ_DOORBELL) {
      // Read on the bytes: a DataView would first move a small on-heap array off-heap.
      this.doorbell(be32At(data, 0), be32At(data, 4));
      return;
    }
    this.cmdq.set(reg.offset, be32At(data, 0));
  }

  private doorbell(ctrl0: number, ctrl1: number): void {
    const counter = (ctrl0 >>> 8) & 0xffff;
    const qpn = ctrl1 >>> 8;
    const qp = this.ibdev?.qps.get(qpn);
    if (qp === undefined) {
      this.ignore(MLX5_UAR_SQ_DOORBELL, 8, `doorbell for unknown QP 0x${qpn.toString(16)}`);
      return;
    }
    const delta = (counter - (qp.sqFetched & 0xffff)) & 0xffff;
    if (delta === 0) return;
    if (delta > qp.sq.length) {
      this.ignore(MLX5_UAR_SQ_DOORBELL, 8, `doorbell counter ${counter} is past the ${qp.sq.length} WQE(s) posted on QP 0x${qpn.toString(16)}`);
      return;
    }
    this.stats.doorbells++;
    sendFetch(qp, delta);
  }
}

/**
 * Puts the RNIC hardware behind a PCI function: BAR 0 becomes its register file.
 * @param pdev the function (the seed-switch's `rnic` role, a ConnectX-5 `15b3:1017`).
 * @param opts firmware identity and faults.
 * @returns the hardware, or `-EINVAL` when BAR 0 is missing, too small for the register file
 *   (up to the doorbell at `MLX5_UAR_SQ_DOORBELL`) or not an assigned memory BAR (pci-core logs
 *   that case), `-EBUSY` when hardware is attached already.
 */
export function rnicAttach(pdev: PciDev, opts: RnicOptions = {}): Rnic | NegErrno {
  if (attached.has(pdev)) return err('EBUSY');
  const r = pdev.resource[0];
  if (r === undefined || r.end - r.start + 1 < MLX5_UAR_SQ_DOORBELL + 8) return err('EINVAL');
  const hw = new Rnic(pdev, opts);
  const rc = pdev.setBarBacking(0, hw.mmio);
  if (rc !== 0) return rc;
  attached.set(pdev, hw);
  return hw;
}

/**
 * The RNIC hardware behind a function.
 * @param pdev the function.
 * @returns the hardware, or `null` when none was attached.
 */
export function rnicOf(pdev: PciDev): Rnic | null {
  return attached.get(pdev) ?? null;
}

/** A big-endian u32 at `off` (the register layout of the mlx5 initialization segment and UAR). */
function be32At(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}
