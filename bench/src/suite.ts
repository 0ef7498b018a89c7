/**
 * The whole benchmark run: every figure in turn, then `results.json` and the table. `run.ts` is
 * its command-line entry; tests call `runSuite` with tiny sizes (`QUICK_SUITE`) and a temporary
 * output path.
 */
import { cpus, loadavg } from 'node:os';
import type { FindManyOptions, FindManyResult } from './find-many';
import { runFindMany } from './find-many';
import type { LspciParseOptions, LspciParseResult } from './lspci-parse';
import { runLspciParse } from './lspci-parse';
import type { MatrixScalingOptions, MatrixScalingResult } from './matrix-scaling';
import { runMatrixScaling } from './matrix-scaling';
import type { MemcpyOptions, MemcpyResult } from './memcpy';
import { measureMemcpy } from './memcpy';
import type { BenchFigures, TableRow, TargetVerdict } from './report';
import { formatTable, judge, MATRIX_TARGET_ENDPOINTS, writeResults } from './report';
import type { StackOptions, StackResult } from './stack';
import { runStack } from './stack';

/** The I/O sizes of the stack figures. */
export const SMALL_IO_BYTES = 4096;
/** The large I/O size (`stack_iops_128k`, the efficiency). */
export const LARGE_IO_BYTES = 128 * 1024;

/** Options of `runSuite`: per-figure sizes, where to write. */
export interface SuiteOptions {
  /** Path of the JSON results. */
  readonly out: string;
  /** Stack options shared by the three stack figures (placement and size are set per figure). */
  readonly stack?: Omit<StackOptions, 'placement' | 'ioBytes' | 'corrupt'>;
  /** Copy bandwidth options. */
  readonly memcpy?: MemcpyOptions;
  /** findMany options. */
  readonly findMany?: FindManyOptions;
  /** Matrix scaling options. */
  readonly matrix?: MatrixScalingOptions;
  /** lspci import options. */
  readonly lspci?: LspciParseOptions;
  /** Progress lines (default: none). */
  readonly progress?: (line: string) => void;
}

/** Sizes small enough for a test run (seconds, not minutes). */
export const QUICK_SUITE: Omit<SuiteOptions, 'out'> = {
  stack: { warmupIos: 16, measureMs: 20, minIos: 16, maxIos: 64, windowBytes: 2 ** 20 },
  memcpy: { bufferBytes: 2 ** 20, repMs: 5, reps: 3 },
  findMany: {
    shape: { functions: 300, hostBridges: 2, rootPortsPerHostBridge: 2, switchPorts: 2, leafPorts: 3, providers: 20 },
    warmCalls: 5,
    warmMs: 50,
  },
  matrix: { sizes: [40, 80], reps: () => 1, shape: { hostBridges: 1, rootPortsPerHostBridge: 2, switchPorts: 2, leafPorts: 2 } },
  lspci: { targetBytes: 64 * 1024, reps: 2 },
};

/** `results.json`: the figures, the run's metadata and the targets' verdicts. */
export interface SuiteResults extends BenchFigures {
  /** Where and how the run happened. */
  readonly meta: {
    /** `process.version`. */
    readonly node: string;
    /** The first CPU's model (`os.cpus()`). */
    readonly cpuModel: string;
    /** Logical CPUs (`os.cpus().length`). */
    readonly cpuCount: number;
    /** When the run ended (ISO 8601). */
    readonly date: string;
    /** Wall-clock milliseconds per figure and in total. */
    readonly durationsMs: Record<string, number>;
    /**
     * CPU milliseconds (user + system, all threads) per figure: compared with `durationsMs` it
     * shows how much of the machine the run had (other processes compete on a shared host).
     */
    readonly cpuMs: Record<string, number>;
    /** The 1-minute load average when the run started and when it ended. */
    readonly loadAverage: { readonly start: number; readonly end: number };
    /** Both copy sizes' bandwidth, GB/s. */
    readonly memcpy: { readonly gbps_4k: number; readonly gbps_128k: number };
    /** Per stack run: I/Os timed, seconds, the read-back. */
    readonly stack: Record<string, Pick<StackResult, 'ios' | 'seconds' | 'bytesPerSec' | 'verify'>>;
    /** The findMany fabric and setup times. */
    readonly findMany: Pick<FindManyResult, 'counts' | 'coldCpuUs' | 'warmCalls' | 'warmMedianUs' | 'warmCpuUs' | 'chosen' | 'clients' | 'setupMs'>;
    /** The lspci dump. */
    readonly lspci: Pick<LspciParseResult, 'bytes' | 'functions' | 'samplesMs'>;
  };
  /** Verdict per target. */
  readonly targets: Record<string, TargetVerdict>;
}

/** What `runSuite` returns: the object written and the table printed. */
export interface SuiteRun {
  /** The results written. */
  readonly results: SuiteResults;
  /** The table. */
  readonly table: string;
}

/**
 * Runs every figure, writes the results and renders the table.
 * @param opts sizes, output path, progress callback.
 * @returns the results and the table.
 * @throws StackVerifyError when a stack run reads back other data than it wrote; Error when a
 *   figure's setup fails (the message names the figure).
 */
export function runSuite(opts: SuiteOptions): SuiteRun {
  const progress = opts.progress ?? (() => {});
  const durationsMs: Record<string, number> = {};
  const cpuMs: Record<string, number> = {};
  const loadStart = loadavg()[0] ?? 0;
  const t00 = performance.now();
  const cpu00 = process.cpuUsage();
  const cpuSince = (from: NodeJS.CpuUsage): number => {
    const u = process.cpuUsage(from);
    return Math.round((u.user + u.system) / 1000);
  };
  const timed = <T>(name: string, fn: () => T): T => {
    progress(`running ${name} ...`);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = fn();
    durationsMs[name] = Math.round(performance.now() - t0);
    cpuMs[name] = cpuSince(c0);
    return r;
  };
  // Small-heap figures first, so that no figure pays for collecting another's garbage (the
  // 10,000-function kernel, the matrices); the copy bandwidth right before the stack runs.
  const lp: LspciParseResult = timed('lspci_parse_mb_s', () => runLspciParse(opts.lspci));
  const fm: FindManyResult = timed('find_many_us', () => runFindMany(opts.findMany));
  const mx: MatrixScalingResult = timed('check_scaling', () => runMatrixScaling(opts.matrix));
  const mem4k: MemcpyResult = timed('memcpy_4k', () => measureMemcpy(SMALL_IO_BYTES, opts.memcpy));
  const mem128k: MemcpyResult = timed('memcpy_128k', () => measureMemcpy(LARGE_IO_BYTES, opts.memcpy));
  const stackP2p: StackResult = timed('stack_iops', () => runStack({ ...opts.stack, placement: 'p2pmem', ioBytes: SMALL_IO_BYTES }));
  const stackDram: StackResult = timed('stack_iops_dram', () => runStack({ ...opts.stack, placement: 'system', ioBytes: SMALL_IO_BYTES }));
  const stack128k: StackResult = timed('stack_iops_128k', () => runStack({ ...opts.stack, placement: 'p2pmem', ioBytes: LARGE_IO_BYTES }));
  durationsMs['total'] = Math.round(performance.now() - t00);
  cpuMs['total'] = cpuSince(cpu00);

  const figures: BenchFigures = {
    stack_iops: stackP2p.iops,
    stack_iops_dram: stackDram.iops,
    stack_iops_128k: stack128k.iops,
    memcpy_gbps: mem128k.gbps,
    stack_efficiency: stack128k.bytesPerSec / (mem128k.gbps * 1e9),
    find_many_us: { cold: fm.coldUs, warm: fm.warmUs },
    check_scaling: { points: mx.points, exponent: mx.exponent },
    lspci_parse_mb_s: lp.mbPerSec,
  };
  const cpu = cpus();
  const stackMeta = (r: StackResult): SuiteResults['meta']['stack'][string] => ({ ios: r.ios, seconds: r.seconds, bytesPerSec: r.bytesPerSec, verify: r.verify });
  const targets = judge(figures);
  const results: SuiteResults = {
    ...figures,
    meta: {
      node: process.version,
      cpuModel: cpu[0]?.model ?? 'unknown',
      cpuCount: cpu.length,
      date: new Date().toISOString(),
      durationsMs,
      cpuMs,
      loadAverage: { start: loadStart, end: loadavg()[0] ?? 0 },
      memcpy: { gbps_4k: mem4k.gbps, gbps_128k: mem128k.gbps },
      stack: { stack_iops: stackMeta(stackP2p), stack_iops_dram: stackMeta(stackDram), stack_iops_128k: stackMeta(stack128k) },
      findMany: {
        counts: fm.counts,
        coldCpuUs: fm.coldCpuUs,
        warmCalls: fm.warmCalls,
        warmMedianUs: fm.warmMedianUs,
        warmCpuUs: fm.warmCpuUs,
        chosen: fm.chosen,
        clients: fm.clients,
        setupMs: fm.setupMs,
      },
      lspci: { bytes: lp.bytes, functions: lp.functions, samplesMs: lp.samplesMs },
    },
    targets,
  };
  writeResults(opts.out, results);

  const rows: TableRow[] = [
    { figure: 'stack_iops (4 KiB, p2pmem)', value: figures.stack_iops, unit: 'IOPS', target: 'stack_iops' },
    { figure: 'stack_iops_dram (4 KiB, system)', value: figures.stack_iops_dram, unit: 'IOPS' },
    { figure: 'stack_iops_128k (p2pmem)', value: figures.stack_iops_128k, unit: 'IOPS' },
    { figure: 'memcpy 4 KiB', value: mem4k.gbps, unit: 'GB/s' },
    { figure: 'memcpy_gbps (128 KiB)', value: figures.memcpy_gbps, unit: 'GB/s' },
    { figure: 'stack_efficiency (128 KiB)', value: figures.stack_efficiency, unit: 'ratio', target: 'stack_efficiency' },
    { figure: 'find_many_us.cold', value: figures.find_many_us.cold, unit: 'µs', target: 'find_many_us.cold' },
    { figure: 'find_many_us.warm', value: figures.find_many_us.warm, unit: 'µs', target: 'find_many_us.warm' },
    ...mx.points.map(
      (p): TableRow => ({
        figure: `check_scaling ${p.endpoints} endpoints`,
        value: p.ms,
        unit: 'ms',
        ...(p.endpoints === MATRIX_TARGET_ENDPOINTS ? { target: `check_scaling.ms_at_${MATRIX_TARGET_ENDPOINTS}` } : {}),
      }),
    ),
    { figure: 'check_scaling.exponent', value: mx.exponent, unit: '', target: 'check_scaling.exponent' },
    { figure: 'lspci_parse_mb_s', value: figures.lspci_parse_mb_s, unit: 'MB/s', target: 'lspci_parse_mb_s' },
  ];
  return { results, table: formatTable(rows, targets) };
}
