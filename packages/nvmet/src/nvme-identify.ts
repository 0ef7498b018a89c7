/**
 * Admin-command data the target produces and the initiator reads: the Identify Controller and
 * Identify Namespace structures (the fields the model fills, by byte offset), the active
 * namespace list, the log page and feature identifiers, and the Asynchronous Event result.
 *
 * @kernel include/linux/nvme.h (struct nvme_id_ctrl, struct nvme_id_ns, NVME_ID_CNS_*,
 *   NVME_LOG_*, NVME_FEAT_*, NVME_AER_*), drivers/nvme/target/nvmet.h (nvmet_async_event_result)
 */
import { KernelBug } from '@p2pdma/kernel';
import type { NvmeCommand } from './nvme-command';
import { nvme_admin_get_log_page, nvme_admin_identify, nvme_admin_set_features, nvmeHostCommand } from './nvme-command';
import { NVME_FEAT_NUM_QUEUES, NVME_IDENTIFY_DATA_SIZE, NVME_ID_CNS_CTRL, NVME_ID_CNS_NS, NVME_ID_CNS_NS_ACTIVE_LIST } from '@p2pdma/nvme-pci';

/** Entries in an active namespace list. */
export const NVME_NS_LIST_ENTRIES = 1024;

/** Log page: Error Information. @kernel NVME_LOG_ERROR */
export const NVME_LOG_ERROR = 0x01;
/** Log page: SMART / Health. @kernel NVME_LOG_SMART */
export const NVME_LOG_SMART = 0x02;
/** Log page: Firmware Slot. @kernel NVME_LOG_FW_SLOT */
export const NVME_LOG_FW_SLOT = 0x03;
/** Log page: Changed Namespace List. @kernel NVME_LOG_CHANGED_NS */
export const NVME_LOG_CHANGED_NS = 0x04;
/** Entries in the Changed Namespace List. @kernel NVME_MAX_CHANGED_NAMESPACES */
export const NVME_MAX_CHANGED_NAMESPACES = 1024;

/** Feature: Asynchronous Event Configuration. @kernel NVME_FEAT_ASYNC_EVENT */
export const NVME_FEAT_ASYNC_EVENT = 0x0b;
/** Feature: Keep Alive Timer. @kernel NVME_FEAT_KATO */
export const NVME_FEAT_KATO = 0x0f;
/** Feature: Host Identifier. @kernel NVME_FEAT_HOST_ID */
export const NVME_FEAT_HOST_ID = 0x81;

/** Asynchronous event type: error. @kernel NVME_AER_TYPE_ERROR */
export const NVME_AER_TYPE_ERROR = 0;
/** Asynchronous event type: notice. @kernel NVME_AER_TYPE_NOTICE */
export const NVME_AER_TYPE_NOTICE = 2;
/** Asynchronous event configuration: namespace attribute notices (the one 6.6 offers). @kernel NVME_AEN_CFG_NS_ATTR */
export const NVME_AEN_CFG_NS_ATTR = 1 << 8;
/** Notice: namespace attribute changed. @kernel NVME_AER_NOTICE_NS_CHANGED */
export const NVME_AER_NOTICE_NS_CHANGED = 0x00;

/** Byte offsets of Identify Controller fields. @kernel struct nvme_id_ctrl */
export const NVME_ID_CTRL_OFFSETS = {
  vid: 0,
  ssvid: 2,
  sn: 4,
  mn: 24,
  fr: 64,
  rab: 72,
  cmic: 76,
  mdts: 77,
  cntlid: 78,
  ver: 80,
  oaes: 92,
  ctratt: 96,
  acl: 258,
  aerl: 259,
  frmw: 260,
  lpa: 261,
  elpe: 262,
  kas: 320,
  sqes: 512,
  cqes: 513,
  maxcmd: 514,
  nn: 516,
  oncs: 520,
  vwc: 525,
  sgls: 536,
  subnqn: 768,
  ioccsz: 1792,
  iorcsz: 1796,
  icdoff: 1800,
  ctrattr: 1802,
  msdbd: 1803,
} as const;

/** Field lengths of the Identify Controller strings. */
export const NVME_ID_CTRL_STRING_LENGTHS = { sn: 20, mn: 40, fr: 8, subnqn: 256 } as const;

/** Byte offsets of Identify Namespace fields. @kernel struct nvme_id_ns */
export const NVME_ID_NS_OFFSETS = { nsze: 0, ncap: 8, nuse: 16, nlbaf: 25, flbas: 26, nmic: 30, nguid: 104, lbaf0Ds: 130 } as const;

/** SGL support bits of Identify Controller `sgls`. @kernel NVME_CTRL_SGLS_* */
export const NVME_CTRL_SGLS = {
  /** SGLs supported (byte aligned). */
  supported: 1 << 0,
  /** Keyed SGL data block descriptors. */
  keyed: 1 << 2,
  /** Offsets into in-capsule data (`NVME_SGL_FMT_OFFSET`). */
  inCapsuleOffset: 1 << 20,
} as const;

/** What the initiator reads from Identify Controller. */
export interface NvmeIdCtrl {
  /** Serial number (trailing spaces removed). */
  readonly sn: string;
  /** Model number (trailing spaces removed). */
  readonly mn: string;
  /** Firmware revision (trailing spaces removed). */
  readonly fr: string;
  /** Controller ID. */
  readonly cntlid: number;
  /** Version (`major << 16 | minor << 8 | tertiary`). */
  readonly ver: number;
  /** Asynchronous Event Request Limit (0 based). */
  readonly aerl: number;
  /** Keep Alive Support granularity (100 ms units). */
  readonly kas: number;
  /** Maximum outstanding commands. */
  readonly maxcmd: number;
  /** Number of namespaces (highest NSID). */
  readonly nn: number;
  /** SGL support (`NVME_CTRL_SGLS`). */
  readonly sgls: number;
  /** Subsystem NQN. */
  readonly subnqn: string;
  /** I/O command capsule size in 16-byte units (SQE + in-capsule data). */
  readonly ioccsz: number;
  /** I/O response capsule size in 16-byte units. */
  readonly iorcsz: number;
  /** Maximum SGL data block descriptors. */
  readonly msdbd: number;
}

/** What the initiator reads from Identify Namespace. */
export interface NvmeIdNs {
  /** Size in logical blocks. */
  readonly nsze: number;
  /** Capacity in logical blocks. */
  readonly ncap: number;
  /** log2 of the LBA data size of format 0. */
  readonly lbaDs: number;
  /** Namespace Globally Unique Identifier. */
  readonly nguid: Uint8Array;
}

function str(b: Uint8Array, off: number, len: number): string {
  const field = b.subarray(off, off + len);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end)).replace(/ +$/, '');
}

function checkSize(b: Uint8Array, what: string): DataView {
  if (b.length < NVME_IDENTIFY_DATA_SIZE) throw new KernelBug(`${what}: ${b.length} bytes, expected ${NVME_IDENTIFY_DATA_SIZE}`);
  return new DataView(b.buffer, b.byteOffset, NVME_IDENTIFY_DATA_SIZE);
}

/**
 * Parses Identify Controller data.
 * @param b 4096 bytes.
 * @returns the fields.
 * @throws KernelBug for a short buffer.
 */
export function nvmeDecodeIdCtrl(b: Uint8Array): NvmeIdCtrl {
  const dv = checkSize(b, 'nvme_id_ctrl');
  const o = NVME_ID_CTRL_OFFSETS;
  const l = NVME_ID_CTRL_STRING_LENGTHS;
  return {
    sn: str(b, o.sn, l.sn),
    mn: str(b, o.mn, l.mn),
    fr: str(b, o.fr, l.fr),
    cntlid: dv.getUint16(o.cntlid, true),
    ver: dv.getUint32(o.ver, true),
    aerl: b[o.aerl]!,
    kas: dv.getUint16(o.kas, true),
    maxcmd: dv.getUint16(o.maxcmd, true),
    nn: dv.getUint32(o.nn, true),
    sgls: dv.getUint32(o.sgls, true),
    subnqn: str(b, o.subnqn, l.subnqn),
    ioccsz: dv.getUint32(o.ioccsz, true),
    iorcsz: dv.getUint32(o.iorcsz, true),
    msdbd: b[o.msdbd]!,
  };
}

/**
 * Parses Identify Namespace data.
 * @param b 4096 bytes.
 * @returns the fields.
 * @throws KernelBug for a short buffer.
 */
export function nvmeDecodeIdNs(b: Uint8Array): NvmeIdNs {
  const dv = checkSize(b, 'nvme_id_ns');
  const o = NVME_ID_NS_OFFSETS;
  return {
    nsze: Number(dv.getBigUint64(o.nsze, true)),
    ncap: Number(dv.getBigUint64(o.ncap, true)),
    lbaDs: b[o.lbaf0Ds]!,
    nguid: b.slice(o.nguid, o.nguid + 16),
  };
}

/**
 * Parses an active namespace list: the NSIDs before the first zero.
 * @param b 4096 bytes.
 * @returns the NSIDs.
 */
export function nvmeDecodeNsList(b: Uint8Array): number[] {
  const dv = checkSize(b, 'ns list');
  const out: number[] = [];
  for (let i = 0; i < NVME_NS_LIST_ENTRIES; i++) {
    const v = dv.getUint32(i * 4, true);
    if (v === 0) break;
    out.push(v);
  }
  return out;
}

/**
 * An Identify command.
 * @param cns `NVME_ID_CNS_*`.
 * @param nsid the namespace (CNS 0) or the NSID to list above (CNS 2).
 * @returns the command.
 */
export function nvmeIdentifyCommand(cns: number, nsid: number): NvmeCommand {
  const c = nvmeHostCommand();
  c.opcode = nvme_admin_identify;
  c.nsid = nsid;
  c.setU8(40, cns);
  return c;
}

/**
 * A Get Log Page command.
 * @param lid the log page (`NVME_LOG_*`).
 * @param bytes bytes to read (a multiple of 4).
 * @returns the command (NUMDL/NUMDU set from `bytes`).
 * @throws RangeError for a length that is not a positive multiple of 4.
 */
export function nvmeGetLogPageCommand(lid: number, bytes: number): NvmeCommand {
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % 4 !== 0) throw new RangeError(`nvmeGetLogPageCommand: ${bytes} bytes is not a positive multiple of 4`);
  const c = nvmeHostCommand();
  c.opcode = nvme_admin_get_log_page;
  c.nsid = 0xffffffff;
  const numd = bytes / 4 - 1;
  c.setU8(40, lid);
  c.setU16(42, numd & 0xffff);
  c.setU16(44, (numd >>> 16) & 0xffff);
  return c;
}

/**
 * A Set Features command.
 * @param fid the feature (`NVME_FEAT_*`).
 * @param dword11 the value.
 * @returns the command.
 */
export function nvmeSetFeaturesCommand(fid: number, dword11: number): NvmeCommand {
  const c = nvmeHostCommand();
  c.opcode = nvme_admin_set_features;
  c.setCdw(10, fid);
  c.setCdw(11, dword11);
  return c;
}

/**
 * The completion result of an Asynchronous Event Request.
 * @param type `NVME_AER_TYPE_*`.
 * @param info event information (`NVME_AER_NOTICE_NS_CHANGED`, ...).
 * @param logPage the log page to read (`NVME_LOG_CHANGED_NS`), or 0.
 * @returns `type | info << 8 | logPage << 16`.
 * @kernel nvmet_async_event_result
 */
export function nvmeAsyncEventResult(type: number, info: number, logPage: number): number {
  return (type | (info << 8) | (logPage << 16)) >>> 0;
}


/** NVMe definitions shared with the host driver (include/linux/nvme.h), re-exported. */
export { NVME_FEAT_NUM_QUEUES, NVME_IDENTIFY_DATA_SIZE, NVME_ID_CNS_CTRL, NVME_ID_CNS_NS, NVME_ID_CNS_NS_ACTIVE_LIST };