/**
 * PCI configuration space: 4 KiB per function (256 bytes of header and capabilities, then the
 * PCI Express extended space), held in a `DataView`, with typed register tables saying what each
 * register is and what a write does.
 *
 * Write semantics follow the hardware, byte by byte, through two masks built from the register
 * tables: bits in the write mask take the written value, bits in the write-1-to-clear mask are
 * cleared where a one is written, every other bit keeps its value. BAR sizing therefore works as
 * on real hardware: write all-ones, read back the size mask with the type bits. A write to a
 * register that is entirely read-only changes nothing and is reported to the owner (which logs it
 * at debug level); it never throws.
 *
 * @kernel include/uapi/linux/pci_regs.h (offsets and fields), drivers/pci/access.c (semantics)
 */

/** Size of the conventional configuration space. @kernel PCI_CFG_SPACE_SIZE */
export const PCI_CFG_SPACE_SIZE = 256;
/** Size of the PCI Express configuration space. @kernel PCI_CFG_SPACE_EXP_SIZE */
export const PCI_CFG_SPACE_EXP_SIZE = 4096;

/** Vendor ID (16 bits, read-only). @kernel PCI_VENDOR_ID */
export const PCI_VENDOR_ID = 0x00;
/** Device ID (16 bits, read-only). @kernel PCI_DEVICE_ID */
export const PCI_DEVICE_ID = 0x02;
/** Command register (16 bits). @kernel PCI_COMMAND */
export const PCI_COMMAND = 0x04;
/** Status register (16 bits, error bits write-1-to-clear). @kernel PCI_STATUS */
export const PCI_STATUS = 0x06;
/** Class code (high 24 bits) and revision (low 8 bits) as one dword. @kernel PCI_CLASS_REVISION */
export const PCI_CLASS_REVISION = 0x08;
/** Revision ID (8 bits). @kernel PCI_REVISION_ID */
export const PCI_REVISION_ID = 0x08;
/** Programming interface (8 bits). @kernel PCI_CLASS_PROG */
export const PCI_CLASS_PROG = 0x09;
/** Base class and sub-class (16 bits). @kernel PCI_CLASS_DEVICE */
export const PCI_CLASS_DEVICE = 0x0a;
/** Cache line size (8 bits). @kernel PCI_CACHE_LINE_SIZE */
export const PCI_CACHE_LINE_SIZE = 0x0c;
/** Latency timer (8 bits). @kernel PCI_LATENCY_TIMER */
export const PCI_LATENCY_TIMER = 0x0d;
/** Header type (8 bits: layout in bits 6:0, multi-function in bit 7). @kernel PCI_HEADER_TYPE */
export const PCI_HEADER_TYPE = 0x0e;
/** Built-in self test (8 bits). @kernel PCI_BIST */
export const PCI_BIST = 0x0f;
/** BAR 0. @kernel PCI_BASE_ADDRESS_0 */
export const PCI_BASE_ADDRESS_0 = 0x10;
/** BAR 1. @kernel PCI_BASE_ADDRESS_1 */
export const PCI_BASE_ADDRESS_1 = 0x14;
/** BAR 2 (type 0 only). @kernel PCI_BASE_ADDRESS_2 */
export const PCI_BASE_ADDRESS_2 = 0x18;
/** BAR 3 (type 0 only). @kernel PCI_BASE_ADDRESS_3 */
export const PCI_BASE_ADDRESS_3 = 0x1c;
/** BAR 4 (type 0 only). @kernel PCI_BASE_ADDRESS_4 */
export const PCI_BASE_ADDRESS_4 = 0x20;
/** BAR 5 (type 0 only). @kernel PCI_BASE_ADDRESS_5 */
export const PCI_BASE_ADDRESS_5 = 0x24;
/** CardBus CIS pointer. @kernel PCI_CARDBUS_CIS */
export const PCI_CARDBUS_CIS = 0x28;
/** Subsystem vendor ID (type 0). @kernel PCI_SUBSYSTEM_VENDOR_ID */
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
/** Subsystem ID (type 0). @kernel PCI_SUBSYSTEM_ID */
export const PCI_SUBSYSTEM_ID = 0x2e;
/** Expansion ROM BAR (type 0). @kernel PCI_ROM_ADDRESS */
export const PCI_ROM_ADDRESS = 0x30;
/** Offset of the first capability (8 bits). @kernel PCI_CAPABILITY_LIST */
export const PCI_CAPABILITY_LIST = 0x34;
/** Interrupt line (8 bits). @kernel PCI_INTERRUPT_LINE */
export const PCI_INTERRUPT_LINE = 0x3c;
/** Interrupt pin (8 bits). @kernel PCI_INTERRUPT_PIN */
export const PCI_INTERRUPT_PIN = 0x3d;
/** Min grant (type 0). @kernel PCI_MIN_GNT */
export const PCI_MIN_GNT = 0x3e;
/** Max latency (type 0). @kernel PCI_MAX_LAT */
export const PCI_MAX_LAT = 0x3f;

/** Type 1: primary bus number. @kernel PCI_PRIMARY_BUS */
export const PCI_PRIMARY_BUS = 0x18;
/** Type 1: secondary bus number. @kernel PCI_SECONDARY_BUS */
export const PCI_SECONDARY_BUS = 0x19;
/** Type 1: subordinate (highest) bus number. @kernel PCI_SUBORDINATE_BUS */
export const PCI_SUBORDINATE_BUS = 0x1a;
/** Type 1: secondary latency timer. @kernel PCI_SEC_LATENCY_TIMER */
export const PCI_SEC_LATENCY_TIMER = 0x1b;
/** Type 1: I/O base, address bits 15:12 in bits 7:4. @kernel PCI_IO_BASE */
export const PCI_IO_BASE = 0x1c;
/** Type 1: I/O limit. @kernel PCI_IO_LIMIT */
export const PCI_IO_LIMIT = 0x1d;
/** Type 1: secondary status. @kernel PCI_SEC_STATUS */
export const PCI_SEC_STATUS = 0x1e;
/** Type 1: memory base, bus address bits 31:20 in bits 15:4. @kernel PCI_MEMORY_BASE */
export const PCI_MEMORY_BASE = 0x20;
/** Type 1: memory limit. @kernel PCI_MEMORY_LIMIT */
export const PCI_MEMORY_LIMIT = 0x22;
/** Type 1: prefetchable memory base (bits 3:0 = 1: 64-bit). @kernel PCI_PREF_MEMORY_BASE */
export const PCI_PREF_MEMORY_BASE = 0x24;
/** Type 1: prefetchable memory limit. @kernel PCI_PREF_MEMORY_LIMIT */
export const PCI_PREF_MEMORY_LIMIT = 0x26;
/** Type 1: upper 32 bits of the prefetchable base. @kernel PCI_PREF_BASE_UPPER32 */
export const PCI_PREF_BASE_UPPER32 = 0x28;
/** Type 1: upper 32 bits of the prefetchable limit. @kernel PCI_PREF_LIMIT_UPPER32 */
export const PCI_PREF_LIMIT_UPPER32 = 0x2c;
/** Type 1: upper 16 bits of the I/O base. @kernel PCI_IO_BASE_UPPER16 */
export const PCI_IO_BASE_UPPER16 = 0x30;
/** Type 1: upper 16 bits of the I/O limit. @kernel PCI_IO_LIMIT_UPPER16 */
export const PCI_IO_LIMIT_UPPER16 = 0x32;
/** Type 1: expansion ROM BAR. @kernel PCI_ROM_ADDRESS1 */
export const PCI_ROM_ADDRESS1 = 0x38;
/** Type 1: bridge control. @kernel PCI_BRIDGE_CONTROL */
export const PCI_BRIDGE_CONTROL = 0x3e;

/** Command: respond to I/O space accesses. @kernel PCI_COMMAND_IO */
export const PCI_COMMAND_IO = 0x1;
/** Command: respond to memory space accesses. @kernel PCI_COMMAND_MEMORY */
export const PCI_COMMAND_MEMORY = 0x2;
/** Command: bus mastering (DMA). @kernel PCI_COMMAND_MASTER */
export const PCI_COMMAND_MASTER = 0x4;
/** Command: parity error response. @kernel PCI_COMMAND_PARITY */
export const PCI_COMMAND_PARITY = 0x40;
/** Command: SERR# enable. @kernel PCI_COMMAND_SERR */
export const PCI_COMMAND_SERR = 0x100;
/** Command: INTx emulation disable. @kernel PCI_COMMAND_INTX_DISABLE */
export const PCI_COMMAND_INTX_DISABLE = 0x400;

/** Status: a capability list is present. @kernel PCI_STATUS_CAP_LIST */
export const PCI_STATUS_CAP_LIST = 0x10;
/** Status bits that are write-1-to-clear (master/target aborts, parity, SERR). */
export const PCI_STATUS_ERROR_BITS = 0xf900;

/** Header type: the layout field. @kernel PCI_HEADER_TYPE_MASK */
export const PCI_HEADER_TYPE_MASK = 0x7f;
/** Header type 0: endpoint. @kernel PCI_HEADER_TYPE_NORMAL */
export const PCI_HEADER_TYPE_NORMAL = 0;
/** Header type 1: PCI-to-PCI bridge. @kernel PCI_HEADER_TYPE_BRIDGE */
export const PCI_HEADER_TYPE_BRIDGE = 1;
/** Header type bit 7: multi-function device. @kernel PCI_HEADER_TYPE_MFD */
export const PCI_HEADER_TYPE_MFD = 0x80;

/** BAR bit 0: I/O space. @kernel PCI_BASE_ADDRESS_SPACE_IO */
export const PCI_BASE_ADDRESS_SPACE_IO = 0x01;
/** BAR bits 2:1 = 10b: 64-bit memory BAR. @kernel PCI_BASE_ADDRESS_MEM_TYPE_64 */
export const PCI_BASE_ADDRESS_MEM_TYPE_64 = 0x04;
/** BAR bit 3: prefetchable memory. @kernel PCI_BASE_ADDRESS_MEM_PREFETCH */
export const PCI_BASE_ADDRESS_MEM_PREFETCH = 0x08;
/** Low bits of a memory BAR that are type bits, not address. */
export const PCI_BASE_ADDRESS_MEM_FLAG_BITS = 0x0f;
/** Low bits of an I/O BAR that are type bits, not address. */
export const PCI_BASE_ADDRESS_IO_FLAG_BITS = 0x03;

/** Memory base/limit: the address nibble mask (bits 15:4). @kernel PCI_MEMORY_RANGE_MASK */
export const PCI_MEMORY_RANGE_MASK = 0xfff0;
/** Prefetchable base/limit type field value: 64-bit. @kernel PCI_PREF_RANGE_TYPE_64 */
export const PCI_PREF_RANGE_TYPE_64 = 0x01;
/** I/O base/limit type field value: 32-bit I/O addressing. @kernel PCI_IO_RANGE_TYPE_32 */
export const PCI_IO_RANGE_TYPE_32 = 0x01;

/**
 * Register access types: `ro` read-only (writes ignored), `rw` read-write, `rw1c` write 1 to
 * clear, `rws` read-write with a size mask (BARs: low bits follow the BAR size).
 */
export type RegAccess = 'ro' | 'rw' | 'rw1c' | 'rws';

/** One register of a register table. Offsets are relative to the table's base. */
export interface ConfigRegister {
  /** Offset from the structure's base. */
  readonly offset: number;
  /** Width in bytes. */
  readonly width: 1 | 2 | 4;
  /** Kernel name of the register (`PCI_COMMAND`). */
  readonly name: string;
  /** Access type. */
  readonly access: RegAccess;
  /** Writable bits for `rw`/`rws` (default: all), clearable bits for `rw1c`. */
  readonly mask?: number;
  /** What a write does in the model. */
  readonly effect: string;
}

const STORED = 'stored; no other effect in the model';

/** Registers common to both header types (offsets 0x00-0x0f, 0x34, 0x3c-0x3d). */
const COMMON_HEADER: readonly ConfigRegister[] = [
  { offset: PCI_VENDOR_ID, width: 2, name: 'PCI_VENDOR_ID', access: 'ro', effect: 'none (read-only)' },
  { offset: PCI_DEVICE_ID, width: 2, name: 'PCI_DEVICE_ID', access: 'ro', effect: 'none (read-only)' },
  {
    offset: PCI_COMMAND,
    width: 2,
    name: 'PCI_COMMAND',
    access: 'rw',
    mask: 0x0547,
    effect: STORED + ' (the fabric does not gate decode or bus mastering on it)',
  },
  { offset: PCI_STATUS, width: 2, name: 'PCI_STATUS', access: 'rw1c', mask: PCI_STATUS_ERROR_BITS, effect: 'error bits cleared by writing 1' },
  { offset: PCI_REVISION_ID, width: 1, name: 'PCI_REVISION_ID', access: 'ro', effect: 'none (read-only)' },
  { offset: PCI_CLASS_PROG, width: 1, name: 'PCI_CLASS_PROG', access: 'ro', effect: 'none (read-only)' },
  { offset: PCI_CLASS_DEVICE, width: 2, name: 'PCI_CLASS_DEVICE', access: 'ro', effect: 'none (read-only)' },
  { offset: PCI_CACHE_LINE_SIZE, width: 1, name: 'PCI_CACHE_LINE_SIZE', access: 'rw', effect: STORED },
  { offset: PCI_LATENCY_TIMER, width: 1, name: 'PCI_LATENCY_TIMER', access: 'rw', effect: STORED },
  { offset: PCI_HEADER_TYPE, width: 1, name: 'PCI_HEADER_TYPE', access: 'ro', effect: 'none (read-only)' },
  { offset: PCI_BIST, width: 1, name: 'PCI_BIST', access: 'ro', effect: 'none (BIST not implemented)' },
  { offset: PCI_CAPABILITY_LIST, width: 1, name: 'PCI_CAPABILITY_LIST', access: 'ro', effect: 'none (read-only)' },
  { offset: PCI_INTERRUPT_LINE, width: 1, name: 'PCI_INTERRUPT_LINE', access: 'rw', effect: STORED },
  { offset: PCI_INTERRUPT_PIN, width: 1, name: 'PCI_INTERRUPT_PIN', access: 'ro', effect: 'none (read-only)' },
];

const BAR_EFFECT =
  'sizing: the address bits below the BAR size read as zero, so writing all-ones reads back the size mask; ' +
  'the fabric decodes the assigned resource, not later BAR writes';

function barRegisters(count: number): ConfigRegister[] {
  const out: ConfigRegister[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ offset: PCI_BASE_ADDRESS_0 + 4 * i, width: 4, name: `PCI_BASE_ADDRESS_${i}`, access: 'rws', effect: BAR_EFFECT });
  }
  return out;
}

/**
 * The type 0 (endpoint) header's registers.
 * @kernel pci_regs.h, "Header type 0 (normal devices)"
 */
export const PCI_TYPE0_REGISTERS: readonly ConfigRegister[] = [
  ...COMMON_HEADER,
  ...barRegisters(6),
  { offset: PCI_CARDBUS_CIS, width: 4, name: 'PCI_CARDBUS_CIS', access: 'ro', effect: 'none (read-only)' },
  { offset: PCI_SUBSYSTEM_VENDOR_ID, width: 2, name: 'PCI_SUBSYSTEM_VENDOR_ID', access: 'ro', effect: 'none (read-only)' },
  { offset: PCI_SUBSYSTEM_ID, width: 2, name: 'PCI_SUBSYSTEM_ID', access: 'ro', effect: 'none (read-only)' },
  { offset: PCI_ROM_ADDRESS, width: 4, name: 'PCI_ROM_ADDRESS', access: 'ro', effect: 'none (no expansion ROM is modelled)' },
  { offset: PCI_MIN_GNT, width: 1, name: 'PCI_MIN_GNT', access: 'ro', effect: 'none (read-only)' },
  { offset: PCI_MAX_LAT, width: 1, name: 'PCI_MAX_LAT', access: 'ro', effect: 'none (read-only)' },
];

const BUS_EFFECT = 'stored; the model keeps the bus topology it enumerated';
const WINDOW_EFFECT = 'stored; the fabric decodes the bridge window resources assigned at enumeration';

/**
 * The type 1 (PCI-to-PCI bridge) header's registers.
 * @kernel pci_regs.h, "Header type 1 (PCI-to-PCI bridges)"
 */
export const PCI_TYPE1_REGISTERS: readonly ConfigRegister[] = [
  ...COMMON_HEADER,
  ...barRegisters(2),
  { offset: PCI_PRIMARY_BUS, width: 1, name: 'PCI_PRIMARY_BUS', access: 'rw', effect: BUS_EFFECT },
  { offset: PCI_SECONDARY_BUS, width: 1, name: 'PCI_SECONDARY_BUS', access: 'rw', effect: BUS_EFFECT },
  { offset: PCI_SUBORDINATE_BUS, width: 1, name: 'PCI_SUBORDINATE_BUS', access: 'rw', effect: BUS_EFFECT },
  { offset: PCI_SEC_LATENCY_TIMER, width: 1, name: 'PCI_SEC_LATENCY_TIMER', access: 'rw', effect: STORED },
  { offset: PCI_IO_BASE, width: 1, name: 'PCI_IO_BASE', access: 'rw', mask: 0xf0, effect: WINDOW_EFFECT },
  { offset: PCI_IO_LIMIT, width: 1, name: 'PCI_IO_LIMIT', access: 'rw', mask: 0xf0, effect: WINDOW_EFFECT },
  { offset: PCI_SEC_STATUS, width: 2, name: 'PCI_SEC_STATUS', access: 'rw1c', mask: PCI_STATUS_ERROR_BITS, effect: 'error bits cleared by writing 1' },
  { offset: PCI_MEMORY_BASE, width: 2, name: 'PCI_MEMORY_BASE', access: 'rw', mask: PCI_MEMORY_RANGE_MASK, effect: WINDOW_EFFECT },
  { offset: PCI_MEMORY_LIMIT, width: 2, name: 'PCI_MEMORY_LIMIT', access: 'rw', mask: PCI_MEMORY_RANGE_MASK, effect: WINDOW_EFFECT },
  { offset: PCI_PREF_MEMORY_BASE, width: 2, name: 'PCI_PREF_MEMORY_BASE', access: 'rw', mask: PCI_MEMORY_RANGE_MASK, effect: WINDOW_EFFECT },
  { offset: PCI_PREF_MEMORY_LIMIT, width: 2, name: 'PCI_PREF_MEMORY_LIMIT', access: 'rw', mask: PCI_MEMORY_RANGE_MASK, effect: WINDOW_EFFECT },
  { offset: PCI_PREF_BASE_UPPER32, width: 4, name: 'PCI_PREF_BASE_UPPER32', access: 'rw', effect: WINDOW_EFFECT },
  { offset: PCI_PREF_LIMIT_UPPER32, width: 4, name: 'PCI_PREF_LIMIT_UPPER32', access: 'rw', effect: WINDOW_EFFECT },
  { offset: PCI_IO_BASE_UPPER16, width: 2, name: 'PCI_IO_BASE_UPPER16', access: 'rw', effect: WINDOW_EFFECT },
  { offset: PCI_IO_LIMIT_UPPER16, width: 2, name: 'PCI_IO_LIMIT_UPPER16', access: 'rw', effect: WINDOW_EFFECT },
  { offset: PCI_ROM_ADDRESS1, width: 4, name: 'PCI_ROM_ADDRESS1', access: 'ro', effect: 'none (no expansion ROM is modelled)' },
  { offset: PCI_BRIDGE_CONTROL, width: 2, name: 'PCI_BRIDGE_CONTROL', access: 'rw', mask: 0x0fff, effect: STORED },
];

/** Why a write was not (fully) applied, reported to the `ConfigSpace` owner. */
export interface IgnoredWrite {
  /** First byte written. */
  readonly offset: number;
  /** Width of the access in bytes. */
  readonly width: 1 | 2 | 4;
  /** The value written. */
  readonly value: number;
  /** Name of the register hit (`PCI_VENDOR_ID`, `PCI_EXP_LNKSTA`), or a hex offset. */
  readonly register: string;
}

/** Called after every applied write (used to invalidate cached routing on ACS changes). */
export type ConfigWriteListener = (offset: number, width: 1 | 2 | 4) => void;

interface Placed {
  readonly base: number;
  readonly reg: ConfigRegister;
}

/**
 * One function's configuration space. Values are little-endian. Initial contents are set with
 * the `init*` methods (firmware/hardware state, bypassing the write masks); accesses go through
 * `read`/`write` with the hardware's masks.
 * @kernel struct pci_dev's config space as seen through pci_ops
 */
export class ConfigSpace {
  /** The raw bytes. */
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly wmask: Uint8Array;
  private readonly w1cmask: Uint8Array;
  private readonly regs: Placed[] = [];
  private readonly byteReg: Int16Array;
  private readonly listeners: ConfigWriteListener[] = [];

  /**
   * @param size bytes of configuration space (4096 for PCI Express functions, 256 otherwise).
   * @param onIgnoredWrite called when a write hits only read-only bits (the owner logs it).
   */
  constructor(
    readonly size: number = PCI_CFG_SPACE_EXP_SIZE,
    private readonly onIgnoredWrite: (w: IgnoredWrite) => void = () => {},
  ) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
    this.wmask = new Uint8Array(size);
    this.w1cmask = new Uint8Array(size);
    this.byteReg = new Int16Array(size).fill(-1);
  }

  /**
   * Declares registers at a base offset: sets their write masks and names.
   * @param base offset of the structure (0 for the header, the capability offset otherwise).
   * @param table the registers.
   * @param sizeMasks for `rws` registers: writable mask by register offset (BAR size masks).
   */
  defineRegisters(base: number, table: readonly ConfigRegister[], sizeMasks: ReadonlyMap<number, number> = new Map()): void {
    for (const reg of table) {
      const at = base + reg.offset;
      const idx = this.regs.length;
      this.regs.push({ base, reg });
      let w = 0;
      let c = 0;
      const all = reg.width === 4 ? 0xffffffff : reg.width === 2 ? 0xffff : 0xff;
      if (reg.access === 'rw') w = reg.mask ?? all;
      else if (reg.access === 'rw1c') c = reg.mask ?? all;
      else if (reg.access === 'rws') w = sizeMasks.get(reg.offset) ?? 0;
      for (let i = 0; i < reg.width; i++) {
        this.wmask[at + i] = (w >>> (8 * i)) & 0xff;
        this.w1cmask[at + i] = (c >>> (8 * i)) & 0xff;
        this.byteReg[at + i] = idx;
      }
    }
  }

  /**
   * Sets the writable mask of one declared `rws`/`rw` register (BAR sizing masks, ACS control
   * bits the capability implements).
   * @param offset absolute offset of the register.
   * @param width its width.
   * @param mask the writable bits.
   */
  setWriteMask(offset: number, width: 1 | 2 | 4, mask: number): void {
    for (let i = 0; i < width; i++) this.wmask[offset + i] = (mask >>> (8 * i)) & 0xff;
  }

  /**
   * The register covering a byte.
   * @param offset absolute offset.
   * @returns the register and its base, or `null` for undeclared bytes.
   */
  registerAt(offset: number): { base: number; reg: ConfigRegister } | null {
    const idx = this.byteReg[offset];
    return idx === undefined || idx < 0 ? null : this.regs[idx]!;
  }

  /** Every declared register with its absolute offset, in declaration order. */
  registers(): Array<{ offset: number; reg: ConfigRegister }> {
    return this.regs.map((p) => ({ offset: p.base + p.reg.offset, reg: p.reg }));
  }

  /**
   * Adds a listener called after each write.
   * @param fn the listener.
   */
  onWrite(fn: ConfigWriteListener): void {
    this.listeners.push(fn);
  }

  /** Sets an 8-bit value, bypassing the write masks (hardware/firmware state). */
  init8(offset: number, value: number): void {
    this.view.setUint8(offset, value & 0xff);
  }
  /** Sets a 16-bit value, bypassing the write masks. */
  init16(offset: number, value: number): void {
    this.view.setUint16(offset, value & 0xffff, true);
  }
  /** Sets a 32-bit value, bypassing the write masks. */
  init32(offset: number, value: number): void {
    this.view.setUint32(offset, value >>> 0, true);
  }

  /**
   * Reads a naturally aligned value (the caller checks alignment and range).
   * @param offset absolute offset.
   * @param width 1, 2 or 4 bytes.
   * @returns the value, unsigned.
   */
  read(offset: number, width: 1 | 2 | 4): number {
    if (width === 1) return this.view.getUint8(offset);
    if (width === 2) return this.view.getUint16(offset, true);
    return this.view.getUint32(offset, true);
  }

  /**
   * Writes a value with the hardware's masks. Bits outside the write and write-1-to-clear masks
   * keep their value; a write that hits only read-only bytes with a different value is reported
   * through `onIgnoredWrite`.
   * @param offset absolute offset (the caller checks alignment and range).
   * @param width 1, 2 or 4 bytes.
   * @param value the value.
   */
  write(offset: number, width: 1 | 2 | 4, value: number): void {
    let writable = false;
    let differs = false;
    for (let i = 0; i < width; i++) {
      const at = offset + i;
      const v = (value >>> (8 * i)) & 0xff;
      const old = this.bytes[at]!;
      const w = this.wmask[at]!;
      const c = this.w1cmask[at]!;
      if (w !== 0 || c !== 0) writable = true;
      if (v !== old) differs = true;
      this.bytes[at] = ((old & ~w) | (v & w)) & ~(v & c) & 0xff;
    }
    if (!writable) {
      if (differs) {
        const r = this.registerAt(offset);
        this.onIgnoredWrite({ offset, width, value, register: r === null ? `0x${offset.toString(16)}` : r.reg.name });
      }
      return;
    }
    for (const fn of this.listeners) fn(offset, width);
  }
}
