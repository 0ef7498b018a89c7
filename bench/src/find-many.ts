/**
 * `find_many_us`: microseconds per `pciP2pmemFindMany` (Linux 6.6 `pci_p2pmem_find_many`) with
 * 8 clients on a generated fabric of 10,000 functions with 1,000 published providers.
 *
 * The machine is enumerated on an `upstream`-policy kernel with the P2PDMA hooks, then every
 * provider registers its p2pmem BAR (`pciP2pdmaAddResource`) and publishes it. `cold` is the
 * first call on it (every provider/client pair computed and its map type stored for the first
 * time, no upstream chain cached); `warm` is the mean of the calls after it and after a few
 * untimed ones (the map types are cached; distances are computed again, as 6.6 does). Before the big fabric, the same calls run
 * on a small fabric of their own so that V8 has compiled the code: `cold` is the model's cold
 * path, not the JIT's.
 */
import { Kernel } from '@p2pdma/kernel';
import { p2pdmaEnumerationHooks, pciP2pdmaAddResource, pciP2pmemFindMany, pciP2pmemPublish } from '@p2pdma/p2pdma';
import type { PciDev, PciSubsystem } from '@p2pdma/pci-core';
import { enumerate, kernelOptionsForTopology } from '@p2pdma/pci-core';
import type { FabricCounts, FabricShape, GeneratedFabric } from './generate-fabric';
import { generateFabric } from './generate-fabric';
import { mean, median } from './stats';

/** Options of `runFindMany`. */
export interface FindManyOptions {
  /** The fabric (default: 10,000 functions, 4 host bridges × 8 root ports, 1,000 providers). */
  readonly shape?: FabricShape;
  /** Clients per call (default 8). */
  readonly clients?: number;
  /** Warm calls averaged (default 500; fewer if `warmMs` runs out first). */
  readonly warmCalls?: number;
  /** Calls made after the first and before the averaged ones, not timed (default 10). */
  readonly settleCalls?: number;
  /** Time budget of the warm calls in milliseconds (default 2000; at least 3 calls run). */
  readonly warmMs?: number;
  /** Seed of the kernel's RNG (the tie-break among equally close providers; default 1). */
  readonly seed?: number;
  /**
   * Run the same calls on a small separate fabric first (default true), so that `cold` measures
   * a first call on this fabric (no map type, no upstream chain cached yet) with compiled code,
   * not V8 compiling the functions.
   */
  readonly jitWarmup?: boolean;
}

/** The warm-up fabric: 2 host bridges, 240 functions, 24 providers. */
const WARMUP_SHAPE: FabricShape = { functions: 240, hostBridges: 2, rootPortsPerHostBridge: 2, switchPorts: 2, leafPorts: 3, providers: 24 };

/** Registers and publishes every provider of a generated fabric on its kernel. */
function publishAll(sys: PciSubsystem, providers: readonly string[]): void {
  for (const bdf of providers) {
    const d = sys.findByBdf(bdf)!;
    const hint = d.spec.p2pmem!;
    const rc = pciP2pdmaAddResource(d, hint.bar, hint.size ?? 0, hint.offset ?? 0);
    if (rc !== 0) throw new Error(`find-many: pci_p2pdma_add_resource(${bdf}, BAR ${hint.bar}) failed (${rc})`);
    pciP2pmemPublish(d, true);
  }
}

/** Boots a kernel on a generated fabric and publishes its providers. */
function boot(g: GeneratedFabric, seed: number): { readonly kernel: Kernel; readonly sys: PciSubsystem } {
  const kernel = new Kernel({ ...kernelOptionsForTopology(g.spec), policy: 'upstream', seed });
  const sys = enumerate(kernel, g.spec, p2pdmaEnumerationHooks(kernel));
  if ('error' in sys) throw new Error(`find-many: ${sys.error.message}`);
  return { kernel, sys };
}

/** Compiles the findMany path: calls on a small fabric of its own (its kernel is dropped after). */
function warmUpJit(nClients: number): void {
  const g = generateFabric(WARMUP_SHAPE);
  const { sys } = boot(g, 1);
  publishAll(sys, g.providers);
  const clients = g.clients.slice(0, nClients).map((b) => sys.findByBdf(b)!);
  for (let i = 0; i < 50; i++) pciP2pmemFindMany(clients);
}

/** What `runFindMany` measured. */
export interface FindManyResult {
  /** Microseconds of the first call. */
  readonly coldUs: number;
  /** CPU microseconds (user + system, all threads) of the first call. */
  readonly coldCpuUs: number;
  /** Mean microseconds of the warm calls. */
  readonly warmUs: number;
  /** Warm calls made. */
  readonly warmCalls: number;
  /** Median microseconds of the warm calls (less sensitive to the process being descheduled). */
  readonly warmMedianUs: number;
  /** CPU microseconds (user + system, all threads) per warm call. */
  readonly warmCpuUs: number;
  /** The provider the first call chose. */
  readonly chosen: string;
  /** The clients. */
  readonly clients: readonly string[];
  /** What the fabric holds. */
  readonly counts: FabricCounts;
  /** Milliseconds spent generating, enumerating and registering the providers. */
  readonly setupMs: { readonly generate: number; readonly enumerate: number; readonly providers: number };
}

/**
 * Builds the fabric and times `findMany`.
 * @param opts fabric shape, client count, warm calls, seed.
 * @returns cold and warm microseconds and what was chosen.
 * @throws Error when the fabric cannot be enumerated, a provider cannot be registered, there are
 *   fewer clients than asked, or `findMany` finds nothing (a benchmark on a broken setup).
 */
export function runFindMany(opts: FindManyOptions = {}): FindManyResult {
  const nClients = opts.clients ?? 8;
  let t = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const d = now - t;
    t = now;
    return d;
  };
  if (opts.jitWarmup !== false) warmUpJit(nClients);
  lap();
  const g = generateFabric(opts.shape ?? {});
  const generate = lap();
  const { sys } = boot(g, opts.seed ?? 1);
  const enumerateMs = lap();
  publishAll(sys, g.providers);
  const providersMs = lap();
  if (g.clients.length < nClients) throw new Error(`find-many: the fabric has ${g.clients.length} client functions, ${nClients} asked`);
  const clients: PciDev[] = g.clients.slice(0, nClients).map((b) => sys.findByBdf(b)!);

  const cc0 = process.cpuUsage();
  const c0 = performance.now();
  const first = pciP2pmemFindMany(clients);
  const coldUs = (performance.now() - c0) * 1000;
  const cc = process.cpuUsage(cc0);
  if (first === null) throw new Error('find-many: no provider is usable by the clients; the generated fabric is wrong');

  for (let i = 0; i < (opts.settleCalls ?? 10); i++) pciP2pmemFindMany(clients);
  const maxCalls = opts.warmCalls ?? 500;
  const budget = opts.warmMs ?? 2000;
  const samples: number[] = [];
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  while (samples.length < maxCalls && (samples.length < 3 || performance.now() - w0 < budget)) {
    const s = performance.now();
    const r = pciP2pmemFindMany(clients);
    samples.push((performance.now() - s) * 1000);
    if (r === null) throw new Error('find-many: a warm call found no provider where the first found one');
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    coldUs,
    coldCpuUs: cc.user + cc.system,
    warmUs: mean(samples),
    warmCalls: samples.length,
    warmMedianUs: median(samples),
    warmCpuUs: (cpu.user + cpu.system) / samples.length,
    chosen: first.name,
    clients: clients.map((c) => c.name),
    counts: g.counts,
    setupMs: { generate, enumerate: enumerateMs, providers: providersMs },
  };
}
