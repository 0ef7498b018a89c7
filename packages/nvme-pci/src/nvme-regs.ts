/**
 * NVMe controller registers (BAR0): offsets, field layouts and the kernel's accessor macros.
 * Shared by the controller model (which implements them) and the host driver (which programs
 * them), as `include/linux/nvme.h` is shared by the kernel's NVMe drivers.
 *
 * 64-bit registers (CAP, ASQ, ACQ) are `bigint` here; 32-bit ones are unsigned numbers.
 *
 * @kernel include/linux/nvme.h (enum NVME_REG_*, NVME_CAP_*, NVME_CC_*, NVME_CSTS_*, NVME_CMBSZ_*)
 */

/** Controller Capabilities, 64 bits, RO. @kernel NVME_REG_CAP */
export const NVME_REG_CAP = 0x00;
/** Version, RO. @kernel NVME_REG_VS */
export const NVME_REG_VS = 0x08;
/** Interrupt Mask Set (write 1 to mask). @kernel NVME_REG_INTMS */
export const NVME_REG_INTMS = 0x0c;
/** Interrupt Mask Clear (write 1 to unmask). @kernel NVME_REG_INTMC */
export const NVME_REG_INTMC = 0x10;
/** Controller Configuration. @kernel NVME_REG_CC */
export const NVME_REG_CC = 0x14;
/** Controller Status, RO. @kernel NVME_REG_CSTS */
export const NVME_REG_CSTS = 0x1c;
/** NVM Subsystem Reset (optional). @kernel NVME_REG_NSSR */
export const NVME_REG_NSSR = 0x20;
/** Admin Queue Attributes. @kernel NVME_REG_AQA */
export const NVME_REG_AQA = 0x24;
/** Admin SQ Base Address, 64 bits. @kernel NVME_REG_ASQ */
export const NVME_REG_ASQ = 0x28;
/** Admin CQ Base Address, 64 bits. @kernel NVME_REG_ACQ */
export const NVME_REG_ACQ = 0x30;
/** Controller Memory Buffer Location, RO. @kernel NVME_REG_CMBLOC */
export const NVME_REG_CMBLOC = 0x38;
/** Controller Memory Buffer Size, RO. @kernel NVME_REG_CMBSZ */
export const NVME_REG_CMBSZ = 0x3c;
/** First doorbell (SQ 0 tail). @kernel NVME_REG_DBS */
export const NVME_REG_DBS = 0x1000;

/** One field of a register: bit position, width and what the spec calls it. */
export interface RegisterField {
  /** Short name (`MQES`). */
  readonly name: string;
  /** Lowest bit. */
  readonly shift: number;
  /** Width in bits. */
  readonly width: number;
  /** The spec's long name. */
  readonly description: string;
}

/** Decoded CAP. Field widths as in NVMe 1.3 (CMBS/PMRS from 1.4, read as plain bits). */
export interface NvmeCapFields {
  /** Maximum Queue Entries Supported, 0's based (bits 15:0). */
  mqes: number;
  /** Contiguous Queues Required (bit 16). */
  cqr: number;
  /** Arbitration Mechanism Supported (bits 18:17). */
  ams: number;
  /** Timeout in 500 ms units (bits 31:24). */
  to: number;
  /** Doorbell Stride: 4 << DSTRD bytes (bits 35:32). */
  dstrd: number;
  /** NVM Subsystem Reset Supported (bit 36). */
  nssrs: number;
  /** Command Sets Supported (bits 44:37; bit 0 = NVM). */
  css: number;
  /** Boot Partition Support (bit 45). */
  bps: number;
  /** Memory Page Size Minimum: 2^(12 + MPSMIN) (bits 51:48). */
  mpsmin: number;
  /** Memory Page Size Maximum (bits 55:52). */
  mpsmax: number;
  /** Persistent Memory Region Supported (bit 56, NVMe 1.4). */
  pmrs: number;
  /** Controller Memory Buffer Supported (bit 57, NVMe 1.4: CMBMSC must be programmed). */
  cmbs: number;
}

/** CAP's fields, lowest bit first. */
export const NVME_CAP_FIELDS: readonly (RegisterField & { readonly key: keyof NvmeCapFields })[] = [
  { key: 'mqes', name: 'MQES', shift: 0, width: 16, description: 'Maximum Queue Entries Supported' },
  { key: 'cqr', name: 'CQR', shift: 16, width: 1, description: 'Contiguous Queues Required' },
  { key: 'ams', name: 'AMS', shift: 17, width: 2, description: 'Arbitration Mechanism Supported' },
  { key: 'to', name: 'TO', shift: 24, width: 8, description: 'Timeout' },
  { key: 'dstrd', name: 'DSTRD', shift: 32, width: 4, description: 'Doorbell Stride' },
  { key: 'nssrs', name: 'NSSRS', shift: 36, width: 1, description: 'NVM Subsystem Reset Supported' },
  { key: 'css', name: 'CSS', shift: 37, width: 8, description: 'Command Sets Supported' },
  { key: 'bps', name: 'BPS', shift: 45, width: 1, description: 'Boot Partition Support' },
  { key: 'mpsmin', name: 'MPSMIN', shift: 48, width: 4, description: 'Memory Page Size Minimum' },
  { key: 'mpsmax', name: 'MPSMAX', shift: 52, width: 4, description: 'Memory Page Size Maximum' },
  { key: 'pmrs', name: 'PMRS', shift: 56, width: 1, description: 'Persistent Memory Region Supported' },
  { key: 'cmbs', name: 'CMBS', shift: 57, width: 1, description: 'Controller Memory Buffer Supported' },
];

/**
 * Decodes CAP.
 * @param cap the 64-bit value.
 * @returns every field.
 */
export function nvmeCapDecode(cap: bigint): NvmeCapFields {
  const out = {} as NvmeCapFields;
  for (const f of NVME_CAP_FIELDS) out[f.key] = Number((cap >> BigInt(f.shift)) & ((1n << BigInt(f.width)) - 1n));
  return out;
}

/**
 * Encodes CAP from its fields.
 * @param fields every field (each must fit its width).
 * @returns the 64-bit value.
 * @throws RangeError naming the field when a value does not fit.
 */
export function nvmeCapEncode(fields: NvmeCapFields): bigint {
  let cap = 0n;
  for (const f of NVME_CAP_FIELDS) {
    const v = fields[f.key];
    if (!Number.isSafeInteger(v) || v < 0 || v >= 2 ** f.width) {
      throw new RangeError(`CAP.${f.name} ${v} does not fit in ${f.width} bit(s)`);
    }
    cap |= BigInt(v) << BigInt(f.shift);
  }
  return cap;
}

/**
 * Maximum Queue Entries Supported field of CAP.
 * @kernel NVME_CAP_MQES @param cap CAP. @returns MQES (0's based). */
export function NVME_CAP_MQES(cap: bigint): number {
  return Number(cap & 0xffffn);
}
/**
 * Timeout field of CAP (500 ms units).
 * @kernel NVME_CAP_TIMEOUT @param cap CAP. @returns TO (500 ms units). */
export function NVME_CAP_TIMEOUT(cap: bigint): number {
  return Number((cap >> 24n) & 0xffn);
}
/**
 * Doorbell Stride field of CAP (DSTRD).
 * @kernel NVME_CAP_STRIDE @param cap CAP. @returns DSTRD. */
export function NVME_CAP_STRIDE(cap: bigint): number {
  return Number((cap >> 32n) & 0xfn);
}
/**
 * NVM Subsystem Reset Supported bit of CAP.
 * @kernel NVME_CAP_NSSRC @param cap CAP. @returns NSSRS. */
export function NVME_CAP_NSSRC(cap: bigint): number {
  return Number((cap >> 36n) & 0x1n);
}
/**
 * Memory Page Size Minimum field of CAP (page = 2^(12 + MPSMIN)).
 * @kernel NVME_CAP_MPSMIN @param cap CAP. @returns MPSMIN. */
export function NVME_CAP_MPSMIN(cap: bigint): number {
  return Number((cap >> 48n) & 0xfn);
}
/**
 * Memory Page Size Maximum field of CAP (page = 2^(12 + MPSMAX)).
 * @kernel NVME_CAP_MPSMAX @param cap CAP. @returns MPSMAX. */
export function NVME_CAP_MPSMAX(cap: bigint): number {
  return Number((cap >> 52n) & 0xfn);
}

/**
 * A version value. @kernel NVME_VS
 * @param major major version.
 * @param minor minor version.
 * @param tertiary tertiary version.
 * @returns `major << 16 | minor << 8 | tertiary`.
 */
export function NVME_VS(major: number, minor: number, tertiary: number): number {
  return ((major << 16) | (minor << 8) | tertiary) >>> 0;
}

/** CC.EN. @kernel NVME_CC_ENABLE */
export const NVME_CC_ENABLE = 1 << 0;
/** CC.CSS shift. @kernel NVME_CC_CSS_SHIFT */
export const NVME_CC_CSS_SHIFT = 4;
/** CC.MPS shift. @kernel NVME_CC_MPS_SHIFT */
export const NVME_CC_MPS_SHIFT = 7;
/** CC.AMS shift. @kernel NVME_CC_AMS_SHIFT */
export const NVME_CC_AMS_SHIFT = 11;
/** CC.SHN shift. @kernel NVME_CC_SHN_SHIFT */
export const NVME_CC_SHN_SHIFT = 14;
/** CC.IOSQES shift. @kernel NVME_CC_IOSQES_SHIFT */
export const NVME_CC_IOSQES_SHIFT = 16;
/** CC.IOCQES shift. @kernel NVME_CC_IOCQES_SHIFT */
export const NVME_CC_IOCQES_SHIFT = 20;
/** CC.CSS = NVM command set. @kernel NVME_CC_CSS_NVM */
export const NVME_CC_CSS_NVM = 0 << NVME_CC_CSS_SHIFT;
/** CC.AMS = round robin. @kernel NVME_CC_AMS_RR */
export const NVME_CC_AMS_RR = 0 << NVME_CC_AMS_SHIFT;
/** CC.SHN = no notification. @kernel NVME_CC_SHN_NONE */
export const NVME_CC_SHN_NONE = 0 << NVME_CC_SHN_SHIFT;
/** CC.SHN = normal shutdown. @kernel NVME_CC_SHN_NORMAL */
export const NVME_CC_SHN_NORMAL = 1 << NVME_CC_SHN_SHIFT;
/** CC.SHN = abrupt shutdown. @kernel NVME_CC_SHN_ABRUPT */
export const NVME_CC_SHN_ABRUPT = 2 << NVME_CC_SHN_SHIFT;
/** CC.SHN mask. @kernel NVME_CC_SHN_MASK */
export const NVME_CC_SHN_MASK = 3 << NVME_CC_SHN_SHIFT;
/** CC.IOSQES = 64-byte entries (2^6). @kernel NVME_CC_IOSQES */
export const NVME_CC_IOSQES = 6 << NVME_CC_IOSQES_SHIFT;
/** CC.IOCQES = 16-byte entries (2^4). @kernel NVME_CC_IOCQES */
export const NVME_CC_IOCQES = 4 << NVME_CC_IOCQES_SHIFT;

/** CSTS.RDY. @kernel NVME_CSTS_RDY */
export const NVME_CSTS_RDY = 1 << 0;
/** CSTS.CFS (controller fatal status). @kernel NVME_CSTS_CFS */
export const NVME_CSTS_CFS = 1 << 1;
/** CSTS.NSSRO. @kernel NVME_CSTS_NSSRO */
export const NVME_CSTS_NSSRO = 1 << 4;
/** CSTS.PP. @kernel NVME_CSTS_PP */
export const NVME_CSTS_PP = 1 << 5;
/** CSTS.SHST = normal operation. @kernel NVME_CSTS_SHST_NORMAL */
export const NVME_CSTS_SHST_NORMAL = 0 << 2;
/** CSTS.SHST = shutdown processing occurring. @kernel NVME_CSTS_SHST_OCCUR */
export const NVME_CSTS_SHST_OCCUR = 1 << 2;
/** CSTS.SHST = shutdown complete. @kernel NVME_CSTS_SHST_CMPLT */
export const NVME_CSTS_SHST_CMPLT = 2 << 2;
/** CSTS.SHST mask. @kernel NVME_CSTS_SHST_MASK */
export const NVME_CSTS_SHST_MASK = 3 << 2;

/** AQA.ASQS mask (bits 11:0, 0's based). */
export const NVME_AQA_ASQS_MASK = 0xfff;
/** AQA.ACQS shift (bits 27:16, 0's based). */
export const NVME_AQA_ACQS_SHIFT = 16;

/** CMBSZ.SQS: submission queues may live in the CMB. @kernel NVME_CMBSZ_SQS */
export const NVME_CMBSZ_SQS = 1 << 0;
/** CMBSZ.CQS: completion queues may live in the CMB. @kernel NVME_CMBSZ_CQS */
export const NVME_CMBSZ_CQS = 1 << 1;
/** CMBSZ.LISTS: PRP/SGL lists may live in the CMB. @kernel NVME_CMBSZ_LISTS */
export const NVME_CMBSZ_LISTS = 1 << 2;
/** CMBSZ.RDS: read data may go to the CMB. @kernel NVME_CMBSZ_RDS */
export const NVME_CMBSZ_RDS = 1 << 3;
/** CMBSZ.WDS: write data may come from the CMB. @kernel NVME_CMBSZ_WDS */
export const NVME_CMBSZ_WDS = 1 << 4;
/** CMBSZ.SZU shift (bits 11:8). @kernel NVME_CMBSZ_SZU_SHIFT */
export const NVME_CMBSZ_SZU_SHIFT = 8;
/** CMBSZ.SZU mask after shifting. @kernel NVME_CMBSZ_SZU_MASK */
export const NVME_CMBSZ_SZU_MASK = 0xf;
/** CMBSZ.SZ shift (bits 31:12). @kernel NVME_CMBSZ_SZ_SHIFT */
export const NVME_CMBSZ_SZ_SHIFT = 12;
/** CMBSZ.SZ mask after shifting. @kernel NVME_CMBSZ_SZ_MASK */
export const NVME_CMBSZ_SZ_MASK = 0xfffff;

/** The CMBSZ support flags by name, as the topology schema spells them. */
export const NVME_CMBSZ_FLAG_BITS: Readonly<Record<'SQS' | 'CQS' | 'LISTS' | 'RDS' | 'WDS', number>> = {
  SQS: NVME_CMBSZ_SQS,
  CQS: NVME_CMBSZ_CQS,
  LISTS: NVME_CMBSZ_LISTS,
  RDS: NVME_CMBSZ_RDS,
  WDS: NVME_CMBSZ_WDS,
};

/**
 * CMBLOC.BIR: the BAR holding the CMB. @kernel NVME_CMB_BIR
 * @param cmbloc CMBLOC.
 * @returns bits 2:0.
 */
export function NVME_CMB_BIR(cmbloc: number): number {
  return cmbloc & 0x7;
}

/**
 * CMBLOC.OFST: the CMB's offset in the BAR, in size units. @kernel NVME_CMB_OFST
 * @param cmbloc CMBLOC.
 * @returns bits 31:12.
 */
export function NVME_CMB_OFST(cmbloc: number): number {
  return (cmbloc >>> 12) & 0xfffff;
}

/**
 * Byte offset of a queue's doorbell in BAR0.
 * @param qid queue id.
 * @param completion `false` for the SQ tail doorbell, `true` for the CQ head doorbell.
 * @param dstrd CAP.DSTRD.
 * @returns `0x1000 + (2 * qid + completion) * (4 << dstrd)`.
 */
export function nvmeDoorbellOffset(qid: number, completion: boolean, dstrd: number): number {
  return NVME_REG_DBS + (2 * qid + (completion ? 1 : 0)) * (4 << dstrd);
}
