/**
 * The kernel's seeded pseudo-random source. Everything random in a model run (timing jitter,
 * fault injection, workload generation) draws from its kernel's `rng`, so a run replays exactly
 * from its seed.
 * @kernel lib/random32.c (prandom), get_random_u32 — deterministic here by design
 */
import { KernelBug } from './bug';

/** The seed a `Kernel` uses when given none. */
export const DEFAULT_RNG_SEED = 0x5eed;

/**
 * mulberry32: small, fast, and the same sequence on every machine for a given seed.
 * @kernel prandom_u32_state
 */
export class KernelRng {
  private state: number;

  /** @param seed any number; its low 32 bits are used. */
  constructor(seed: number = DEFAULT_RNG_SEED) {
    this.state = seed >>> 0;
  }

  /** @returns the next float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** @returns the next unsigned 32-bit integer. @kernel get_random_u32 */
  u32(): number {
    return Math.floor(this.next() * 4294967296);
  }

  /**
   * An integer in `[lo, hi]`, both inclusive.
   * @param lo lowest value (safe integer).
   * @param hi highest value (safe integer, ≥ lo).
   * @returns the integer.
   * @throws KernelBug for non-integer bounds or `lo > hi`.
   */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo > hi) throw new KernelBug(`KernelRng.int(${lo}, ${hi}): bad bounds`);
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /**
   * Fills a buffer with pseudo-random bytes (4 bytes per draw, copied through a 32-bit view).
   * @param out the buffer to fill.
   * @returns `out`.
   * @kernel get_random_bytes
   */
  fill(out: Uint8Array): Uint8Array {
    const words = Math.ceil(out.length / 4);
    const tmp = new Uint32Array(words);
    for (let i = 0; i < words; i++) tmp[i] = this.u32();
    out.set(new Uint8Array(tmp.buffer, 0, out.length));
    return out;
  }
}
