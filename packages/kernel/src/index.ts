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
export { Completion } from './completion';
export type { ConfigAttribute, ConfigItemType } from './configfs';
export { CONFIGFS_PATH_NUL_ERRNO, CONFIGFS_ROOT, ConfigGroup, ConfigItem, Configfs } from './configfs';
export type { BusType, DeviceDriver, DeviceOptions, DmaOpsKind } from './device';
export {
  ancestors,
  DEFAULT_DMA_MASK_BITS,
  DEFAULT_DMA_MAX_SEG_SIZE,
  DEFAULT_DMA_SEG_BOUNDARY,
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
export type { DmaDebugEntry, DmaDebugRef, DmaDebugType } from './dma-debug';
export { DMA_DEBUG_TYPE_NAMES, DmaDebug } from './dma-debug';
export type { DmaCoherent, DmaDirection } from './dma-mapping';
export {
  DMA_BIDIRECTIONAL,
  DMA_DIRECTION_NAMES,
  DMA_DIRECTION_PROT,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_NONE,
  DMA_TO_DEVICE,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapPage,
  dmaMappingError,
  dmaMapSg,
  dmaMapSgtable,
  dmaMapSingle,
  dmaUnmapPage,
  dmaUnmapSg,
  dmaUnmapSgtable,
  dmaUnmapSingle,
} from './dma-mapping';
export type { ErrnoName, ErrnoValue, KResult, Negate, NegErrno } from './errno';
export { Errno, err, errnoName, errnoString, isErr, toNegErrno } from './errno';
export type { FaultSpec } from './fault-inject';
export {
  FAULT_ALLOC_PAGES,
  FAULT_DEVM_MEMREMAP_PAGES,
  FAULT_DMA_MAP,
  FAULT_GENPOOL_ADD,
  FAULT_GENPOOL_ALLOC,
  FAULT_SG_ALLOC_TABLE,
  FAULT_SYSFS_CREATE_GROUP,
  FaultInjector,
  KERNEL_FAULT_SITES,
} from './fault-inject';
export type { GenPoolOwnedAlloc } from './genpool';
export { GenPool } from './genpool';
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
export { kstrtobool, kstrtoint, kstrtoll, kstrtouint, kstrtoull, strtobool2018 } from './kstrtox';
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
export { SparseBytes } from './sparse-bytes';
export type { DevPagemapOps, DevPagemapOptions, MemoryType, MemremapRules, PagemapRange } from './memremap';
export {
  DevPagemap,
  devmMemremapPages,
  devmMemunmapPages,
  getDevPagemap,
  MEMORY_DEVICE_COHERENT,
  MEMORY_DEVICE_FS_DAX,
  MEMORY_DEVICE_GENERIC,
  MEMORY_DEVICE_PCI_P2PDMA,
  MEMORY_DEVICE_PRIVATE,
  MEMORY_TYPE_NAMES,
  MEMREMAP_RULES,
  memunmapPages,
  putDevPagemap,
  SECTION_SIZE,
  SUBSECTION_SIZE,
} from './memremap';
export {
  getPage,
  isZoneDevicePage,
  MemMap,
  Page,
  pageAddress,
  pageToPfn,
  pageToPhys,
  pfnToPage,
  physToPage,
  putPage,
  virtToPage,
} from './page';
export { PercpuRef } from './percpu-ref';
export { DEFAULT_RNG_SEED, KernelRng } from './random';
export {
  forEachSg,
  SG_DMA_BUS_ADDRESS,
  SG_DMA_SWIOTLB,
  Scatterlist,
  SgTable,
  sgAllocTable,
  sgCopyFromBuffer,
  sgCopyToBuffer,
  sgDmaAddress,
  sgDmaIsBusAddress,
  sgDmaLen,
  sgDmaMarkBusAddress,
  sgDmaUnmarkBusAddress,
  sgFreeTable,
  sgInitOne,
  sgNents,
  sgNext,
  sgPage,
  sgPhys,
  sgSetBuf,
  sgSetPage,
  sgVirt,
} from './scatterlist';
export type { AttributeGroup, SysfsAttribute } from './sysfs';
export {
  Kobject,
  S_IRUGO,
  S_IWUGO,
  SYSFS_MODE_RO,
  SYSFS_MODE_RW,
  SYSFS_MODE_WO,
  Sysfs,
  sysfsCreateFile,
  sysfsCreateGroup,
  sysfsCreateLink,
  sysfsRemoveFile,
  sysfsRemoveGroup,
  sysfsRemoveLink,
} from './sysfs';
export { formatMemResource, formatPhysAddr, hex } from './vsprintf';
