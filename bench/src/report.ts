/**
 * The benchmark's output: the figures object written to `bench/results.json`, the targets
 * (issue 8) as a table of rules, and the readable table printed to stdout.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The figures, keyed as `results.json` names them. */
export interface BenchFigures {
  /** NVMe-oF 4 KiB writes per wall-clock second, p2pmem buffers. */
  readonly stack_iops: number;
  /** The same with System RAM buffers. */
  readonly stack_iops_dram: number;
  /** 128 KiB writes per second, p2pmem buffers. */
  readonly stack_iops_128k: number;
  /** `Uint8Array.prototype.set` bandwidth on 128 KiB copies, GB/s (4 KiB: `meta.memcpy`). */
  readonly memcpy_gbps: number;
  /** Simulated data bytes per second at 128 KiB ÷ the 128 KiB copy bandwidth. */
  readonly stack_efficiency: number;
  /** Microseconds per `findMany` (8 clients, 10,000 functions, 1,000 providers). */
  readonly find_many_us: { readonly cold: number; readonly warm: number };
  /** Full-matrix milliseconds by endpoint count, and the fitted growth exponent. */
  readonly check_scaling: { readonly points: readonly { readonly endpoints: number; readonly ms: number }[]; readonly exponent: number };
  /** `importLspci` throughput on a large generated dump, MB/s. */
  readonly lspci_parse_mb_s: number;
}

/** How a figure is compared with its target. */
export type TargetOp = '>=' | '<=' | '<';

/** One target of issue 8. */
export interface TargetRule {
  /** Name in `results.json`'s `targets` (a figure key, or `key.part`). */
  readonly name: string;
  /** The comparison. */
  readonly op: TargetOp;
  /** The bound. */
  readonly value: number;
  /** Reads the compared number from the figures (`null` when the figure lacks it). */
  readonly get: (f: BenchFigures) => number | null;
}

/** The comparisons. */
const COMPARE: Readonly<Record<TargetOp, (a: number, b: number) => boolean>> = {
  '>=': (a, b) => a >= b,
  '<=': (a, b) => a <= b,
  '<': (a, b) => a < b,
};

/** Endpoint count whose matrix time has its own target. */
export const MATRIX_TARGET_ENDPOINTS = 2000;

/** The targets of issue 8, measured on a 2-core machine. */
export const TARGETS: readonly TargetRule[] = [
  { name: 'stack_iops', op: '>=', value: 500_000, get: (f) => f.stack_iops },
  { name: 'stack_efficiency', op: '>=', value: 0.25, get: (f) => f.stack_efficiency },
  { name: 'find_many_us.warm', op: '<=', value: 2_000, get: (f) => f.find_many_us.warm },
  { name: 'find_many_us.cold', op: '<=', value: 50_000, get: (f) => f.find_many_us.cold },
  { name: 'check_scaling.exponent', op: '<=', value: 2.1, get: (f) => f.check_scaling.exponent },
  {
    name: `check_scaling.ms_at_${MATRIX_TARGET_ENDPOINTS}`,
    op: '<',
    value: 5_000,
    get: (f) => f.check_scaling.points.find((p) => p.endpoints === MATRIX_TARGET_ENDPOINTS)?.ms ?? null,
  },
  { name: 'lspci_parse_mb_s', op: '>=', value: 50, get: (f) => f.lspci_parse_mb_s },
];

/** A target's verdict as `results.json` records it. */
export interface TargetVerdict {
  /** The bound, e.g. `>= 500000`. */
  readonly target: string;
  /** Whether the figure meets it (`false` when the figure was not measured at that size). */
  readonly pass: boolean;
}

/**
 * Judges every target.
 * @param f the figures.
 * @returns verdicts by target name.
 */
export function judge(f: BenchFigures): Record<string, TargetVerdict> {
  const out: Record<string, TargetVerdict> = {};
  for (const t of TARGETS) {
    const v = t.get(f);
    out[t.name] = { target: `${t.op} ${t.value}`, pass: v !== null && Number.isFinite(v) && COMPARE[t.op](v, t.value) };
  }
  return out;
}

/** One row of the printed table. */
export interface TableRow {
  /** Figure name. */
  readonly figure: string;
  /** The value. */
  readonly value: number;
  /** Its unit. */
  readonly unit: string;
  /** The target's name in `TARGETS`, when it has one. */
  readonly target?: string;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

/**
 * Renders the table: figure, value, unit, target, pass/miss.
 * @param rows the rows.
 * @param verdicts the targets' verdicts.
 * @returns the text, one line per row under a header.
 */
export function formatTable(rows: readonly TableRow[], verdicts: Readonly<Record<string, TargetVerdict>>): string {
  const cells = rows.map((r) => {
    const v = r.target === undefined ? undefined : verdicts[r.target];
    return [r.figure, fmt(r.value), r.unit, v?.target ?? '', v === undefined ? '' : v.pass ? 'pass' : 'MISS'];
  });
  const head = ['figure', 'value', 'unit', 'target', 'pass/miss'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string =>
    c
      .map((x, i) => (i === 1 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/**
 * Writes the results object as JSON (two-space indent, final newline), creating the folder.
 * @param path the file.
 * @param results the object.
 */
export function writeResults(path: string, results: object): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}
