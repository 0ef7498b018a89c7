/**
 * Operations and request flags shared by bios and requests (`bi_opf` / `cmd_flags`).
 *
 * The low `REQ_OP_BITS` (8) bits hold the operation, the bits above hold `REQ_*` flags. The
 * numbering is Linux 4.16's `enum req_flag_bits` (include/linux/blk_types.h) with the seed
 * series' patch 05 applied: `__REQ_PCI_P2PDMA` sits right after `__REQ_NOWAIT`, inside
 * `#ifdef CONFIG_PCI_P2PDMA`. So the flag exists only in kernels built with
 * `CONFIG_PCI_P2PDMA`, and the bits after it (`__REQ_NOUNMAP`, `__REQ_DRV`) move up by one when
 * it does. Everything up to `__REQ_NOWAIT` is the same in both builds and is exported as plain
 * constants; the build-dependent values are in a `ReqFlagTable`, one per build
 * (`REQ_FLAG_TABLES`), picked with `reqFlags(kernel)`:
 *
 * ```ts
 * // With CONFIG_PCI_P2PDMA off: REQ_PCI_P2PDMA is 0, REQ_NOMERGE_FLAGS is NOMERGE|PREFLUSH|FUA.
 * const { REQ_PCI_P2PDMA, REQ_NOMERGE_FLAGS } = reqFlags(kernel);
 * ```
 *
 * @kernel include/linux/blk_types.h (enum req_opf, enum req_flag_bits, REQ_*), patch 05/10
 */
import type { Kconfig, Kernel } from '@p2pdma/kernel';

/** Bits of `opf` holding the operation. @kernel REQ_OP_BITS */
export const REQ_OP_BITS = 8;
/** Mask of the operation in `opf`. @kernel REQ_OP_MASK */
export const REQ_OP_MASK = 0xff;

/** Read sectors from the device. @kernel REQ_OP_READ */
export const REQ_OP_READ = 0;
/** Write sectors to the device. @kernel REQ_OP_WRITE */
export const REQ_OP_WRITE = 1;
/** Flush the volatile write cache (issued by the flush machinery). @kernel REQ_OP_FLUSH */
export const REQ_OP_FLUSH = 2;
/** Discard sectors. @kernel REQ_OP_DISCARD */
export const REQ_OP_DISCARD = 3;
/** Write zeroes to sectors without a data buffer. @kernel REQ_OP_WRITE_ZEROES */
export const REQ_OP_WRITE_ZEROES = 9;

/** The operations the model implements. @kernel enum req_opf (subset) */
export type ReqOp =
  | typeof REQ_OP_READ
  | typeof REQ_OP_WRITE
  | typeof REQ_OP_FLUSH
  | typeof REQ_OP_DISCARD
  | typeof REQ_OP_WRITE_ZEROES;

/** Operation → its kernel name. */
export const REQ_OP_NAMES: Readonly<Record<ReqOp, string>> = Object.freeze({
  [REQ_OP_READ]: 'REQ_OP_READ',
  [REQ_OP_WRITE]: 'REQ_OP_WRITE',
  [REQ_OP_FLUSH]: 'REQ_OP_FLUSH',
  [REQ_OP_DISCARD]: 'REQ_OP_DISCARD',
  [REQ_OP_WRITE_ZEROES]: 'REQ_OP_WRITE_ZEROES',
});

/**
 * Whether a number is an operation the model implements.
 * @param op any number.
 * @returns `true` for the `REQ_OP_*` values above.
 */
export function isReqOp(op: number): op is ReqOp {
  return Object.hasOwn(REQ_OP_NAMES, op);
}

// enum req_flag_bits, 4.16: the part that is the same with and without CONFIG_PCI_P2PDMA.
/** Bit: no driver retries of device errors. @kernel __REQ_FAILFAST_DEV */
export const __REQ_FAILFAST_DEV = 8;
/** Bit: no driver retries of transport errors. @kernel __REQ_FAILFAST_TRANSPORT */
export const __REQ_FAILFAST_TRANSPORT = 9;
/** Bit: no driver retries of driver errors. @kernel __REQ_FAILFAST_DRIVER */
export const __REQ_FAILFAST_DRIVER = 10;
/** Bit: synchronous I/O. @kernel __REQ_SYNC */
export const __REQ_SYNC = 11;
/** Bit: metadata I/O. @kernel __REQ_META */
export const __REQ_META = 12;
/** Bit: boost priority. @kernel __REQ_PRIO */
export const __REQ_PRIO = 13;
/** Bit: do not merge. @kernel __REQ_NOMERGE */
export const __REQ_NOMERGE = 14;
/** Bit: more I/O follows (anticipate). @kernel __REQ_IDLE */
export const __REQ_IDLE = 15;
/** Bit: carries an integrity payload. @kernel __REQ_INTEGRITY */
export const __REQ_INTEGRITY = 16;
/** Bit: forced unit access. @kernel __REQ_FUA */
export const __REQ_FUA = 17;
/** Bit: flush the write cache before the data. @kernel __REQ_PREFLUSH */
export const __REQ_PREFLUSH = 18;
/** Bit: read-ahead, may fail. @kernel __REQ_RAHEAD */
export const __REQ_RAHEAD = 19;
/** Bit: background I/O. @kernel __REQ_BACKGROUND */
export const __REQ_BACKGROUND = 20;
/** Bit: do not wait if the request would block. @kernel __REQ_NOWAIT */
export const __REQ_NOWAIT = 21;
/**
 * Bit of `REQ_PCI_P2PDMA` in a `CONFIG_PCI_P2PDMA=y` kernel (patch 05: right after
 * `__REQ_NOWAIT`). Does not exist otherwise: use `reqFlags(kernel).__REQ_PCI_P2PDMA`.
 * @kernel __REQ_PCI_P2PDMA
 */
export const __REQ_PCI_P2PDMA_IF_CONFIGURED = 22;

/** No driver retries of device errors. @kernel REQ_FAILFAST_DEV */
export const REQ_FAILFAST_DEV = 0x0000_0100;
/** No driver retries of transport errors. @kernel REQ_FAILFAST_TRANSPORT */
export const REQ_FAILFAST_TRANSPORT = 0x0000_0200;
/** No driver retries of driver errors. @kernel REQ_FAILFAST_DRIVER */
export const REQ_FAILFAST_DRIVER = 0x0000_0400;
/** Synchronous I/O. @kernel REQ_SYNC */
export const REQ_SYNC = 0x0000_0800;
/** Metadata I/O. @kernel REQ_META */
export const REQ_META = 0x0000_1000;
/** Boost priority. @kernel REQ_PRIO */
export const REQ_PRIO = 0x0000_2000;
/** Never merge this bio or request. @kernel REQ_NOMERGE */
export const REQ_NOMERGE = 0x0000_4000;
/** More I/O follows. @kernel REQ_IDLE */
export const REQ_IDLE = 0x0000_8000;
/** Carries an integrity payload. @kernel REQ_INTEGRITY */
export const REQ_INTEGRITY = 0x0001_0000;
/** Forced unit access: the data is on stable media when the request completes. @kernel REQ_FUA */
export const REQ_FUA = 0x0002_0000;
/** Flush the volatile write cache before the data. @kernel REQ_PREFLUSH */
export const REQ_PREFLUSH = 0x0004_0000;
/** Read-ahead. @kernel REQ_RAHEAD */
export const REQ_RAHEAD = 0x0008_0000;
/** Background I/O. @kernel REQ_BACKGROUND */
export const REQ_BACKGROUND = 0x0010_0000;
/** Do not wait: fail with `BLK_STS_AGAIN` / not supported instead. @kernel REQ_NOWAIT */
export const REQ_NOWAIT = 0x0020_0000;
/**
 * The value of `REQ_PCI_P2PDMA` in a `CONFIG_PCI_P2PDMA=y` kernel (`1 << 22`). Code that sets
 * the flag must use `reqFlags(kernel).REQ_PCI_P2PDMA`, which is 0 when the option is off.
 * @kernel REQ_PCI_P2PDMA (CONFIG_PCI_P2PDMA=y)
 */
export const REQ_PCI_P2PDMA_IF_CONFIGURED = 0x0040_0000;

/** The three fail-fast flags. @kernel REQ_FAILFAST_MASK */
export const REQ_FAILFAST_MASK = REQ_FAILFAST_DEV | REQ_FAILFAST_TRANSPORT | REQ_FAILFAST_DRIVER;

/**
 * The request flags that depend on the kernel build (`CONFIG_PCI_P2PDMA`), as one frozen table.
 * @kernel include/linux/blk_types.h after patch 05/10
 */
export interface ReqFlagTable {
  /** Whether the table is for a `CONFIG_PCI_P2PDMA=y` build. */
  readonly configPciP2pdma: boolean;
  /** Bit number of `REQ_PCI_P2PDMA`, or `-1` when the flag does not exist. @kernel __REQ_PCI_P2PDMA */
  readonly __REQ_PCI_P2PDMA: number;
  /** Bit number of `REQ_NOUNMAP` (22 or 23). @kernel __REQ_NOUNMAP */
  readonly __REQ_NOUNMAP: number;
  /** Bit number of `REQ_DRV` (23 or 24). @kernel __REQ_DRV */
  readonly __REQ_DRV: number;
  /** Number of defined bits (24 or 25). @kernel __REQ_NR_BITS */
  readonly __REQ_NR_BITS: number;
  /** The P2P flag: `1 << 22`, or `0` when `CONFIG_PCI_P2PDMA` is off. @kernel REQ_PCI_P2PDMA */
  readonly REQ_PCI_P2PDMA: number;
  /** Do not free blocks when zeroing (WRITE_ZEROES only). @kernel REQ_NOUNMAP */
  readonly REQ_NOUNMAP: number;
  /** For driver use. @kernel REQ_DRV */
  readonly REQ_DRV: number;
  /**
   * Flags that forbid merging: `REQ_NOMERGE | REQ_PREFLUSH | REQ_FUA | REQ_PCI_P2PDMA` (patch
   * 05 adds the last: "SGLs do not support mixed P2P and regular memory").
   * @kernel REQ_NOMERGE_FLAGS
   */
  readonly REQ_NOMERGE_FLAGS: number;
}

function makeTable(p2p: boolean): ReqFlagTable {
  const p2pBit = p2p ? __REQ_PCI_P2PDMA_IF_CONFIGURED : -1;
  const nounmap = __REQ_NOWAIT + (p2p ? 2 : 1);
  const p2pFlag = p2p ? 2 ** p2pBit : 0;
  return Object.freeze({
    configPciP2pdma: p2p,
    __REQ_PCI_P2PDMA: p2pBit,
    __REQ_NOUNMAP: nounmap,
    __REQ_DRV: nounmap + 1,
    __REQ_NR_BITS: nounmap + 2,
    REQ_PCI_P2PDMA: p2pFlag,
    REQ_NOUNMAP: 2 ** nounmap,
    REQ_DRV: 2 ** (nounmap + 1),
    REQ_NOMERGE_FLAGS: REQ_NOMERGE | REQ_PREFLUSH | REQ_FUA | p2pFlag,
  });
}

/**
 * Both builds' tables, precomputed: `REQ_FLAG_TABLES.p2pdma` (`CONFIG_PCI_P2PDMA=y`) and
 * `REQ_FLAG_TABLES.none`.
 */
export const REQ_FLAG_TABLES: Readonly<{ p2pdma: ReqFlagTable; none: ReqFlagTable }> = Object.freeze({
  p2pdma: makeTable(true),
  none: makeTable(false),
});

/**
 * The build-dependent request flags of a kernel.
 * @param k a kernel, or just its Kconfig (`{ CONFIG_PCI_P2PDMA }`).
 * @returns the frozen table for that build (shared, never copied).
 * @kernel REQ_PCI_P2PDMA / REQ_NOMERGE_FLAGS as the preprocessor sees them
 */
export function reqFlags(k: Kernel | Pick<Kconfig, 'CONFIG_PCI_P2PDMA'>): ReqFlagTable {
  const on = 'config' in k ? k.config.CONFIG_PCI_P2PDMA : k.CONFIG_PCI_P2PDMA;
  return on ? REQ_FLAG_TABLES.p2pdma : REQ_FLAG_TABLES.none;
}

/** Data direction: the device is read. @kernel READ */
export const READ = 0;
/** Data direction: the device is written. @kernel WRITE */
export const WRITE = 1;
/** A data direction. */
export type DataDir = typeof READ | typeof WRITE;

/**
 * Whether an operation writes to the device.
 * @param op an operation.
 * @returns whether it transfers data to the device (odd operations: WRITE, WRITE_ZEROES, ...).
 * @kernel op_is_write
 */
export function opIsWrite(op: number): boolean {
  return (op & 1) === 1;
}

/**
 * Whether the flush machinery handles a bio or request.
 * @param opf operation and flags.
 * @returns whether the flush machinery handles it (`REQ_FUA` or `REQ_PREFLUSH` set).
 * @kernel op_is_flush
 */
export function opIsFlush(opf: number): boolean {
  return (opf & (REQ_FUA | REQ_PREFLUSH)) !== 0;
}

/**
 * Whether I/O is synchronous.
 * @param opf operation and flags.
 * @returns whether the I/O is synchronous: reads, and writes with SYNC, FUA or PREFLUSH.
 * @kernel op_is_sync
 */
export function opIsSync(opf: number): boolean {
  return (opf & REQ_OP_MASK) === REQ_OP_READ || (opf & (REQ_SYNC | REQ_FUA | REQ_PREFLUSH)) !== 0;
}
