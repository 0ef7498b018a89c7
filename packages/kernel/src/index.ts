/**
 * @p2pdma/kernel: the base layer of the P2PDMA model (lib/, mm/, drivers/base, kernel/).
 * Hand-curated public API; see README.md.
 */

export type { CmdlineParam, CmdlineParseResult } from './cmdline';
export { CmdlineError, IOMMU_CMDLINE_EFFECTS, KernelCmdline } from './cmdline';
export type { TimerId } from './clock';
export { CLOCK_RUN_LIMIT, VirtualClock } from './clock';
export type { Kconfig, KernelConfig, P2pdmaPolicy } from './config';
export { ConfigError, DEFAULT_KERNEL_CONFIG, makeKernelConfig, P2PDMA_POLICIES } from './config';
export type { BusType, DeviceDriver, DeviceOptions, DmaOpsKind } from './device';
export {
  ancestors,
  DEFAULT_DMA_MASK_BITS,
  DMA_OPS_KINDS,
  Device,
  DeviceRegistry,
  devmAdd,
  devmRelease,
  devmRemove,
  devPath,
  devresNames,
  devresReleaseAll,
  deviceAdd,
  deviceAttach,
  deviceDel,
  deviceReleaseDriver,
  driverProbeDevice,
  driverRegister,
  driverUnregister,
  PROBE_FAILURE_LOG,
} from './device';
export { BUG_ON, KernelBug, WARN_ON } from './bug';
export type { ErrnoName, ErrnoValue, KResult, Negate, NegErrno } from './errno';
export { Errno, err, errnoName, errnoString, isErr, toNegErrno } from './errno';
export type { IommuDomainType, IommuProt, IommuTranslation } from './iommu';
export {
  IOMMU_CACHE,
  IOMMU_MMIO,
  IOMMU_NOEXEC,
  IOMMU_PRIV,
  IOMMU_READ,
  IOMMU_WRITE,
  IOVA_BASE,
  IOVA_LIMIT,
  IommuDomain,
  IommuGroup,
  IommuRegistry,
} from './iommu';
export type { KernelOptions } from './kernel';
export { DEFAULT_SYSTEM_RAM, Kernel } from './kernel';
export type { KernelLogOptions, LogClock, LogLevel, LogLine } from './log';
export {
  devDriverString,
  devPrefix,
  formatLogTime,
  KERN_ALERT,
  KERN_CRIT,
  KERN_DEBUG,
  KERN_EMERG,
  KERN_ERR,
  KERN_INFO,
  KERN_NOTICE,
  KERN_WARNING,
  KernelLog,
  LOG_LEVEL_NAMES,
  renderLine,
} from './log';
export type { MmioHandler, MmioRegion, PhysRange } from './memory';
export {
  LOW_RESERVED_BYTES,
  PAGE_OFFSET,
  PAGE_SHIFT,
  PAGE_SIZE,
  PHYS_ADDR_LIMIT,
  PhysicalMemory,
  physToVirt,
  virtToPhys,
} from './memory';
export { DEFAULT_RNG_SEED, KernelRng } from './random';
export { formatMemResource, formatPhysAddr, hex } from './vsprintf';
