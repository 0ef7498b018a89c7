/**
 * The controller's DMA engine: every fetch and store it makes is a transaction on pci-core's
 * fabric, by DMA address (a bus address, or an IOVA when the IOMMU is on). Addresses inside the
 * controller's own CMB are served by the device itself (the fabric counts them as internal
 * bytes, none on any link).
 *
 * It also walks PRPs: PRP1 with its offset, PRP2 as the second page or as a pointer to a PRP
 * list, list pages chained through their last entry, all with the memory page size CC.MPS
 * selects. List entries are fetched with one DMA read per list page; physically adjacent data
 * pages are merged into one segment before moving data.
 *
 * @kernel (hardware) NVMe 1.3 section 4.3 (Physical Region Page entry and list)
 */
import type { Fabric, PciDev, TransactionResult } from '@p2pdma/pci-core';
import { NVME_ADDR_INVALID } from '../nvme-command';
import type { NvmeStatus } from '../nvme-status';
import { NVME_SC_CMB_INVALID_USE, NVME_SC_DATA_XFER_ERROR, NVME_SC_PRP_INVALID_OFFSET, nvmeStatusDnr } from '../nvme-status';
import { getLe64 } from '../internal/le64';
import type { NvmeCmbMemory } from './cmb';

/** One contiguous piece of a transfer. */
export interface DmaSegment {
  /** DMA address. */
  readonly addr: number;
  /** Bytes. */
  readonly len: number;
}

/** A PRP walk's outcome. */
export type PrpWalk = { readonly ok: true; readonly segs: readonly DmaSegment[]; readonly listPages: number } | { readonly ok: false; readonly status: NvmeStatus; readonly why: string };

/** What the engine did. */
export interface DmaEngineStats {
  /** Bytes fetched (commands, lists, write data). */
  readBytes: number;
  /** Bytes stored (completions, Identify data, read data). */
  writeBytes: number;
  /** Data bytes whose PRPs pointed into the controller's own CMB. */
  cmbDataBytes: number;
  /** PRP list pages fetched. */
  prpListPages: number;
  /** Transactions that failed (UR, CA, IOMMU fault, dropped). */
  faults: number;
}

/** The DMA engine of one controller. */
export class NvmeDmaEngine {
  /** Counters. */
  readonly stats: DmaEngineStats = { readBytes: 0, writeBytes: 0, cmbDataBytes: 0, prpListPages: 0, faults: 0 };

  /**
   * @param pdev the controller's function (the DMA initiator).
   * @param fabric the machine's fabric.
   * @param cmb the controller's CMB memory, if any (read on each use: it exists only while
   *   attached).
   */
  constructor(
    readonly pdev: PciDev,
    readonly fabric: Fabric,
    private readonly cmb: () => NvmeCmbMemory | null,
  ) {}

  /**
   * A DMA read.
   * @param addr DMA address.
   * @param out filled with the bytes.
   * @returns the fabric's result.
   */
  read(addr: number, out: Uint8Array): TransactionResult {
    const r = this.fabric.dmaRead(this.pdev, addr, out);
    if (r.status === 'ok') this.stats.readBytes += out.length;
    else this.stats.faults++;
    return r;
  }

  /**
   * A DMA write.
   * @param addr DMA address.
   * @param data the bytes.
   * @returns the fabric's result.
   */
  write(addr: number, data: Uint8Array): TransactionResult {
    const r = this.fabric.dmaWrite(this.pdev, addr, data);
    if (r.status === 'ok') this.stats.writeBytes += data.length;
    else this.stats.faults++;
    return r;
  }

  /**
   * Whether a range touches the controller's CMB (by bus address).
   * @param addr DMA address.
   * @param len bytes.
   * @returns `true` when any byte is in the CMB.
   */
  inCmb(addr: number, len: number): boolean {
    return this.cmb()?.overlapsBus(addr, len) ?? false;
  }

  /**
   * Turns PRP1/PRP2 into data segments.
   * @param prp1 PRP entry 1.
   * @param prp2 PRP entry 2.
   * @param length transfer bytes (> 0).
   * @param pageSize the memory page size (CC.MPS).
   * @param listsInCmb whether PRP lists may live in the CMB (CMBSZ.LISTS).
   * @returns the segments (adjacent pages merged), or the status to complete the command with.
   */
  walkPrps(prp1: number, prp2: number, length: number, pageSize: number, listsInCmb: boolean): PrpWalk {
    const bad = (status: NvmeStatus, why: string): PrpWalk => ({ ok: false, status: nvmeStatusDnr(status), why });
    if (prp1 === NVME_ADDR_INVALID) return bad(NVME_SC_DATA_XFER_ERROR, 'PRP1 is not an address');
    if (prp1 % 4 !== 0) return bad(NVME_SC_PRP_INVALID_OFFSET, `PRP1 0x${prp1.toString(16)} is not dword aligned`);
    // Segments are built mutable (contiguous pages grow the last one in place) and returned read-only.
    const segs: Array<{ addr: number; len: number }> = [];
    const push = (addr: number, len: number): void => {
      const last = segs[segs.length - 1];
      if (last !== undefined && last.addr + last.len === addr) last.len += len;
      else segs.push({ addr, len });
    };
    const first = Math.min(length, pageSize - (prp1 % pageSize));
    push(prp1, first);
    let remaining = length - first;
    if (remaining === 0) return { ok: true, segs, listPages: 0 };
    if (prp2 === NVME_ADDR_INVALID) return bad(NVME_SC_DATA_XFER_ERROR, 'PRP2 is not an address');
    if (remaining <= pageSize) {
      if (prp2 % pageSize !== 0) return bad(NVME_SC_PRP_INVALID_OFFSET, `PRP2 0x${prp2.toString(16)} has a page offset`);
      push(prp2, remaining);
      return { ok: true, segs, listPages: 0 };
    }
    if (prp2 % 8 !== 0) return bad(NVME_SC_PRP_INVALID_OFFSET, `PRP list pointer 0x${prp2.toString(16)} is not qword aligned`);
    let list = prp2;
    let listPages = 0;
    while (remaining > 0) {
      const slots = (pageSize - (list % pageSize)) / 8;
      const needed = Math.ceil(remaining / pageSize);
      const chained = needed > slots;
      const count = chained ? slots : needed;
      if (!listsInCmb && this.inCmb(list, count * 8)) return bad(NVME_SC_CMB_INVALID_USE, 'PRP list in the CMB without CMBSZ.LISTS');
      const buf = new Uint8Array(count * 8);
      if (this.read(list, buf).status !== 'ok') return bad(NVME_SC_DATA_XFER_ERROR, `PRP list at 0x${list.toString(16)} could not be fetched`);
      listPages++;
      this.stats.prpListPages++;
      const v = new DataView(buf.buffer);
      const data = chained ? count - 1 : count;
      for (let i = 0; i < data; i++) {
        const addr = getLe64(v, i * 8, NVME_ADDR_INVALID);
        if (addr === NVME_ADDR_INVALID) return bad(NVME_SC_DATA_XFER_ERROR, 'a PRP entry is not an address');
        if (addr % pageSize !== 0) return bad(NVME_SC_PRP_INVALID_OFFSET, `PRP entry 0x${addr.toString(16)} has a page offset`);
        const n = Math.min(pageSize, remaining);
        push(addr, n);
        remaining -= n;
      }
      if (chained) {
        const next = v.getBigUint64((count - 1) * 8, true);
        if (next > BigInt(Number.MAX_SAFE_INTEGER) || next % 8n !== 0n) return bad(NVME_SC_PRP_INVALID_OFFSET, 'a chained PRP list pointer is invalid');
        list = Number(next);
      }
    }
    return { ok: true, segs, listPages };
  }

  /**
   * Gathers data from segments into one buffer (a write command's data).
   * @param segs the segments.
   * @param out destination, the segments' total length.
   * @returns `true` when every transaction completed.
   */
  gather(segs: readonly DmaSegment[], out: Uint8Array): boolean {
    let pos = 0;
    for (const s of segs) {
      if (this.inCmb(s.addr, s.len)) this.stats.cmbDataBytes += s.len;
      if (this.read(s.addr, out.subarray(pos, pos + s.len)).status !== 'ok') return false;
      pos += s.len;
    }
    return true;
  }

  /**
   * Scatters one buffer into segments (a read command's data).
   * @param segs the segments.
   * @param data the bytes, the segments' total length.
   * @returns `true` when every transaction completed.
   */
  scatter(segs: readonly DmaSegment[], data: Uint8Array): boolean {
    let pos = 0;
    for (const s of segs) {
      if (this.inCmb(s.addr, s.len)) this.stats.cmbDataBytes += s.len;
      if (this.write(s.addr, data.subarray(pos, pos + s.len)).status !== 'ok') return false;
      pos += s.len;
    }
    return true;
  }
}
