/**
 * The machine's own copy speed: `Uint8Array.prototype.set` bandwidth for one copy size, measured
 * in this process so the stack's figures can be compared with it (`stack_efficiency`).
 *
 * Copies walk through a source and a destination buffer larger than the CPU's caches are likely
 * to keep hot (32 MiB each by default), chunk after chunk, so a figure is not a cache-resident
 * best case. Each repetition copies for about `repMs`; the median repetition is reported.
 */
import { median } from './stats';

/** Options of `measureMemcpy`. */
export interface MemcpyOptions {
  /** Bytes of each source and destination buffer (default 32 MiB; at least one copy). */
  readonly bufferBytes?: number;
  /** Milliseconds per repetition (default 150). */
  readonly repMs?: number;
  /** Repetitions, the median is taken (default 5). */
  readonly reps?: number;
}

/** One copy size's bandwidth. */
export interface MemcpyResult {
  /** The copy size in bytes. */
  readonly copyBytes: number;
  /** Median bandwidth in GB/s (10^9 bytes per second). */
  readonly gbps: number;
  /** Every repetition's bandwidth in GB/s, in run order. */
  readonly samples: readonly number[];
}

/**
 * Measures `set` bandwidth for copies of one size.
 * @param copyBytes bytes per copy (4096, 131072...).
 * @param opts buffer size, repetition length and count.
 * @returns the median bandwidth and the samples.
 * @throws RangeError for a non-positive copy size or a buffer smaller than one copy.
 */
export function measureMemcpy(copyBytes: number, opts: MemcpyOptions = {}): MemcpyResult {
  const bufferBytes = opts.bufferBytes ?? 32 * 2 ** 20;
  const repMs = opts.repMs ?? 150;
  const reps = opts.reps ?? 5;
  if (!Number.isInteger(copyBytes) || copyBytes <= 0) throw new RangeError(`measureMemcpy: copy size must be a positive integer, got ${copyBytes}`);
  if (bufferBytes < copyBytes) throw new RangeError(`measureMemcpy: buffer of ${bufferBytes} bytes is smaller than one ${copyBytes}-byte copy`);
  const src = new Uint8Array(bufferBytes);
  const dst = new Uint8Array(bufferBytes);
  // Touch every page so the first repetition does not measure page faults.
  src.fill(0x5a);
  dst.fill(0);
  const chunks = Math.floor(bufferBytes / copyBytes);
  let chunk = 0;
  const copyBatch = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const off = chunk * copyBytes;
      dst.set(src.subarray(off, off + copyBytes), off);
      chunk = chunk + 1 === chunks ? 0 : chunk + 1;
    }
  };
  copyBatch(chunks); // warm-up: one pass over the buffers
  const batch = Math.max(1, Math.floor((1 << 20) / copyBytes));
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    let copies = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < repMs) {
      copyBatch(batch);
      copies += batch;
      t = performance.now();
    }
    samples.push((copies * copyBytes) / ((t - t0) / 1000) / 1e9);
  }
  if (dst[0] !== 0x5a) throw new Error('measureMemcpy: the destination does not hold the copied bytes');
  return { copyBytes, gbps: median(samples), samples };
}
