/**
 * `check_scaling`: wall-clock time of the full endpoint matrix (`p2pMatrix`, the library
 * function behind `p2pdma matrix`) on generated fabrics of growing size, and the growth
 * exponent fitted to it.
 *
 * Every size uses the same tree (2 host bridges × 4 root ports × 3 × 4 switch ports, ACS
 * redirect on every third first-level port) with a tenth of the endpoints as p2pmem providers;
 * only the number of functions at the leaves grows. A point is the median of `reps` calls,
 * each booting its own kernel, enumerating and filling every cell, as the command does.
 */
import { p2pMatrix } from '@p2pdma/p2pdma';
import type { FabricShape } from './generate-fabric';
import { generateFabric } from './generate-fabric';
import { fitExponent, median } from './stats';

/** The tree the scaling fabrics share. */
export const MATRIX_SHAPE: Omit<FabricShape, 'functions' | 'endpoints' | 'providers'> = {
  hostBridges: 2,
  rootPortsPerHostBridge: 4,
  switchPorts: 3,
  leafPorts: 4,
  acsRedirectEvery: 3,
};

/** Options of `runMatrixScaling`. */
export interface MatrixScalingOptions {
  /** Endpoint counts (default 250, 500, 1,000, 2,000). */
  readonly sizes?: readonly number[];
  /** The tree (default `MATRIX_SHAPE`). */
  readonly shape?: Omit<FabricShape, 'functions' | 'endpoints' | 'providers'>;
  /** Calls per size, the median is taken (default 5 up to 500 endpoints, 3 above). */
  readonly reps?: (endpoints: number) => number;
}

/** One measured size. */
export interface MatrixPoint {
  /** Endpoints in the matrix (rows = columns). */
  readonly endpoints: number;
  /** Median milliseconds of one `p2pMatrix` call. */
  readonly ms: number;
}

/** What `runMatrixScaling` measured. */
export interface MatrixScalingResult {
  /** The points, by size. */
  readonly points: readonly MatrixPoint[];
  /** Least-squares slope of log(ms) against log(endpoints). */
  readonly exponent: number;
}

/**
 * Times the matrix at each size and fits the exponent.
 * @param opts sizes and repetitions.
 * @returns the points and the exponent.
 * @throws Error when a matrix call fails or returns another number of endpoints than generated.
 */
export function runMatrixScaling(opts: MatrixScalingOptions = {}): MatrixScalingResult {
  const sizes = opts.sizes ?? [250, 500, 1000, 2000];
  const reps = opts.reps ?? ((n: number) => (n <= 500 ? 5 : 3));
  const shape = opts.shape ?? MATRIX_SHAPE;
  // Warm-up on the smallest size so the first point does not carry the JIT's compile time.
  const smallest = Math.min(...sizes);
  const warm = generateFabric({ ...shape, endpoints: smallest, providers: Math.max(1, Math.floor(smallest / 10)) });
  p2pMatrix(warm.spec);
  const points: MatrixPoint[] = [];
  for (const n of sizes) {
    const g = generateFabric({ ...shape, endpoints: n, providers: Math.max(1, Math.floor(n / 10)) });
    const samples: number[] = [];
    for (let r = 0; r < Math.max(1, reps(n)); r++) {
      const t0 = performance.now();
      const m = p2pMatrix(g.spec);
      samples.push(performance.now() - t0);
      if (!m.ok) throw new Error(`matrix-scaling: ${n} endpoints: ${m.error}`);
      if (m.endpoints.length !== n || m.cells.length !== n) throw new Error(`matrix-scaling: asked ${n} endpoints, the matrix has ${m.endpoints.length}`);
    }
    points.push({ endpoints: n, ms: median(samples) });
  }
  return { points, exponent: fitExponent(points.map((p) => ({ x: p.endpoints, y: p.ms }))) };
}
