/**
 * CPU accesses to device memory, with the ordering the review of patch 07 argued about.
 *
 * Registers are reached with `readl`/`writel` (uncached, in order). Memory the CPU maps
 * write-combining (the CMB once p2pdma has `memremap`ped it) is written with `memcpyToWc`: the
 * stores are posted in a per-kernel CPU write buffer and reach the device only when a barrier
 * drains it (`wmb`), or when the buffer drains on its own (a zero-delay timer: "eventually").
 * `writel` starts with that barrier, as the kernel's `writel` orders every earlier store
 * before the MMIO write on every architecture (arm64's is `wmb(); __raw_writel()`).
 * `writelRelaxed` skips it: the model of a weakly ordered CPU where an SQE copied into the CMB
 * can still sit in the write buffer when the doorbell reaches the controller.
 *
 * System RAM is cache coherent in the model: stores to it are visible to DMA at once.
 *
 * @kernel include/asm-generic/io.h (readl, writel, writel_relaxed, lo_hi_readq, lo_hi_writeq),
 *   memcpy vs memcpy_toio, wmb (Documentation/memory-barriers.txt)
 */
import type { Kernel, KResult } from '@p2pdma/kernel';
import { isErr } from '@p2pdma/kernel';

interface WriteBuffer {
  pending: Array<{ phys: number; data: Uint8Array }>;
  drainTimer: boolean;
  posted: number;
  drained: number;
}

const buffers = new WeakMap<Kernel, WriteBuffer>();

function buffer(kernel: Kernel): WriteBuffer {
  let b = buffers.get(kernel);
  if (b === undefined) {
    b = { pending: [], drainTimer: false, posted: 0, drained: 0 };
    buffers.set(kernel, b);
  }
  return b;
}

/**
 * Drains the CPU's posted write-combining stores to the devices, oldest first.
 * @param kernel the kernel.
 * @kernel wmb
 */
export function wmb(kernel: Kernel): void {
  const b = buffers.get(kernel);
  if (b === undefined) return;
  while (b.pending.length > 0) {
    const w = b.pending.shift()!;
    kernel.memory.cpuWrite(w.phys, w.data);
    b.drained++;
  }
}

/**
 * Copies bytes into write-combining device memory: posted, visible to the device after the
 * next barrier (or when the buffer drains by itself on the next clock tick).
 * @param kernel the kernel.
 * @param phys CPU physical address (device memory).
 * @param data the bytes (copied now).
 * @kernel memcpy to a devm_memremap_pages() mapping (the seed) / memcpy_toio
 */
export function memcpyToWc(kernel: Kernel, phys: number, data: Uint8Array): void {
  const b = buffer(kernel);
  b.pending.push({ phys, data: data.slice() });
  b.posted++;
  if (!b.drainTimer) {
    b.drainTimer = true;
    kernel.clock.schedule(0, () => {
      b.drainTimer = false;
      wmb(kernel);
    });
  }
}

/**
 * Stores posted and not yet visible.
 * @param kernel the kernel.
 * @returns the number of pending write-combining stores.
 */
export function wcPending(kernel: Kernel): number {
  return buffers.get(kernel)?.pending.length ?? 0;
}

function le32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  b[0] = value & 0xff;
  b[1] = (value >>> 8) & 0xff;
  b[2] = (value >>> 16) & 0xff;
  b[3] = (value >>> 24) & 0xff;
  return b;
}

/**
 * An ordered 32-bit MMIO store: earlier stores first (`wmb`), then the register write.
 * @param kernel the kernel.
 * @param phys CPU physical address of the register.
 * @param value the value.
 * @returns `0`, or `-EFAULT` for an unmapped address.
 * @kernel writel
 */
export function writel(kernel: Kernel, phys: number, value: number): KResult {
  wmb(kernel);
  return kernel.memory.cpuWrite(phys, le32(value));
}

/**
 * A 32-bit MMIO store without the barrier.
 * @param kernel the kernel.
 * @param phys CPU physical address.
 * @param value the value.
 * @returns `0` or `-EFAULT`.
 * @kernel writel_relaxed
 */
export function writelRelaxed(kernel: Kernel, phys: number, value: number): KResult {
  return kernel.memory.cpuWrite(phys, le32(value));
}

/**
 * A 32-bit MMIO load.
 * @param kernel the kernel.
 * @param phys CPU physical address.
 * @returns the value; `0xffffffff` when nothing answers (as a master abort reads all ones).
 * @kernel readl
 */
export function readl(kernel: Kernel, phys: number): number {
  const r = kernel.memory.cpuRead(phys, 4);
  if (isErr(r)) return 0xffff_ffff;
  return new DataView(r.buffer, r.byteOffset, 4).getUint32(0, true);
}

/**
 * A 64-bit register read as two 32-bit reads, low half first.
 * @param kernel the kernel.
 * @param phys CPU physical address.
 * @returns the value.
 * @kernel lo_hi_readq
 */
export function loHiReadq(kernel: Kernel, phys: number): bigint {
  const lo = readl(kernel, phys);
  const hi = readl(kernel, phys + 4);
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * A 64-bit register write as two 32-bit writes, low half first.
 * @param kernel the kernel.
 * @param phys CPU physical address.
 * @param value the value.
 * @kernel lo_hi_writeq
 */
export function loHiWriteq(kernel: Kernel, phys: number, value: bigint): void {
  writel(kernel, phys, Number(value & 0xffff_ffffn));
  writel(kernel, phys + 4, Number((value >> 32n) & 0xffff_ffffn));
}
