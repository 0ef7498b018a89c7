/**
 * NVMe commands and completions as bytes: the 64-byte submission queue entry, the 16-byte
 * completion queue entry, opcodes, Identify and Set Features values, queue-creation flags, and
 * the offsets of the Identify data fields the model uses. Shared by the controller (which
 * decodes commands and encodes completions) and the driver (the reverse).
 *
 * DMA addresses in commands are 64-bit on the wire; the model's addresses are safe integers, so
 * a decoded PRP above 2^53 - 1 reads as `NVME_ADDR_INVALID` (-1) and the controller fails the
 * command rather than truncating it.
 *
 * @kernel include/linux/nvme.h (struct nvme_command, struct nvme_completion, enum nvme_opcode,
 *   enum nvme_admin_opcode, NVME_ID_CNS_*, NVME_FEAT_*, NVME_QUEUE_PHYS_CONTIG, ...)
 */
import { getLe16, getLe32, getLe64Bytes, putLe16, putLe32, setLe64Bytes } from './internal/le64';
import type { NvmeStatus } from './nvme-status';
import { nvmeStatusFromCqeField, nvmeStatusToCqeField } from './nvme-status';

/** Bytes of a submission queue entry. @kernel sizeof(struct nvme_command) */
export const NVME_SQE_SIZE = 64;
/** Bytes of a completion queue entry. @kernel sizeof(struct nvme_completion) */
export const NVME_CQE_SIZE = 16;
/** Bytes of an Identify data structure. @kernel sizeof(struct nvme_id_ctrl) */
export const NVME_IDENTIFY_DATA_SIZE = 4096;
/** Marker for a 64-bit address that is not a model address (above 2^53 - 1). */
export const NVME_ADDR_INVALID = -1;

/** Delete I/O Submission Queue. @kernel nvme_admin_delete_sq */
export const nvme_admin_delete_sq = 0x00;
/** Create I/O Submission Queue. @kernel nvme_admin_create_sq */
export const nvme_admin_create_sq = 0x01;
/** Get Log Page. @kernel nvme_admin_get_log_page */
export const nvme_admin_get_log_page = 0x02;
/** Delete I/O Completion Queue. @kernel nvme_admin_delete_cq */
export const nvme_admin_delete_cq = 0x04;
/** Create I/O Completion Queue. @kernel nvme_admin_create_cq */
export const nvme_admin_create_cq = 0x05;
/** Identify. @kernel nvme_admin_identify */
export const nvme_admin_identify = 0x06;
/** Abort. @kernel nvme_admin_abort_cmd */
export const nvme_admin_abort_cmd = 0x08;
/** Set Features. @kernel nvme_admin_set_features */
export const nvme_admin_set_features = 0x09;
/** Get Features. @kernel nvme_admin_get_features */
export const nvme_admin_get_features = 0x0a;
/** Asynchronous Event Request. @kernel nvme_admin_async_event */
export const nvme_admin_async_event = 0x0c;

/** Flush. @kernel nvme_cmd_flush */
export const nvme_cmd_flush = 0x00;
/** Write. @kernel nvme_cmd_write */
export const nvme_cmd_write = 0x01;
/** Read. @kernel nvme_cmd_read */
export const nvme_cmd_read = 0x02;
/** Write Zeroes. @kernel nvme_cmd_write_zeroes */
export const nvme_cmd_write_zeroes = 0x08;
/** Dataset Management. @kernel nvme_cmd_dsm */
export const nvme_cmd_dsm = 0x09;

/** Identify CNS: a namespace. @kernel NVME_ID_CNS_NS */
export const NVME_ID_CNS_NS = 0x00;
/** Identify CNS: the controller. @kernel NVME_ID_CNS_CTRL */
export const NVME_ID_CNS_CTRL = 0x01;
/** Identify CNS: active namespace ID list. @kernel NVME_ID_CNS_NS_ACTIVE_LIST */
export const NVME_ID_CNS_NS_ACTIVE_LIST = 0x02;

/** Feature: Volatile Write Cache. @kernel NVME_FEAT_VOLATILE_WC */
export const NVME_FEAT_VOLATILE_WC = 0x06;
/** Feature: Number of Queues. @kernel NVME_FEAT_NUM_QUEUES */
export const NVME_FEAT_NUM_QUEUES = 0x07;

/** Create queue flag: physically contiguous. @kernel NVME_QUEUE_PHYS_CONTIG */
export const NVME_QUEUE_PHYS_CONTIG = 1 << 0;
/** Create CQ flag: interrupts enabled. @kernel NVME_CQ_IRQ_ENABLED */
export const NVME_CQ_IRQ_ENABLED = 1 << 1;
/** Create SQ priority: medium. @kernel NVME_SQ_PRIO_MEDIUM */
export const NVME_SQ_PRIO_MEDIUM = 2 << 1;

/** Read/Write control: Force Unit Access (cdw12 bit 30). @kernel NVME_RW_FUA */
export const NVME_RW_FUA = 1 << 14;

/** Offsets of Identify Controller fields the model fills in and reads. @kernel struct nvme_id_ctrl */
export const NVME_ID_CTRL = {
  vid: 0,
  ssvid: 2,
  sn: 4,
  mn: 24,
  fr: 64,
  mdts: 77,
  cntlid: 78,
  ver: 80,
  oacs: 256,
  sqes: 512,
  cqes: 513,
  maxcmd: 514,
  nn: 516,
  oncs: 520,
  vwc: 525,
  sgls: 536,
} as const;

/** Offsets of Identify Namespace fields the model fills in and reads. @kernel struct nvme_id_ns */
export const NVME_ID_NS = {
  nsze: 0,
  ncap: 8,
  nuse: 16,
  nsfeat: 24,
  nlbaf: 25,
  flbas: 26,
  lbaf: 128,
} as const;

/**
 * A decoded submission queue entry. Field names follow `struct nvme_common_command`; the
 * command-specific dwords are `cdw10..cdw15`.
 * @kernel struct nvme_command
 */
export interface NvmeCommand {
  /** Opcode. */
  opcode: number;
  /** Flags byte (FUSE, PSDT). */
  flags: number;
  /** Command identifier (the block layer tag for I/O). */
  commandId: number;
  /** Namespace ID. */
  nsid: number;
  /** Command dword 2. */
  cdw2: number;
  /** Command dword 3. */
  cdw3: number;
  /** Metadata pointer. */
  metadata: number;
  /** PRP entry 1 (`NVME_ADDR_INVALID` when not a model address). */
  prp1: number;
  /** PRP entry 2. */
  prp2: number;
  /** Command dword 10 (command specific). */
  cdw10: number;
  /** Command dword 11. */
  cdw11: number;
  /** Command dword 12. */
  cdw12: number;
  /** Command dword 13. */
  cdw13: number;
  /** Command dword 14. */
  cdw14: number;
  /** Command dword 15. */
  cdw15: number;
}

/**
 * A command with every field zero, to fill in.
 * @param opcode the opcode.
 * @returns a fresh command.
 */
export function nvmeCommand(opcode: number): NvmeCommand {
  return {
    opcode,
    flags: 0,
    commandId: 0,
    nsid: 0,
    cdw2: 0,
    cdw3: 0,
    metadata: 0,
    prp1: 0,
    prp2: 0,
    cdw10: 0,
    cdw11: 0,
    cdw12: 0,
    cdw13: 0,
    cdw14: 0,
    cdw15: 0,
  };
}

/**
 * The `size` bytes of an entry starting at `bytes`: `bytes` itself when it is long enough,
 * else a view of its buffer (a RangeError when the buffer ends first, as a DataView of it did).
 */
function entryBytes(bytes: Uint8Array, size: number): Uint8Array {
  return bytes.length >= size ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, size);
}

/**
 * Encodes a command as the 64 little-endian bytes the controller fetches.
 * @param cmd the command (addresses must be safe non-negative integers).
 * @param out optional destination of at least 64 bytes.
 * @returns the bytes.
 */
export function nvmeEncodeCommand(cmd: NvmeCommand, out: Uint8Array = new Uint8Array(NVME_SQE_SIZE)): Uint8Array {
  const b = entryBytes(out, NVME_SQE_SIZE);
  b[0] = cmd.opcode & 0xff;
  b[1] = cmd.flags & 0xff;
  putLe16(b, 2, cmd.commandId);
  putLe32(b, 4, cmd.nsid);
  putLe32(b, 8, cmd.cdw2);
  putLe32(b, 12, cmd.cdw3);
  setLe64Bytes(b, 16, cmd.metadata);
  setLe64Bytes(b, 24, cmd.prp1);
  setLe64Bytes(b, 32, cmd.prp2);
  putLe32(b, 40, cmd.cdw10);
  putLe32(b, 44, cmd.cdw11);
  putLe32(b, 48, cmd.cdw12);
  putLe32(b, 52, cmd.cdw13);
  putLe32(b, 56, cmd.cdw14);
  putLe32(b, 60, cmd.cdw15);
  return out;
}

/**
 * Decodes 64 bytes of a submission queue entry.
 * @param bytes at least 64 bytes.
 * @returns the command.
 */
export function nvmeDecodeCommand(bytes: Uint8Array): NvmeCommand {
  const b = entryBytes(bytes, NVME_SQE_SIZE);
  return {
    opcode: b[0]!,
    flags: b[1]!,
    commandId: getLe16(b, 2),
    nsid: getLe32(b, 4),
    cdw2: getLe32(b, 8),
    cdw3: getLe32(b, 12),
    metadata: getLe64Bytes(b, 16, NVME_ADDR_INVALID),
    prp1: getLe64Bytes(b, 24, NVME_ADDR_INVALID),
    prp2: getLe64Bytes(b, 32, NVME_ADDR_INVALID),
    cdw10: getLe32(b, 40),
    cdw11: getLe32(b, 44),
    cdw12: getLe32(b, 48),
    cdw13: getLe32(b, 52),
    cdw14: getLe32(b, 56),
    cdw15: getLe32(b, 60),
  };
}

/**
 * A decoded completion queue entry.
 * @kernel struct nvme_completion
 */
export interface NvmeCompletion {
  /** Command specific result (DW0). */
  result: number;
  /** SQ head pointer after this command. */
  sqHead: number;
  /** Submission queue the command came from. */
  sqId: number;
  /** The command's identifier. */
  commandId: number;
  /** The status. */
  status: NvmeStatus;
  /** Phase tag. */
  phase: number;
}

/**
 * Encodes a completion entry.
 * @param c the completion.
 * @param out optional destination of at least 16 bytes.
 * @returns the bytes.
 */
export function nvmeEncodeCompletion(c: NvmeCompletion, out: Uint8Array = new Uint8Array(NVME_CQE_SIZE)): Uint8Array {
  const b = entryBytes(out, NVME_CQE_SIZE);
  putLe32(b, 0, c.result);
  putLe32(b, 4, 0);
  putLe16(b, 8, c.sqHead);
  putLe16(b, 10, c.sqId);
  putLe16(b, 12, c.commandId);
  putLe16(b, 14, nvmeStatusToCqeField(c.status, c.phase));
  return out;
}

/**
 * Decodes a completion entry.
 * @param bytes at least 16 bytes.
 * @returns the completion.
 */
export function nvmeDecodeCompletion(bytes: Uint8Array): NvmeCompletion {
  const b = entryBytes(bytes, NVME_CQE_SIZE);
  const field = getLe16(b, 14);
  return {
    result: getLe32(b, 0),
    sqHead: getLe16(b, 8),
    sqId: getLe16(b, 10),
    commandId: getLe16(b, 12),
    status: nvmeStatusFromCqeField(field),
    phase: field & 1,
  };
}
