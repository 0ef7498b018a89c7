/**
 * A device register file described as a typed table: each register has an offset, a width, a
 * name, an access type and its read/write behaviour. CPU accesses arrive as MMIO byte ranges
 * and are dispatched here: aligned 32-bit accesses, and 64-bit accesses to 64-bit registers.
 *
 * A misbehaving driver never crashes the device: writes to read-only or unknown registers,
 * misaligned or odd-sized accesses are reported through `warn` and ignored (reads of them
 * return zeros, as reserved registers read).
 *
 * @kernel (hardware) NVMe 1.3 section 3.1 register access rules
 */

/** How a register reacts to writes. */
export type RegAccess = 'RO' | 'RW' | 'RW1C' | 'RW1S' | 'WO';

/** One register. */
export interface RegisterDef<C> {
  /** Byte offset in the BAR. */
  readonly offset: number;
  /** Width in bytes. */
  readonly width: 4 | 8;
  /** Short name (`CC`). */
  readonly name: string;
  /** Access type. */
  readonly access: RegAccess;
  /** The spec's long name. */
  readonly description: string;
  /**
   * The current value (write-only registers read 0).
   * @param ctx the device.
   * @returns the value.
   */
  read(ctx: C): bigint;
  /**
   * Applies a write (not called for `RO`). For `RW1C`/`RW1S` registers `value` is the bits
   * written; for `RW` it is the whole new value (a 32-bit write to half of a 64-bit register is
   * merged with the other half first).
   * @param ctx the device.
   * @param value the value written.
   */
  write?(ctx: C, value: bigint): void;
}

/** A register file over a table. */
export class RegisterFile<C> {
  private readonly byOffset = new Map<number, RegisterDef<C>>();

  /**
   * @param table the registers (non-overlapping).
   * @param ctx handed to each register's read/write.
   * @param warn reports a misbehaving access (one line, no trailing newline).
   */
  constructor(
    readonly table: readonly RegisterDef<C>[],
    private readonly ctx: C,
    private readonly warn: (msg: string) => void,
  ) {
    for (const r of table) this.byOffset.set(r.offset, r);
  }

  /**
   * The register holding an offset.
   * @param offset a byte offset.
   * @returns the register and the byte position inside it, or `null`.
   */
  find(offset: number): { reg: RegisterDef<C>; at: number } | null {
    const r = this.byOffset.get(offset);
    if (r !== undefined) return { reg: r, at: 0 };
    const lo = this.byOffset.get(offset - 4);
    if (lo !== undefined && lo.width === 8) return { reg: lo, at: 4 };
    return null;
  }

  /**
   * A CPU load.
   * @param offset byte offset.
   * @param out filled with the value (little endian), or zeros for a bad access.
   */
  read(offset: number, out: Uint8Array): void {
    const hit = this.checkAccess(offset, out.length, 'read');
    if (hit === null) {
      out.fill(0);
      return;
    }
    const v = hit.reg.read(this.ctx) >> BigInt(hit.at * 8);
    writeLe(out, v);
  }

  /**
   * A CPU store.
   * @param offset byte offset.
   * @param data the bytes (little endian).
   */
  write(offset: number, data: Uint8Array): void {
    const hit = this.checkAccess(offset, data.length, 'write');
    if (hit === null) return;
    const { reg, at } = hit;
    if (reg.access === 'RO' || reg.write === undefined) {
      this.warn(`write of 0x${readLe(data).toString(16)} to read-only register ${reg.name} (0x${reg.offset.toString(16)}) ignored`);
      return;
    }
    let value = readLe(data) << BigInt(at * 8);
    if (reg.access === 'RW' && data.length < reg.width) {
      const mask = ((1n << BigInt(data.length * 8)) - 1n) << BigInt(at * 8);
      value = (reg.read(this.ctx) & ~mask) | value;
    }
    reg.write(this.ctx, value);
  }

  private checkAccess(offset: number, len: number, what: 'read' | 'write'): { reg: RegisterDef<C>; at: number } | null {
    if ((len !== 4 && len !== 8) || offset % len !== 0) {
      this.warn(`${len}-byte ${what} at 0x${offset.toString(16)} is not an aligned 32- or 64-bit access; ignored`);
      return null;
    }
    const hit = this.find(offset);
    if (hit === null) {
      if (what === 'write') this.warn(`${what} at 0x${offset.toString(16)}: no register there; ignored`);
      return null;
    }
    if (hit.at + len > hit.reg.width) {
      this.warn(`${len}-byte ${what} at 0x${offset.toString(16)} runs past register ${hit.reg.name}; ignored`);
      return null;
    }
    return hit;
  }
}

function readLe(data: Uint8Array): bigint {
  let v = 0n;
  for (let i = data.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[i]!);
  return v;
}

function writeLe(out: Uint8Array, v: bigint): void {
  let x = v;
  for (let i = 0; i < out.length; i++) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
}
