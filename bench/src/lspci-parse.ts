/**
 * `lspci_parse_mb_s`: throughput of pci-core's `importLspci` (text → validated topology) on a
 * large dump built from the real fixtures (`generate-lspci.ts`), in MB (10^6 bytes) per second.
 * One untimed import warms the JIT (and checks the result); the figure is the median of the
 * timed imports.
 */
import { importLspci } from '@p2pdma/pci-core';
import type { LspciDumpOptions } from './generate-lspci';
import { generateLspci } from './generate-lspci';
import { median } from './stats';

/** Options of `runLspciParse`. */
export interface LspciParseOptions extends LspciDumpOptions {
  /** Timed imports, the median is taken (default 9). */
  readonly reps?: number;
}

/** What `runLspciParse` measured. */
export interface LspciParseResult {
  /** Median MB/s. */
  readonly mbPerSec: number;
  /** Dump size in bytes. */
  readonly bytes: number;
  /** Functions in the dump, and in the imported topology (they must agree). */
  readonly functions: number;
  /** Milliseconds of each timed import. */
  readonly samplesMs: readonly number[];
}

/**
 * Generates the dump and times its import.
 * @param opts dump size and fixtures folder, repetitions.
 * @returns the throughput.
 * @throws Error when the import fails or yields another number of functions than the dump has.
 */
export function runLspciParse(opts: LspciParseOptions = {}): LspciParseResult {
  const dump = generateLspci(opts);
  const check = (): void => {
    const r = importLspci(dump.text, 'generated-lspci');
    if (!r.ok) throw new Error(`lspci-parse: the generated dump does not import: ${r.error}`);
    if (r.spec.devices.length !== dump.functions) throw new Error(`lspci-parse: the dump has ${dump.functions} functions, the import ${r.spec.devices.length}`);
  };
  check(); // warm-up, and the correctness check
  const samplesMs: number[] = [];
  for (let i = 0; i < (opts.reps ?? 9); i++) {
    const t0 = performance.now();
    const r = importLspci(dump.text, 'generated-lspci');
    samplesMs.push(performance.now() - t0);
    if (!r.ok) throw new Error(`lspci-parse: import failed on repetition ${i}: ${r.error}`);
  }
  return { mbPerSec: dump.bytes / 1e6 / (median(samplesMs) / 1000), bytes: dump.bytes, functions: dump.functions, samplesMs };
}
