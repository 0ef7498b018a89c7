/**
 * The controller memory buffer in the host driver (seed patches 07 and 09): decoding CMBLOC/
 * CMBSZ (or synthesising them for `NVME_QUIRK_PSEUDO_CMB_BAR4`), registering the region with
 * p2pdma, publishing it when the controller reads and writes data there, the `cmb` sysfs
 * attribute, and how deep I/O SQs can be to fit in it.
 *
 * Arithmetic is the kernel's u64 arithmetic: the size unit is `1ULL << (12 + 4 * SZU)`, whose
 * shift count x86 masks to 6 bits for the reserved SZU values 13-15 (64 → 1, 68 → 16,
 * 72 → 256), and products wrap at 2^64.
 *
 * @kernel drivers/nvme/host/pci.c (nvme_cmb_size_unit, nvme_cmb_size, nvme_pseudo_cmbsz,
 *   nvme_map_cmb, nvme_release_cmb, nvme_cmb_show, nvme_cmb_qdepth)
 */
import type { KResult, SysfsAttribute } from '@p2pdma/kernel';
import { err, S_IRUGO, sysfsCreateFile, sysfsRemoveFile } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { pciResourceLen } from '@p2pdma/pci-core';
import { pciP2pdmaAddResource, pciP2pmemPublish } from '@p2pdma/p2pdma';
import { readl } from './internal/io-accessors';
import type { NvmeDev } from './nvme-dev';
import { NVME_QUIRK_PSEUDO_CMB_BAR4 } from './nvme-quirks';
import {
  NVME_CMB_BIR,
  NVME_CMB_OFST,
  NVME_CMBSZ_RDS,
  NVME_CMBSZ_SQS,
  NVME_CMBSZ_SZ_MASK,
  NVME_CMBSZ_SZ_SHIFT,
  NVME_CMBSZ_SZU_MASK,
  NVME_CMBSZ_SZU_SHIFT,
  NVME_CMBSZ_WDS,
  NVME_REG_CMBLOC,
  NVME_REG_CMBSZ,
  NVME_REG_VS,
  NVME_VS,
} from './nvme-regs';

const U64 = 64;
/** 16 MiB, the pseudo-CMB's size unit. @kernel SZ_16M */
export const SZ_16M = 16 * 1024 * 1024;

/**
 * The CMB size unit in bytes.
 * @param cmbsz CMBSZ.
 * @returns `1 << (12 + 4 * SZU)` as u64 (shift count masked to 6 bits, as x86 does).
 * @kernel nvme_cmb_size_unit
 */
export function nvmeCmbSizeUnit(cmbsz: number): bigint {
  const szu = (cmbsz >>> NVME_CMBSZ_SZU_SHIFT) & NVME_CMBSZ_SZU_MASK;
  return 1n << BigInt((12 + 4 * szu) & 63);
}

/**
 * CMBSZ.SZ.
 * @param cmbsz CMBSZ.
 * @returns the size in units.
 * @kernel nvme_cmb_size
 */
export function nvmeCmbSize(cmbsz: number): number {
  return (cmbsz >>> NVME_CMBSZ_SZ_SHIFT) & NVME_CMBSZ_SZ_MASK;
}

/**
 * The CMBSZ the pseudo-CMB quirk synthesises: WDS | RDS, 16 MiB units, as many units as the
 * BAR holds.
 * @param pdev the function.
 * @param bar the BAR (4).
 * @returns CMBSZ.
 * @kernel nvme_pseudo_cmbsz (seed patch 09)
 */
export function nvmePseudoCmbsz(pdev: PciDev, bar: number): number {
  const szu = (Math.log2(SZ_16M) - 12) / 4;
  const sz = Math.floor(pciResourceLen(pdev, bar) / SZ_16M);
  return (NVME_CMBSZ_WDS | NVME_CMBSZ_RDS | (szu << NVME_CMBSZ_SZU_SHIFT) | ((sz & NVME_CMBSZ_SZ_MASK) * 2 ** NVME_CMBSZ_SZ_SHIFT)) >>> 0;
}

/** What `nvme_map_cmb` works out from CMBSZ/CMBLOC and the BAR. */
export type NvmeCmbDecode =
  | { readonly ok: true; readonly bar: number; readonly offset: number; readonly size: number; readonly clamped: boolean; readonly unit: bigint }
  | { readonly ok: false; readonly bar: number; readonly reason: 'offset-past-bar' };

/**
 * Decodes a CMB the way `nvme_map_cmb` does: size = unit × SZ, offset = unit × OFST, BAR = BIR;
 * an offset past the end of the BAR means no CMB; a size running past it is clamped to the BAR.
 * @param cmbsz CMBSZ.
 * @param cmbloc CMBLOC.
 * @param barSize the length of BAR `BIR` (0 when unassigned).
 * @returns the region to register, or why there is none.
 * @kernel nvme_map_cmb (the decoding half)
 */
export function nvmeCmbDecode(cmbsz: number, cmbloc: number, barSize: number): NvmeCmbDecode {
  const unit = nvmeCmbSizeUnit(cmbsz);
  let size = BigInt.asUintN(U64, unit * BigInt(nvmeCmbSize(cmbsz)));
  const offset = BigInt.asUintN(U64, unit * BigInt(NVME_CMB_OFST(cmbloc)));
  const bar = NVME_CMB_BIR(cmbloc);
  const len = BigInt(barSize);
  if (offset > len) return { ok: false, bar, reason: 'offset-past-bar' };
  let clamped = false;
  if (size > len - offset) {
    size = len - offset;
    clamped = true;
  }
  return { ok: true, bar, offset: Number(offset), size: Number(size), clamped, unit };
}

function cmbAttribute(dev: NvmeDev): SysfsAttribute {
  const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
  return { name: 'cmb', mode: S_IRUGO, show: () => `cmbloc : x${hex8(dev.cmbloc)}\ncmbsz  : x${hex8(dev.cmbsz)}\n` };
}

/**
 * Finds the CMB and hands it to p2pdma: reads CMBSZ/CMBLOC (or, with
 * `NVME_QUIRK_PSEUDO_CMB_BAR4`, synthesises CMBSZ from BAR 4 and CMBLOC = 4), decodes and clamps
 * it, `pciP2pdmaAddResource`s it, enables SQs in it when `use_cmb_sqes` and SQS allow,
 * publishes it only when both WDS and RDS are set, and adds the `cmb` attribute
 * (`cmbloc : x%08x\ncmbsz  : x%08x\n`) to the controller device. Any step that fails leaves no
 * CMB (6.6 logs `failed to register the CMB`; the seed is silent).
 * @param dev the device (BAR 0 mapped, CAP read).
 * @kernel nvme_map_cmb (seed patches 07 and 09; 6.6)
 */
export function nvmeMapCmb(dev: NvmeDev): void {
  const kernel = dev.kernel;
  const pdev = dev.pdev;
  if (dev.policy.cmbMapOnce && dev.cmbSize !== 0) return;
  if ((dev.ctrl.quirks & NVME_QUIRK_PSEUDO_CMB_BAR4) !== 0) {
    dev.cmbsz = nvmePseudoCmbsz(pdev, 4);
    dev.cmbloc = 4;
  } else {
    dev.cmbsz = readl(kernel, dev.bar + NVME_REG_CMBSZ);
    if (dev.cmbsz === 0) return;
    dev.cmbloc = readl(kernel, dev.bar + NVME_REG_CMBLOC);
  }
  const d = nvmeCmbDecode(dev.cmbsz, dev.cmbloc, pciResourceLen(pdev, NVME_CMB_BIR(dev.cmbloc)));
  if (!d.ok) return;
  if (pciP2pdmaAddResource(pdev, d.bar, d.size, d.offset) !== 0) {
    if (dev.policy.logCmbRegisterFailure) kernel.log.devWarn(dev.ctrl.device, 'failed to register the CMB');
    return;
  }
  dev.cmbSize = d.size;
  dev.cmbUseSqes = dev.params.useCmbSqes && (dev.cmbsz & NVME_CMBSZ_SQS) !== 0;
  if ((dev.cmbsz & (NVME_CMBSZ_WDS | NVME_CMBSZ_RDS)) === (NVME_CMBSZ_WDS | NVME_CMBSZ_RDS)) pciP2pmemPublish(pdev, true);
  const kobj = kernel.sysfs.deviceKobj(dev.ctrl.device);
  const attr = cmbAttribute(dev);
  if (kobj === null || sysfsCreateFile(kobj, attr) !== 0) kernel.log.devWarn(dev.ctrl.device, 'failed to add sysfs attribute for CMB');
  else dev.cmbAttr = attr;
}

/**
 * Whether `nvme_pci_enable` maps the CMB for this controller: 4.16 only for NVMe 1.2 and later.
 * @param dev the device.
 * @returns the decision.
 * @kernel nvme_pci_enable (the `NVME_VS(1, 2, 0)` check, gone in 6.6)
 */
export function nvmeShouldMapCmb(dev: NvmeDev): boolean {
  return !dev.policy.cmbNeedsVs12 || readl(dev.kernel, dev.bar + NVME_REG_VS) >= NVME_VS(1, 2, 0);
}

/**
 * Forgets the CMB on the driver side: removes the `cmb` attribute. The p2pdma resource stays
 * until the device is unbound (it is device-managed).
 * @param dev the device.
 * @kernel nvme_release_cmb (seed patch 07)
 */
export function nvmeReleaseCmb(dev: NvmeDev): void {
  if (dev.cmbSize === 0) return;
  const kobj = dev.kernel.sysfs.deviceKobj(dev.ctrl.device);
  if (kobj !== null && dev.cmbAttr !== null) sysfsRemoveFile(kobj, dev.cmbAttr);
  dev.cmbAttr = null;
  dev.cmbSize = 0;
}

/**
 * The I/O queue depth that lets `nrIoQueues` submission queues of `entrySize`-byte entries fit
 * in the CMB: the current depth if they fit, else what an equal share (rounded down to the
 * controller page) holds, or `-ENOMEM` when that is below 64 entries (better to keep the SQs
 * in host memory at full depth).
 * @param dev the device (`qDepth`, `cmbSize`, the controller's page size).
 * @param nrIoQueues I/O queues.
 * @param entrySize bytes per entry (64).
 * @returns the depth, or `-ENOMEM`.
 * @kernel nvme_cmb_qdepth
 */
export function nvmeCmbQdepth(dev: NvmeDev, nrIoQueues: number, entrySize: number): number | KResult {
  const page = dev.ctrl.pageSize;
  let qDepth = dev.qDepth;
  const qSizeAligned = Math.ceil((qDepth * entrySize) / page) * page;
  if (qSizeAligned * nrIoQueues > dev.cmbSize) {
    let memPerQ = Math.floor(dev.cmbSize / nrIoQueues);
    memPerQ -= memPerQ % page;
    qDepth = Math.floor(memPerQ / entrySize);
    if (qDepth < 64) return err('ENOMEM');
  }
  return qDepth;
}
