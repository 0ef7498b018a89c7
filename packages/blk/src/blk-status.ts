/**
 * Block layer completion status: `blk_status_t`, its values and the kernel's one table that
 * converts it to and from errno values.
 *
 * A `BlkStatus` is its own (branded) type: a bio or request ends with a status, never with an
 * errno, and the only bridges between the two are `blkStatusToErrno` and `errnoToBlkStatus`,
 * which read the same table the kernel's `blk_errors[]` is.
 *
 * Values are Linux 4.16's (include/linux/blk_types.h), the kernel the seed series patched.
 *
 * @kernel include/linux/blk_types.h (blk_status_t), block/blk-core.c (blk_errors[])
 */
import type { NegErrno } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';

declare const blkStatusBrand: unique symbol;

/**
 * A block layer status code. Only the `BLK_STS_*` constants have this type, so a status and an
 * errno cannot be confused.
 * @kernel blk_status_t
 */
export type BlkStatus = number & { readonly [blkStatusBrand]: true };

/** Success. @kernel BLK_STS_OK */
export const BLK_STS_OK = 0 as BlkStatus;
/** Operation not supported (by the queue or the device). @kernel BLK_STS_NOTSUPP */
export const BLK_STS_NOTSUPP = 1 as BlkStatus;
/** The command timed out. @kernel BLK_STS_TIMEOUT */
export const BLK_STS_TIMEOUT = 2 as BlkStatus;
/** Critical space allocation failure. @kernel BLK_STS_NOSPC */
export const BLK_STS_NOSPC = 3 as BlkStatus;
/** Recoverable transport error. @kernel BLK_STS_TRANSPORT */
export const BLK_STS_TRANSPORT = 4 as BlkStatus;
/** Critical target error. @kernel BLK_STS_TARGET */
export const BLK_STS_TARGET = 5 as BlkStatus;
/** Critical nexus (reservation) error. @kernel BLK_STS_NEXUS */
export const BLK_STS_NEXUS = 6 as BlkStatus;
/** Critical medium error. @kernel BLK_STS_MEDIUM */
export const BLK_STS_MEDIUM = 7 as BlkStatus;
/** Protection information error. @kernel BLK_STS_PROTECTION */
export const BLK_STS_PROTECTION = 8 as BlkStatus;
/**
 * A driver's `queueRq` ran out of a system-wide resource (memory, DMA mappings): blk-mq puts the
 * request back and runs the queue again after `BLK_MQ_RESOURCE_DELAY_NS`.
 * @kernel BLK_STS_RESOURCE
 */
export const BLK_STS_RESOURCE = 9 as BlkStatus;
/** Generic I/O error (everything not covered by another code). @kernel BLK_STS_IOERR */
export const BLK_STS_IOERR = 10 as BlkStatus;
/** Device-mapper internal retry; never leaves dm. @kernel BLK_STS_DM_REQUEUE (DM_ENDIO_REQUEUE) */
export const BLK_STS_DM_REQUEUE = 11 as BlkStatus;
/** A `REQ_NOWAIT` request would have blocked. @kernel BLK_STS_AGAIN */
export const BLK_STS_AGAIN = 12 as BlkStatus;
/**
 * A driver's `queueRq` ran out of a device resource that an in-flight request will free: blk-mq
 * puts the request back and runs the queue again when a request of that hardware queue completes.
 * @kernel BLK_STS_DEV_RESOURCE
 */
export const BLK_STS_DEV_RESOURCE = 13 as BlkStatus;

/** One row of the kernel's status table. */
export interface BlkStatusEntry {
  /** The status. */
  readonly status: BlkStatus;
  /** Its kernel name (`'BLK_STS_NOTSUPP'`). */
  readonly name: string;
  /** The errno it converts to (`0` for OK). */
  readonly errno: 0 | NegErrno;
  /** The description `print_req_error` prints (`'operation not supported'`). */
  readonly description: string;
}

/**
 * The kernel's `blk_errors[]` table, indexed by status value (4.16: 14 entries, every index
 * used). Both conversions read it; `errnoToBlkStatus` takes the first row whose errno matches.
 * @kernel blk_errors[]
 */
export const BLK_STATUS_TABLE: readonly BlkStatusEntry[] = Object.freeze([
  { status: BLK_STS_OK, name: 'BLK_STS_OK', errno: 0, description: '' },
  { status: BLK_STS_NOTSUPP, name: 'BLK_STS_NOTSUPP', errno: err('EOPNOTSUPP'), description: 'operation not supported' },
  { status: BLK_STS_TIMEOUT, name: 'BLK_STS_TIMEOUT', errno: err('ETIMEDOUT'), description: 'timeout' },
  { status: BLK_STS_NOSPC, name: 'BLK_STS_NOSPC', errno: err('ENOSPC'), description: 'critical space allocation' },
  { status: BLK_STS_TRANSPORT, name: 'BLK_STS_TRANSPORT', errno: err('ENOLINK'), description: 'recoverable transport' },
  { status: BLK_STS_TARGET, name: 'BLK_STS_TARGET', errno: err('EREMOTEIO'), description: 'critical target' },
  { status: BLK_STS_NEXUS, name: 'BLK_STS_NEXUS', errno: err('EBADE'), description: 'critical nexus' },
  { status: BLK_STS_MEDIUM, name: 'BLK_STS_MEDIUM', errno: err('ENODATA'), description: 'critical medium' },
  { status: BLK_STS_PROTECTION, name: 'BLK_STS_PROTECTION', errno: err('EILSEQ'), description: 'protection' },
  { status: BLK_STS_RESOURCE, name: 'BLK_STS_RESOURCE', errno: err('ENOMEM'), description: 'kernel resource' },
  { status: BLK_STS_IOERR, name: 'BLK_STS_IOERR', errno: err('EIO'), description: 'I/O' },
  { status: BLK_STS_DM_REQUEUE, name: 'BLK_STS_DM_REQUEUE', errno: err('EREMCHG'), description: 'dm internal retry' },
  { status: BLK_STS_AGAIN, name: 'BLK_STS_AGAIN', errno: err('EAGAIN'), description: 'nonblocking retry' },
  { status: BLK_STS_DEV_RESOURCE, name: 'BLK_STS_DEV_RESOURCE', errno: err('EBUSY'), description: 'device resource' },
] satisfies BlkStatusEntry[]);

/**
 * Whether a number is one of the table's status values.
 * @param n any number.
 * @returns `true` for 0..13.
 */
export function isBlkStatus(n: number): n is BlkStatus {
  return Number.isInteger(n) && n >= 0 && n < BLK_STATUS_TABLE.length;
}

/**
 * Converts a status to the errno the kernel reports for it.
 * @param status the status.
 * @returns `0` for `BLK_STS_OK`, else the table's negated errno (`-EOPNOTSUPP` for
 *   `BLK_STS_NOTSUPP`, `-EIO` for `BLK_STS_IOERR`, ...); `-EIO` for a value outside the table
 *   (the kernel's `WARN_ON_ONCE` case).
 * @kernel blk_status_to_errno
 */
export function blkStatusToErrno(status: BlkStatus): 0 | NegErrno {
  const row = BLK_STATUS_TABLE[status];
  return row === undefined ? err('EIO') : row.errno;
}

/**
 * Converts an errno (as a driver or lower layer reports it) to a status.
 * @param errno `0` or a negated errno.
 * @returns the first table row with that errno (`0` → `BLK_STS_OK`, `-EOPNOTSUPP` →
 *   `BLK_STS_NOTSUPP`, `-EBUSY` → `BLK_STS_DEV_RESOURCE`), else `BLK_STS_IOERR`. Positive
 *   values match nothing, as in the kernel.
 * @kernel errno_to_blk_status
 */
export function errnoToBlkStatus(errno: number): BlkStatus {
  for (const row of BLK_STATUS_TABLE) if (row.errno === errno) return row.status;
  return BLK_STS_IOERR;
}

/**
 * The kernel name of a status.
 * @param status the status.
 * @returns `'BLK_STS_NOTSUPP'` and so on; `'BLK_STS_<n>'` for a value outside the table.
 */
export function blkStatusName(status: BlkStatus): string {
  return BLK_STATUS_TABLE[status]?.name ?? `BLK_STS_${status as number}`;
}
