/**
 * The fault kinds a soak run injects, as a table: each row arms one fault on the testbed, says
 * whether the testbed keeps working afterwards, and (where the layer counts them) how many
 * failures it caused. Two sources: the allocation and mapping failures of `kernel.faults` (the
 * call sites every layer checks), and nvmet's testbed faults (`NVMET_TESTBED_FAULT_KINDS`:
 * RNIC and drive DMA errors, link down, Unsupported Request, controller fatal status, RNIC
 * completion errors, p2pmem / tag / SGL allocation failures, provider unbind).
 *
 * @kernel lib/fault-inject.c (failslab / fail_page_alloc / fail_make_request style faults);
 *   the injectors of pci-core, nvme-pci, rdma-rw, p2pdma and nvmet for the device faults
 */
import { FAULT_MAKE_REQUEST } from '@p2pdma/blk';
import type { KernelRng } from '@p2pdma/kernel';
import { FAULT_ALLOC_PAGES, FAULT_DMA_MAP, FAULT_GENPOOL_ALLOC, FAULT_SG_ALLOC_TABLE } from '@p2pdma/kernel';
import type { NvmetTestbed, NvmetTestbedFault, NvmetTestbedFaultKindInfo } from '@p2pdma/nvmet';
import { injectTestbedFault, NVMET_TESTBED_FAULT_KINDS } from '@p2pdma/nvmet';
import { FAULT_RDMA_RW_ALLOC } from '@p2pdma/rdma-rw';

/** The sources of fault kinds (`--faults kernel` keeps the first). */
export type SoakFaultSource = 'kernel' | 'testbed';

/** One kind of injected fault. */
export interface SoakFaultKind {
  /** Name in the summary (`gen-pool-alloc`). */
  readonly kind: string;
  /** What fails and what the stack must do about it. */
  readonly description: string;
  /**
   * Whether the testbed keeps working: `true` (the stack recovers by itself), `'reconnect'`
   * (the connection is torn down; the host connects again), `false` (the device is gone: the
   * soak arms it only in a testbed's last round and cannot read that testbed's data back).
   */
  readonly recovers: boolean | 'reconnect';
  /** Where it comes from: a `kernel.faults` site, or nvmet's testbed injectors (device and link faults). */
  readonly source: SoakFaultSource;
  /**
   * Arms the fault on a testbed.
   * @param bed the testbed.
   * @param rng the run's RNG (where and when it fires).
   * @returns whether it was armed (`false`: this testbed cannot take it, e.g. no p2pmem card).
   */
  inject(bed: NvmetTestbed, rng: KernelRng): boolean;
  /** @param bed the testbed. @returns failures this kind caused since boot, or `null` when the layer does not count them. */
  hits(bed: NvmetTestbed): number | null;
  /** @param bed the testbed. Disarms whatever is still pending. */
  clear(bed: NvmetTestbed): void;
}

/** Most calls after arming before an allocation fault fires. */
export const SOAK_FAULT_MAX_NTH = 24;
/** Most consecutive failures of one arming. */
export const SOAK_FAULT_MAX_TIMES = 3;

/**
 * A row for a `kernel.faults` site.
 * @param kind the summary name.
 * @param site the fault site.
 * @param description what fails and the expected reaction.
 * @param maxNth most calls after arming before it fires (a site called once per large I/O
 *   needs 1, or it rarely fires within a round).
 * @returns the row.
 */
export function kernelFaultKind(kind: string, site: string, description: string, maxNth: number = SOAK_FAULT_MAX_NTH): SoakFaultKind {
  return {
    kind,
    description,
    recovers: true,
    source: 'kernel',
    inject: (bed, rng) => {
      bed.kernel.faults.inject(site, { nth: rng.int(1, maxNth), times: rng.int(1, SOAK_FAULT_MAX_TIMES) });
      return true;
    },
    hits: (bed) => bed.kernel.faults.failures(site),
    clear: (bed) => bed.kernel.faults.clear(site),
  };
}

const armed = new WeakMap<NvmetTestbed, NvmetTestbedFault[]>();

/**
 * A row for one of nvmet's testbed fault kinds (`injectTestbedFault`).
 * @param info the kind's row in `NVMET_TESTBED_FAULT_KINDS`.
 * @returns the row (failures are not counted by these injectors: `hits` is `null`).
 */
export function testbedFaultKind(info: NvmetTestbedFaultKindInfo): SoakFaultKind {
  return {
    kind: info.kind,
    description: info.models,
    recovers: info.recovers,
    source: 'testbed',
    inject: (bed, rng) => {
      const f = injectTestbedFault(bed, info.kind, rng);
      if ('error' in f) return false;
      const list = armed.get(bed) ?? [];
      list.push(f);
      armed.set(bed, list);
      return true;
    },
    hits: () => null,
    clear: (bed) => {
      const list = armed.get(bed) ?? [];
      for (const f of list.filter((x) => x.kind === info.kind)) f.clear();
      armed.set(
        bed,
        list.filter((x) => x.kind !== info.kind),
      );
    },
  };
}

/** The fault kinds, in summary order: `kernel.faults` sites, then nvmet's testbed faults. */
export const SOAK_FAULT_KINDS: readonly SoakFaultKind[] = [
  kernelFaultKind('gen-pool-alloc', FAULT_GENPOOL_ALLOC, 'gen_pool_alloc fails: the target falls back to System RAM buffers (or fails the command), nothing leaks'),
  kernelFaultKind('page-alloc', FAULT_ALLOC_PAGES, 'alloc_pages fails: queue or buffer setup fails cleanly, the command or connect is refused'),
  kernelFaultKind('sg-alloc', FAULT_SG_ALLOC_TABLE, 'sg_alloc_table fails: the command completes with an error status'),
  kernelFaultKind('dma-map', FAULT_DMA_MAP, 'a DMA mapping fails: the command completes with an error status, no mapping leaks'),
  kernelFaultKind('rdma-rw-alloc', FAULT_RDMA_RW_ALLOC, 'rdma_rw_ctx_init fails (multi-WR contexts: large I/O in System RAM): the command completes with an error status', 1),
  kernelFaultKind('make-request', FAULT_MAKE_REQUEST, 'the block layer fails the bio at submit: BLK_STS_IOERR becomes an NVMe error status'),
  ...NVMET_TESTBED_FAULT_KINDS.map(testbedFaultKind),
];
