/**
 * One machine's kernel: the root object every other model object hangs off.
 *
 * A `Kernel` owns its virtual clock, log, configuration, command line, physical memory, IOMMU
 * subsystem, PRNG and device registry. Nothing is global: two kernels in one process (a target
 * and a remote host) share nothing.
 *
 * It also owns the per-machine registries of the base layer: fault injection (`faults`), the
 * page descriptors and device pagemaps (`memmap`), the DMA-API debug registry (`dmaDebug`), and
 * the sysfs and configfs trees.
 *
 * @kernel the running kernel instance (init/main.c start_kernel)
 */
import type { CmdlineParseResult } from './cmdline';
import { KernelCmdline } from './cmdline';
import { VirtualClock } from './clock';
import { Configfs } from './configfs';
import type { KernelConfig, P2pdmaPolicy } from './config';
import { ConfigError, makeKernelConfig } from './config';
import type { Device, DeviceDriver } from './device';
import { DeviceRegistry, driverRegister, driverUnregister } from './device';
import { DmaDebug } from './dma-debug';
import type { KResult } from './errno';
import { FaultInjector } from './fault-inject';
import { IommuRegistry } from './iommu';
import type { KernelLogOptions } from './log';
import { KernelLog } from './log';
import type { PhysRange } from './memory';
import { PhysicalMemory } from './memory';
import { MemMap } from './page';
import { DEFAULT_RNG_SEED, KernelRng } from './random';
import { Sysfs } from './sysfs';

/**
 * The default memory map: 4 GiB of System RAM from physical address 0, laid out as x86 firmware
 * does around the 32-bit PCI hole: 3 GiB at 0 and 1 GiB at 4 GiB, leaving
 * `[0xc0000000, 0x100000000)` free for 32-bit BARs, bridge windows and the CMB.
 */
export const DEFAULT_SYSTEM_RAM: readonly PhysRange[] = Object.freeze([
  Object.freeze({ base: 0, size: 3 * 2 ** 30 }),
  Object.freeze({ base: 4 * 2 ** 30, size: 2 ** 30 }),
]);

/** Options for `new Kernel(...)`. Every field is optional. */
export interface KernelOptions {
  /** Kconfig overrides (defaults: `DEFAULT_KERNEL_CONFIG`). */
  config?: Partial<KernelConfig>;
  /** P2PDMA policy; overrides `config.p2pdmaPolicy`. Default `'upstream'`. */
  policy?: P2pdmaPolicy;
  /** The kernel command line. */
  cmdline?: string;
  /** System RAM ranges (default `DEFAULT_SYSTEM_RAM`). */
  systemRam?: readonly PhysRange[];
  /**
   * Whether the IOMMU translates DMA. Default: what the command line says
   * (`intel_iommu=on`, `iommu=off`, …), else off. Always off without `CONFIG_IOMMU_SUPPORT`.
   */
  iommu?: boolean;
  /** PRNG seed (default `DEFAULT_RNG_SEED`). */
  seed?: number;
  /** Kernel log options (echo to stderr, capacity). */
  log?: KernelLogOptions;
}

/**
 * A modelled kernel.
 * @kernel —
 */
export class Kernel {
  /** Virtual time. */
  readonly clock: VirtualClock;
  /** The kernel log, stamped by `clock`. */
  readonly log: KernelLog;
  /** The configuration (frozen). */
  readonly config: Readonly<KernelConfig>;
  /** The parsed command line. */
  readonly cmdline: KernelCmdline;
  /** Physical memory: System RAM, MMIO dispatch, page allocator. */
  readonly memory: PhysicalMemory;
  /** The IOMMU subsystem. */
  readonly iommu: IommuRegistry;
  /** The seeded PRNG. */
  readonly rng: KernelRng;
  /** Registered devices and drivers. */
  readonly deviceRegistry: DeviceRegistry;
  /** Fault injection for allocators and other failure sites. */
  readonly faults: FaultInjector;
  /** Page descriptors (`pfnToPage`) and mapped device pagemaps. */
  readonly memmap: MemMap;
  /** The DMA-API debug registry: every live DMA mapping. */
  readonly dmaDebug: DmaDebug;
  /** The `/sys` tree. */
  readonly sysfs: Sysfs;
  /** The `/sys/kernel/config` tree. */
  readonly configfs: Configfs;

  /**
   * @param opts see `KernelOptions`.
   * @throws CmdlineError for a malformed command line; ConfigError for bad config keys or values,
   *   a bad memory map, or `iommu: true` without `CONFIG_IOMMU_SUPPORT`. Nothing is half-built:
   *   the constructor either returns a complete kernel or throws.
   */
  constructor(opts: KernelOptions = {}) {
    const config = makeKernelConfig(opts.policy === undefined ? opts.config : { ...opts.config, p2pdmaPolicy: opts.policy });
    const cmdline = KernelCmdline.parse(opts.cmdline ?? '');
    if (opts.iommu === true && !config.CONFIG_IOMMU_SUPPORT) {
      throw new ConfigError('iommu', 'true, but CONFIG_IOMMU_SUPPORT is off');
    }
    this.config = config;
    this.cmdline = cmdline;
    this.clock = new VirtualClock();
    this.log = new KernelLog(this.clock, opts.log);
    this.faults = new FaultInjector();
    this.memory = new PhysicalMemory(opts.systemRam ?? DEFAULT_SYSTEM_RAM, this.log, this.faults);
    const iommuOn = config.CONFIG_IOMMU_SUPPORT && (opts.iommu ?? cmdline.iommuOverride() ?? false);
    this.iommu = new IommuRegistry(iommuOn, iommuOn && cmdline.iommuPassthrough(), this.log);
    this.rng = new KernelRng(opts.seed ?? DEFAULT_RNG_SEED);
    this.deviceRegistry = new DeviceRegistry(this.log);
    this.memmap = new MemMap(this);
    this.dmaDebug = new DmaDebug(this.log, config.CONFIG_DMA_API_DEBUG);
    this.sysfs = new Sysfs(this.log, this.faults);
    this.configfs = new Configfs(this.log);
  }

  /** The P2PDMA policy in force (`config.p2pdmaPolicy`). */
  get policy(): P2pdmaPolicy {
    return this.config.p2pdmaPolicy;
  }

  /** Registered devices in add order. */
  devices(): Device[] {
    return this.deviceRegistry.devices();
  }

  /**
   * @param name a device name (`'0000:03:00.0'`).
   * @returns the registered device, or `null`.
   */
  findDevice(name: string): Device | null {
    return this.deviceRegistry.findDevice(name);
  }

  /**
   * `driverRegister(this, drv)`.
   * @param drv the driver.
   * @returns `0` or `-EBUSY` (see `driverRegister`).
   * @kernel driver_register
   */
  driverRegister(drv: DeviceDriver): KResult {
    return driverRegister(this, drv);
  }

  /**
   * `driverUnregister(this, drv)`.
   * @param drv a registered driver.
   * @kernel driver_unregister
   */
  driverUnregister(drv: DeviceDriver): void {
    driverUnregister(this, drv);
  }

  /**
   * Parses a command line without building a kernel (for CLIs validating input).
   * @param text the command line.
   * @returns the parse result.
   */
  static parseCmdline(text: string): CmdlineParseResult {
    return KernelCmdline.tryParse(text);
  }
}
