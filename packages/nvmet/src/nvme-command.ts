/**
 * NVMe commands and completions as the bytes a fabrics capsule carries: the 64-byte submission
 * queue entry (`struct nvme_command`) with its data pointer as an SGL descriptor, and the
 * 16-byte completion (`struct nvme_completion`). Opcodes, command flags and SGL descriptor
 * types are the kernel's values.
 *
 * Multi-byte fields are little endian. 64-bit fields that do not fit a JavaScript safe integer
 * (above 2^53 - 1) read as `NVME_U64_INVALID` (-1); the target treats such a value as out of
 * range instead of truncating it.
 *
 * @kernel include/linux/nvme.h (struct nvme_command, struct nvme_common_command,
 *   struct nvme_rw_command, struct nvme_sgl_desc, struct nvme_keyed_sgl_desc,
 *   struct nvme_completion, enum nvme_opcode, enum nvme_admin_opcode)
 */
import { KernelBug } from '@p2pdma/kernel';
import { newEntryBytes } from './internal/entry-slab';
import type { NvmeStatus } from './nvme-status';
import { NVME_RW_FUA, nvme_admin_abort_cmd, nvme_admin_async_event, nvme_admin_get_features, nvme_admin_get_log_page, nvme_admin_identify, nvme_admin_set_features, nvme_cmd_dsm, nvme_cmd_flush, nvme_cmd_read, nvme_cmd_write, nvme_cmd_write_zeroes } from '@p2pdma/nvme-pci';

/** Bytes of a submission queue entry. @kernel sizeof(struct nvme_command) */
export const NVME_COMMAND_SIZE = 64;
/** Bytes of a completion queue entry. @kernel sizeof(struct nvme_completion) */
export const NVME_COMPLETION_SIZE = 16;
/** What a 64-bit field reads as when it is not a safe integer. */
export const NVME_U64_INVALID = -1;


/** Admin: Keep Alive. @kernel nvme_admin_keep_alive */
export const nvme_admin_keep_alive = 0x18;
/** Fabrics command (admin and I/O queues), the type in `fctype`. @kernel nvme_fabrics_command */
export const nvme_fabrics_command = 0x7f;

/** Command flags: first command of a fused pair. @kernel NVME_CMD_FUSE_FIRST */
export const NVME_CMD_FUSE_FIRST = 1 << 0;
/** Command flags: second command of a fused pair. @kernel NVME_CMD_FUSE_SECOND */
export const NVME_CMD_FUSE_SECOND = 1 << 1;
/** Command flags: SGLs, metadata in one buffer (what fabrics hosts send). @kernel NVME_CMD_SGL_METABUF */
export const NVME_CMD_SGL_METABUF = 1 << 6;
/** Command flags: SGLs, metadata as a segment. @kernel NVME_CMD_SGL_METASEG */
export const NVME_CMD_SGL_METASEG = 1 << 7;
/** Command flags: the PSDT field. @kernel NVME_CMD_SGL_ALL */
export const NVME_CMD_SGL_ALL = NVME_CMD_SGL_METABUF | NVME_CMD_SGL_METASEG;

/** SGL descriptor type (high nibble): data block. @kernel NVME_SGL_FMT_DATA_DESC */
export const NVME_SGL_FMT_DATA_DESC = 0x00;
/** SGL descriptor type (high nibble): keyed data block (RDMA). @kernel NVME_KEY_SGL_FMT_DATA_DESC */
export const NVME_KEY_SGL_FMT_DATA_DESC = 0x04;
/** SGL subtype (low nibble): an address. @kernel NVME_SGL_FMT_ADDRESS */
export const NVME_SGL_FMT_ADDRESS = 0x00;
/** SGL subtype: an offset into the capsule's in-capsule data. @kernel NVME_SGL_FMT_OFFSET */
export const NVME_SGL_FMT_OFFSET = 0x01;
/** SGL subtype bit: invalidate the key after use (keyed descriptors). @kernel NVME_SGL_FMT_INVALIDATE */
export const NVME_SGL_FMT_INVALIDATE = 0x0f;


/** Byte offsets of the fields the model reads and writes (`struct nvme_command` unions). */
export const NVME_CMD_OFFSETS = {
  /** u8 opcode. */
  opcode: 0,
  /** u8 flags (FUSE, PSDT). */
  flags: 1,
  /** le16 command identifier. */
  commandId: 2,
  /** le32 namespace ID; in a fabrics command, byte 4 is `fctype`. */
  nsid: 4,
  /** u8 fabrics command type. */
  fctype: 4,
  /** 16-byte data pointer (SGL descriptor). */
  dptr: 24,
  /** le64 descriptor address. */
  sglAddr: 24,
  /** le24 length of a keyed descriptor, le32 of an unkeyed one. */
  sglLength: 32,
  /** le32 key of a keyed descriptor. */
  sglKey: 35,
  /** u8 descriptor type (type << 4 | subtype). */
  sglType: 39,
  /** le32 command dword 10 (11..15 follow). */
  cdw10: 40,
  /** le64 starting LBA of a Read/Write. */
  slba: 40,
  /** le16 number of logical blocks, zero based. */
  length: 48,
  /** le16 control (FUA, ...). */
  control: 50,
} as const;

const TWO_32 = 2 ** 32;
/** High half of 2^53, the first value that is not a safe integer. */
const HI_UNSAFE = 2 ** 21;

// 64-bit fields as two 32-bit halves: no BigInt allocation per access on the I/O path.
function readU64(dv: DataView, off: number): number {
  const hi = dv.getUint32(off + 4, true);
  return hi >= HI_UNSAFE ? NVME_U64_INVALID : hi * TWO_32 + dv.getUint32(off, true);
}

function writeU64(dv: DataView, off: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new KernelBug(`nvme_command: 64-bit field ${v} is not a non-negative safe integer`);
  dv.setUint32(off, v >>> 0, true);
  dv.setUint32(off + 4, Math.floor(v / TWO_32), true);
}

/**
 * One submission queue entry: 64 bytes with accessors for the fields the target and the
 * initiator use. The bytes are the capsule's; setters write them.
 * @kernel struct nvme_command
 */
export class NvmeCommand {
  /** The 64 bytes (owned by this object). */
  readonly bytes: Uint8Array;
  private readonly dv: DataView;

  /**
   * @param bytes 64 bytes to copy (default: all zero).
   * @throws KernelBug for a buffer that is not 64 bytes.
   */
  constructor(bytes?: Uint8Array) {
    if (bytes !== undefined && bytes.length !== NVME_COMMAND_SIZE) {
      throw new KernelBug(`nvme_command: ${bytes.length} bytes, expected ${NVME_COMMAND_SIZE}`);
    }
    const own = newEntryBytes(NVME_COMMAND_SIZE);
    if (bytes !== undefined) own.set(bytes);
    this.bytes = own;
    this.dv = new DataView(own.buffer, own.byteOffset, NVME_COMMAND_SIZE);
  }

  /** Opcode. */
  get opcode(): number {
    return this.bytes[NVME_CMD_OFFSETS.opcode]!;
  }
  set opcode(v: number) {
    this.bytes[NVME_CMD_OFFSETS.opcode] = v;
  }
  /** Flags (`NVME_CMD_*`). */
  get flags(): number {
    return this.bytes[NVME_CMD_OFFSETS.flags]!;
  }
  set flags(v: number) {
    this.bytes[NVME_CMD_OFFSETS.flags] = v;
  }
  /** Command identifier. */
  get commandId(): number {
    return this.dv.getUint16(NVME_CMD_OFFSETS.commandId, true);
  }
  set commandId(v: number) {
    this.dv.setUint16(NVME_CMD_OFFSETS.commandId, v, true);
  }
  /** Namespace ID (not meaningful in a fabrics command). */
  get nsid(): number {
    return this.dv.getUint32(NVME_CMD_OFFSETS.nsid, true);
  }
  set nsid(v: number) {
    this.dv.setUint32(NVME_CMD_OFFSETS.nsid, v >>> 0, true);
  }
  /** Fabrics command type (byte 4 of a `nvme_fabrics_command`). */
  get fctype(): number {
    return this.bytes[NVME_CMD_OFFSETS.fctype]!;
  }
  set fctype(v: number) {
    this.bytes[NVME_CMD_OFFSETS.fctype] = v;
  }
  /** SGL descriptor type byte (`type << 4 | subtype`). */
  get sglType(): number {
    return this.bytes[NVME_CMD_OFFSETS.sglType]!;
  }
  set sglType(v: number) {
    this.bytes[NVME_CMD_OFFSETS.sglType] = v;
  }
  /** SGL descriptor address (remote address for keyed, offset for in-capsule data). */
  get sglAddr(): number {
    return readU64(this.dv, NVME_CMD_OFFSETS.sglAddr);
  }
  set sglAddr(v: number) {
    writeU64(this.dv, NVME_CMD_OFFSETS.sglAddr, v);
  }
  /** Keyed descriptor length (24 bits). */
  get keyedSglLength(): number {
    const o = NVME_CMD_OFFSETS.sglLength;
    return this.bytes[o]! | (this.bytes[o + 1]! << 8) | (this.bytes[o + 2]! << 16);
  }
  set keyedSglLength(v: number) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffff) throw new KernelBug(`nvme_keyed_sgl_desc: length ${v} does not fit 24 bits`);
    const o = NVME_CMD_OFFSETS.sglLength;
    this.bytes[o] = v & 0xff;
    this.bytes[o + 1] = (v >>> 8) & 0xff;
    this.bytes[o + 2] = (v >>> 16) & 0xff;
  }
  /** Keyed descriptor key (the remote rkey). */
  get sglKey(): number {
    return this.dv.getUint32(NVME_CMD_OFFSETS.sglKey, true);
  }
  set sglKey(v: number) {
    this.dv.setUint32(NVME_CMD_OFFSETS.sglKey, v >>> 0, true);
  }
  /** Unkeyed descriptor length (32 bits). */
  get sglLength(): number {
    return this.dv.getUint32(NVME_CMD_OFFSETS.sglLength, true);
  }
  set sglLength(v: number) {
    this.dv.setUint32(NVME_CMD_OFFSETS.sglLength, v >>> 0, true);
  }
  /**
   * Command dword 10..15.
   * @param n 10 to 15.
   * @returns the dword.
   */
  cdw(n: number): number {
    return this.dv.getUint32(this.cdwOffset(n), true);
  }
  /**
   * Sets command dword 10..15.
   * @param n 10 to 15.
   * @param v the value (u32).
   */
  setCdw(n: number, v: number): void {
    this.dv.setUint32(this.cdwOffset(n), v >>> 0, true);
  }
  /** Byte `i` of the command (`0..63`). @param i offset. @returns the byte. */
  u8(i: number): number {
    return this.bytes[i] ?? 0;
  }
  /** Little-endian u16 at a byte offset. @param off offset. @returns the value. */
  u16(off: number): number {
    return this.dv.getUint16(off, true);
  }
  /** Little-endian u32 at a byte offset. @param off offset. @returns the value. */
  u32(off: number): number {
    return this.dv.getUint32(off, true);
  }
  /** Little-endian u64 at a byte offset. @param off offset. @returns the value or `NVME_U64_INVALID`. */
  u64(off: number): number {
    return readU64(this.dv, off);
  }
  /** Writes a byte. @param off offset. @param v value. */
  setU8(off: number, v: number): void {
    this.bytes[off] = v;
  }
  /** Writes a little-endian u16. @param off offset. @param v value. */
  setU16(off: number, v: number): void {
    this.dv.setUint16(off, v, true);
  }
  /** Writes a little-endian u32. @param off offset. @param v value. */
  setU32(off: number, v: number): void {
    this.dv.setUint32(off, v >>> 0, true);
  }
  /** Writes a little-endian u64. @param off offset. @param v a non-negative safe integer. */
  setU64(off: number, v: number): void {
    writeU64(this.dv, off, v);
  }
  /** Starting LBA of a Read/Write. */
  get slba(): number {
    return readU64(this.dv, NVME_CMD_OFFSETS.slba);
  }
  set slba(v: number) {
    writeU64(this.dv, NVME_CMD_OFFSETS.slba, v);
  }
  /** Number of logical blocks minus one, of a Read/Write. */
  get length(): number {
    return this.dv.getUint16(NVME_CMD_OFFSETS.length, true);
  }
  set length(v: number) {
    this.dv.setUint16(NVME_CMD_OFFSETS.length, v, true);
  }
  /** Read/Write control (`NVME_RW_FUA`, ...). */
  get control(): number {
    return this.dv.getUint16(NVME_CMD_OFFSETS.control, true);
  }
  set control(v: number) {
    this.dv.setUint16(NVME_CMD_OFFSETS.control, v, true);
  }

  private cdwOffset(n: number): number {
    if (!Number.isInteger(n) || n < 10 || n > 15) throw new KernelBug(`nvme_command: cdw${n} is not a command dword 10..15`);
    return NVME_CMD_OFFSETS.cdw10 + (n - 10) * 4;
  }
}

/**
 * A zeroed command as a fabrics host starts one: PSDT = SGL with a metadata buffer
 * (`NVME_CMD_SGL_METABUF`), which is what the target requires.
 * @returns the command.
 * @kernel nvme_rdma_queue_rq (c->common.flags |= NVME_CMD_SGL_METABUF)
 */
export function nvmeHostCommand(): NvmeCommand {
  const c = new NvmeCommand();
  c.flags = NVME_CMD_SGL_METABUF;
  return c;
}

/**
 * A Read or Write command.
 * @param opts direction, namespace, first LBA, number of LBAs (≥ 1), Force Unit Access.
 * @returns the command (data pointer empty).
 * @throws RangeError for an LBA count outside 1..65536.
 * @kernel nvme_setup_rw (host side)
 */
export function nvmeRwCommand(opts: { write: boolean; nsid: number; slba: number; nlb: number; fua?: boolean }): NvmeCommand {
  if (!Number.isInteger(opts.nlb) || opts.nlb < 1 || opts.nlb > 0x10000) throw new RangeError(`nvmeRwCommand: nlb ${opts.nlb} is outside 1..65536`);
  const c = nvmeHostCommand();
  c.opcode = opts.write ? nvme_cmd_write : nvme_cmd_read;
  c.nsid = opts.nsid;
  c.slba = opts.slba;
  c.length = opts.nlb - 1;
  if (opts.fua === true) c.control = NVME_RW_FUA;
  return c;
}

/**
 * A command without data or parameters (Flush on a namespace, Keep Alive, Asynchronous Event
 * Request).
 * @param opcode the opcode.
 * @param nsid the namespace (0 for admin commands).
 * @returns the command.
 */
export function nvmeSimpleCommand(opcode: number, nsid = 0): NvmeCommand {
  const c = nvmeHostCommand();
  c.opcode = opcode;
  c.nsid = nsid;
  return c;
}

/**
 * Whether a command moves data from the host to the controller: the opcode's low bit, except
 * for a fabrics command, whose direction is in `fctype`.
 * @param cmd the command.
 * @returns `true` for host-to-controller data.
 * @kernel nvme_is_write
 */
export function nvmeIsWrite(cmd: NvmeCommand): boolean {
  if (cmd.opcode === nvme_fabrics_command) return (cmd.fctype & 1) !== 0;
  return (cmd.opcode & 1) !== 0;
}

/**
 * A completion queue entry.
 * @kernel struct nvme_completion
 */
export class NvmeCompletion {
  /** Command-specific result (`result.u16/u32/u64`, little endian in the first 8 bytes). */
  result = 0;
  /** Submission queue head pointer. */
  sqHead = 0;
  /** Submission queue identifier. */
  sqId = 0;
  /** The command identifier it completes. */
  commandId = 0;
  /** The status in the kernel encoding (the entry holds `status << 1`). */
  status: NvmeStatus = 0;

  /**
   * The 16 bytes of the entry (phase tag 0, as fabrics send it).
   * @returns a new buffer.
   */
  encode(): Uint8Array {
    const out = newEntryBytes(NVME_COMPLETION_SIZE);
    const dv = new DataView(out.buffer, out.byteOffset, NVME_COMPLETION_SIZE);
    writeU64(dv, 0, this.result);
    dv.setUint16(8, this.sqHead, true);
    dv.setUint16(10, this.sqId, true);
    dv.setUint16(12, this.commandId, true);
    dv.setUint16(14, (this.status << 1) & 0xffff, true);
    return out;
  }

  /**
   * Parses an entry.
   * @param bytes at least 16 bytes.
   * @returns the completion.
   * @throws KernelBug for fewer than 16 bytes.
   */
  static decode(bytes: Uint8Array): NvmeCompletion {
    if (bytes.length < NVME_COMPLETION_SIZE) throw new KernelBug(`nvme_completion: ${bytes.length} bytes, expected ${NVME_COMPLETION_SIZE}`);
    // Read on the bytes: a DataView would move a small on-heap array off-heap first.
    const b = bytes;
    const c = new NvmeCompletion();
    const hi = (b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)) >>> 0;
    const lo = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
    c.result = hi >= HI_UNSAFE ? NVME_U64_INVALID : hi * TWO_32 + lo;
    c.sqHead = b[8]! | (b[9]! << 8);
    c.sqId = b[10]! | (b[11]! << 8);
    c.commandId = b[12]! | (b[13]! << 8);
    c.status = (b[14]! | (b[15]! << 8)) >>> 1;
    return c;
  }
}


/** NVMe definitions shared with the host driver (include/linux/nvme.h), re-exported. */
export { NVME_RW_FUA, nvme_admin_abort_cmd, nvme_admin_async_event, nvme_admin_get_features, nvme_admin_get_log_page, nvme_admin_identify, nvme_admin_set_features, nvme_cmd_dsm, nvme_cmd_flush, nvme_cmd_read, nvme_cmd_write, nvme_cmd_write_zeroes };