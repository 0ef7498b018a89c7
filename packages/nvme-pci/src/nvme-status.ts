/**
 * NVMe completion status values: the controller's own status type, never an errno.
 *
 * Values use the kernel's encoding (`le16_to_cpu(cqe->status) >> 1`): Status Code in bits 7:0,
 * Status Code Type in bits 10:8, More in bit 13, Do Not Retry in bit 14. In a completion
 * queue entry the same value sits one bit up, with the phase tag in bit 0
 * (`nvmeStatusToCqeField`).
 *
 * @kernel include/linux/nvme.h (NVME_SC_*)
 */

declare const nvmeStatusBrand: unique symbol;

/** An NVMe status (kernel encoding), not an errno. */
export type NvmeStatus = number & { readonly [nvmeStatusBrand]: true };

function sc(v: number): NvmeStatus {
  return v as NvmeStatus;
}

/** Successful completion. @kernel NVME_SC_SUCCESS */
export const NVME_SC_SUCCESS = sc(0x0);
/** Invalid Command Opcode. @kernel NVME_SC_INVALID_OPCODE */
export const NVME_SC_INVALID_OPCODE = sc(0x1);
/** Invalid Field in Command. @kernel NVME_SC_INVALID_FIELD */
export const NVME_SC_INVALID_FIELD = sc(0x2);
/** Command ID Conflict. @kernel NVME_SC_CMDID_CONFLICT */
export const NVME_SC_CMDID_CONFLICT = sc(0x3);
/** Data Transfer Error. @kernel NVME_SC_DATA_XFER_ERROR */
export const NVME_SC_DATA_XFER_ERROR = sc(0x4);
/** Commands Aborted due to Power Loss Notification. @kernel NVME_SC_POWER_LOSS */
export const NVME_SC_POWER_LOSS = sc(0x5);
/** Internal Error. @kernel NVME_SC_INTERNAL */
export const NVME_SC_INTERNAL = sc(0x6);
/** Command Abort Requested. @kernel NVME_SC_ABORT_REQ */
export const NVME_SC_ABORT_REQ = sc(0x7);
/** Command Aborted due to SQ Deletion. @kernel NVME_SC_ABORT_QUEUE */
export const NVME_SC_ABORT_QUEUE = sc(0x8);
/** Invalid Namespace or Format. @kernel NVME_SC_INVALID_NS */
export const NVME_SC_INVALID_NS = sc(0xb);
/** Command Sequence Error. @kernel NVME_SC_CMD_SEQ_ERROR */
export const NVME_SC_CMD_SEQ_ERROR = sc(0xc);
/** Invalid Use of Controller Memory Buffer. @kernel NVME_SC_CMB_INVALID_USE */
export const NVME_SC_CMB_INVALID_USE = sc(0x12);
/** PRP Offset Invalid. @kernel NVME_SC_PRP_INVALID_OFFSET */
export const NVME_SC_PRP_INVALID_OFFSET = sc(0x13);
/** Command Interrupted (6.6). @kernel NVME_SC_CMD_INTERRUPTED */
export const NVME_SC_CMD_INTERRUPTED = sc(0x21);
/** LBA Out of Range. @kernel NVME_SC_LBA_RANGE */
export const NVME_SC_LBA_RANGE = sc(0x80);
/** Capacity Exceeded. @kernel NVME_SC_CAP_EXCEEDED */
export const NVME_SC_CAP_EXCEEDED = sc(0x81);
/** Namespace Not Ready. @kernel NVME_SC_NS_NOT_READY */
export const NVME_SC_NS_NOT_READY = sc(0x82);
/** Reservation Conflict. @kernel NVME_SC_RESERVATION_CONFLICT */
export const NVME_SC_RESERVATION_CONFLICT = sc(0x83);
/** Completion Queue Invalid (command specific). @kernel NVME_SC_CQ_INVALID */
export const NVME_SC_CQ_INVALID = sc(0x100);
/** Invalid Queue Identifier. @kernel NVME_SC_QID_INVALID */
export const NVME_SC_QID_INVALID = sc(0x101);
/** Invalid Queue Size. @kernel NVME_SC_QUEUE_SIZE */
export const NVME_SC_QUEUE_SIZE = sc(0x102);
/** Invalid Interrupt Vector. @kernel NVME_SC_INVALID_VECTOR */
export const NVME_SC_INVALID_VECTOR = sc(0x108);
/** Invalid Queue Deletion (spec name; the kernel has no macro for 0x10c). */
export const NVME_SC_INVALID_QUEUE_DELETION = sc(0x10c);
/** Conflicting Attributes. @kernel NVME_SC_BAD_ATTRIBUTES */
export const NVME_SC_BAD_ATTRIBUTES = sc(0x180);
/** Invalid Protection Information. @kernel NVME_SC_INVALID_PI */
export const NVME_SC_INVALID_PI = sc(0x181);
/** Attempted Write to Read Only Range. @kernel NVME_SC_READ_ONLY */
export const NVME_SC_READ_ONLY = sc(0x182);
/** Optional command not supported (ONCS). @kernel NVME_SC_ONCS_NOT_SUPPORTED */
export const NVME_SC_ONCS_NOT_SUPPORTED = sc(0x183);
/** Write Fault (media error). @kernel NVME_SC_WRITE_FAULT */
export const NVME_SC_WRITE_FAULT = sc(0x280);
/** Unrecovered Read Error. @kernel NVME_SC_READ_ERROR */
export const NVME_SC_READ_ERROR = sc(0x281);
/** End-to-end Guard Check Error. @kernel NVME_SC_GUARD_CHECK */
export const NVME_SC_GUARD_CHECK = sc(0x282);
/** End-to-end Application Tag Check Error. @kernel NVME_SC_APPTAG_CHECK */
export const NVME_SC_APPTAG_CHECK = sc(0x283);
/** End-to-end Reference Tag Check Error. @kernel NVME_SC_REFTAG_CHECK */
export const NVME_SC_REFTAG_CHECK = sc(0x284);
/** Compare Failure. @kernel NVME_SC_COMPARE_FAILED */
export const NVME_SC_COMPARE_FAILED = sc(0x285);
/** Access Denied. @kernel NVME_SC_ACCESS_DENIED */
export const NVME_SC_ACCESS_DENIED = sc(0x286);
/** Deallocated or Unwritten Logical Block. @kernel NVME_SC_UNWRITTEN_BLOCK */
export const NVME_SC_UNWRITTEN_BLOCK = sc(0x287);
/** Host Pathing Error (6.6). @kernel NVME_SC_HOST_PATH_ERROR */
export const NVME_SC_HOST_PATH_ERROR = sc(0x370);
/** More status information in the error log. @kernel NVME_SC_MORE */
export const NVME_SC_MORE = 0x2000;
/** Do Not Retry. @kernel NVME_SC_DNR */
export const NVME_SC_DNR = 0x4000;

/** Status code (with its type) without the More / DNR bits: `status & 0x7ff`. */
export const NVME_SC_MASK = 0x7ff;

/** Names of the statuses above, for log lines and reports. */
export const NVME_STATUS_NAMES: ReadonlyMap<number, string> = new Map<number, string>([
  [NVME_SC_SUCCESS, 'SUCCESS'],
  [NVME_SC_INVALID_OPCODE, 'INVALID_OPCODE'],
  [NVME_SC_INVALID_FIELD, 'INVALID_FIELD'],
  [NVME_SC_CMDID_CONFLICT, 'CMDID_CONFLICT'],
  [NVME_SC_DATA_XFER_ERROR, 'DATA_XFER_ERROR'],
  [NVME_SC_POWER_LOSS, 'POWER_LOSS'],
  [NVME_SC_INTERNAL, 'INTERNAL'],
  [NVME_SC_ABORT_REQ, 'ABORT_REQ'],
  [NVME_SC_ABORT_QUEUE, 'ABORT_QUEUE'],
  [NVME_SC_INVALID_NS, 'INVALID_NS'],
  [NVME_SC_CMD_SEQ_ERROR, 'CMD_SEQ_ERROR'],
  [NVME_SC_CMB_INVALID_USE, 'CMB_INVALID_USE'],
  [NVME_SC_PRP_INVALID_OFFSET, 'PRP_INVALID_OFFSET'],
  [NVME_SC_CMD_INTERRUPTED, 'CMD_INTERRUPTED'],
  [NVME_SC_LBA_RANGE, 'LBA_RANGE'],
  [NVME_SC_CAP_EXCEEDED, 'CAP_EXCEEDED'],
  [NVME_SC_NS_NOT_READY, 'NS_NOT_READY'],
  [NVME_SC_RESERVATION_CONFLICT, 'RESERVATION_CONFLICT'],
  [NVME_SC_CQ_INVALID, 'CQ_INVALID'],
  [NVME_SC_QID_INVALID, 'QID_INVALID'],
  [NVME_SC_QUEUE_SIZE, 'QUEUE_SIZE'],
  [NVME_SC_INVALID_VECTOR, 'INVALID_VECTOR'],
  [NVME_SC_INVALID_QUEUE_DELETION, 'INVALID_QUEUE_DELETION'],
  [NVME_SC_BAD_ATTRIBUTES, 'BAD_ATTRIBUTES'],
  [NVME_SC_INVALID_PI, 'INVALID_PI'],
  [NVME_SC_READ_ONLY, 'READ_ONLY'],
  [NVME_SC_ONCS_NOT_SUPPORTED, 'ONCS_NOT_SUPPORTED'],
  [NVME_SC_WRITE_FAULT, 'WRITE_FAULT'],
  [NVME_SC_READ_ERROR, 'READ_ERROR'],
  [NVME_SC_GUARD_CHECK, 'GUARD_CHECK'],
  [NVME_SC_APPTAG_CHECK, 'APPTAG_CHECK'],
  [NVME_SC_REFTAG_CHECK, 'REFTAG_CHECK'],
  [NVME_SC_COMPARE_FAILED, 'COMPARE_FAILED'],
  [NVME_SC_ACCESS_DENIED, 'ACCESS_DENIED'],
  [NVME_SC_UNWRITTEN_BLOCK, 'UNWRITTEN_BLOCK'],
  [NVME_SC_HOST_PATH_ERROR, 'HOST_PATH_ERROR'],
]);

/**
 * A status with the Do Not Retry bit set.
 * @param status the status.
 * @returns `status | NVME_SC_DNR`.
 */
export function nvmeStatusDnr(status: NvmeStatus): NvmeStatus {
  return (status | NVME_SC_DNR) as NvmeStatus;
}

/**
 * A status's name, with `|DNR` / `|MORE` when set, or its hex value when unnamed.
 * @param status the status.
 * @returns e.g. `LBA_RANGE|DNR` or `0x1c0`.
 */
export function nvmeStatusName(status: NvmeStatus): string {
  const base = NVME_STATUS_NAMES.get(status & NVME_SC_MASK) ?? `0x${(status & NVME_SC_MASK).toString(16)}`;
  return base + ((status & NVME_SC_MORE) !== 0 ? '|MORE' : '') + ((status & NVME_SC_DNR) !== 0 ? '|DNR' : '');
}

/**
 * Whether a value is a status (15 bits).
 * @param v any value.
 * @returns `true` for an integer 0..0x7fff.
 */
export function isNvmeStatus(v: unknown): v is NvmeStatus {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0x7fff;
}

/**
 * The completion entry's 16-bit status field: the status shifted up one bit, the phase tag
 * in bit 0.
 * @param status the status.
 * @param phase the phase tag (0 or 1).
 * @returns the field.
 */
export function nvmeStatusToCqeField(status: NvmeStatus, phase: number): number {
  return ((status << 1) | (phase & 1)) & 0xffff;
}

/**
 * The status in a completion entry's status field. @kernel le16_to_cpu(cqe->status) >> 1
 * @param field the 16-bit field.
 * @returns the status.
 */
export function nvmeStatusFromCqeField(field: number): NvmeStatus {
  return ((field & 0xffff) >>> 1) as NvmeStatus;
}
