/**
 * The controller memory buffer as hardware: which bytes of which BAR really hold memory, given
 * what CMBLOC/CMBSZ say (or the pseudo-CMB BAR), and the bytes themselves (sparse).
 *
 * The registers may describe more than the BAR holds (a CMB behind a bridge that decodes less,
 * or a bad dump): only the part inside the BAR exists. A CMB whose offset is past the end of the
 * BAR, or whose size unit is reserved (SZU 7-15), has no memory at all.
 *
 * @kernel (hardware) NVMe 1.3 section 3.1.11-12 (CMBLOC, CMBSZ), 4.7 (Controller Memory Buffer)
 */
import type { PciDev } from '@p2pdma/pci-core';
import { pciBusAddress, pciResourceLen } from '@p2pdma/pci-core';
import { SparsePages } from '../internal/sparse-pages';
import { NVME_CMB_BIR, NVME_CMB_OFST, NVME_CMBSZ_SZ_MASK, NVME_CMBSZ_SZ_SHIFT, NVME_CMBSZ_SZU_MASK, NVME_CMBSZ_SZU_SHIFT } from '../nvme-regs';
import { NVME_CMB_SZU_DEFINED, nvmeCmbUnitBytes } from './controller-config';

/** Where the memory is and what went wrong when there is none. */
export type NvmeCmbPlacement =
  | { readonly kind: 'memory'; readonly bar: number; readonly offset: number; readonly size: number; readonly described: number }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * Works out which bytes exist for a CMB description.
 * @param pdev the function (its BAR sizes).
 * @param cmbloc CMBLOC.
 * @param cmbsz CMBSZ (0: no CMB).
 * @param pseudoBar a pseudo-CMB BAR, or `null`.
 * @returns the placement: BAR, byte offset, bytes that exist and bytes described; or why none.
 */
export function nvmeCmbPlacement(pdev: PciDev, cmbloc: number, cmbsz: number, pseudoBar: number | null): NvmeCmbPlacement {
  if (pseudoBar !== null) {
    const len = pciResourceLen(pdev, pseudoBar);
    if (len === 0) return { kind: 'none', reason: `pseudo-CMB BAR ${pseudoBar} is not assigned` };
    return { kind: 'memory', bar: pseudoBar, offset: 0, size: len, described: len };
  }
  if (cmbsz === 0) return { kind: 'none', reason: 'CMBSZ is 0' };
  const szu = (cmbsz >>> NVME_CMBSZ_SZU_SHIFT) & NVME_CMBSZ_SZU_MASK;
  if (szu >= NVME_CMB_SZU_DEFINED) return { kind: 'none', reason: `CMBSZ.SZU ${szu} is reserved` };
  const unit = nvmeCmbUnitBytes(szu);
  const described = unit * ((cmbsz >>> NVME_CMBSZ_SZ_SHIFT) & NVME_CMBSZ_SZ_MASK);
  const offset = unit * NVME_CMB_OFST(cmbloc);
  const bar = NVME_CMB_BIR(cmbloc);
  const len = bar <= 5 ? pciResourceLen(pdev, bar) : 0;
  if (len === 0) return { kind: 'none', reason: `CMBLOC.BIR ${bar} is not an assigned BAR` };
  if (offset >= len) return { kind: 'none', reason: `CMB offset 0x${offset.toString(16)} is past the end of BAR ${bar} (0x${len.toString(16)} bytes)` };
  if (described === 0) return { kind: 'none', reason: 'CMBSZ.SZ is 0' };
  return { kind: 'memory', bar, offset, size: Math.min(described, len - offset), described };
}

/** A CMB's memory. */
export class NvmeCmbMemory {
  /** The bytes (offsets relative to the CMB start). */
  readonly store: SparsePages;

  /**
   * @param pdev the function.
   * @param bar BAR holding it.
   * @param offset byte offset in the BAR.
   * @param size bytes that exist.
   */
  constructor(
    readonly pdev: PciDev,
    readonly bar: number,
    readonly offset: number,
    readonly size: number,
  ) {
    this.store = new SparsePages(size);
  }

  /** The PCI bus address of the first CMB byte (BAR bus address + offset). */
  get busAddress(): number {
    return pciBusAddress(this.pdev, this.bar) + this.offset;
  }

  /**
   * Whether a bus-address range lies inside the CMB.
   * @param addr first byte.
   * @param len bytes.
   * @returns `true` when all of it is CMB.
   */
  containsBus(addr: number, len: number): boolean {
    const base = this.busAddress;
    return addr >= base && addr + len <= base + this.size;
  }

  /**
   * Whether a bus-address range touches the CMB at all.
   * @param addr first byte.
   * @param len bytes.
   * @returns `true` when any byte is CMB.
   */
  overlapsBus(addr: number, len: number): boolean {
    const base = this.busAddress;
    return addr < base + this.size && addr + len > base;
  }
}
