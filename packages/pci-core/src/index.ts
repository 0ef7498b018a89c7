/**
 * @p2pdma/pci-core: the PCI core model (config space, capabilities, ACS, resources, host bridges,
 * buses, functions, enumeration, IOMMU groups, the fabric router, links, `pci=` parameters) and
 * its topology inputs (the description type, JSON validation, the builder, built-ins, lspci).
 */
export type { PcibiosResult } from './access';
export {
  PCIBIOS_BAD_REGISTER_NUMBER,
  PCIBIOS_DEVICE_NOT_FOUND,
  PCIBIOS_SUCCESSFUL,
  pcibiosErrToErrno,
  pciReadConfigByte,
  pciReadConfigDword,
  pciReadConfigWord,
  pciWriteConfigByte,
  pciWriteConfigDword,
  pciWriteConfigWord,
} from './access';
export type { AcsEnabledQuirk, AcsEnableHook, AcsEnablePolicy, AcsStepContext } from './acs';
export {
  ACS_BIT,
  ACS_ENABLE_POLICY,
  acsBitNames,
  acsBitsFromNames,
  PCI_ACS_CAP_ASSUMED_UNKNOWN,
  PCI_ACS_CR,
  PCI_ACS_DT,
  PCI_ACS_EC,
  PCI_ACS_REDIR_BITS,
  PCI_ACS_RR,
  PCI_ACS_SV,
  PCI_ACS_TB,
  PCI_ACS_UF,
  PCI_DEV_ACS_ENABLED_QUIRKS,
  pciAcsCtrlEnabled,
  pciAcsEnabled,
  pciAcsFlagsEnabled,
  pciAcsPathEnabled,
  pciDevSpecificAcsEnabled,
  pciDisableAcsRedir,
  pciEnableAcs,
  pciStdEnableAcs,
  REQ_ACS_FLAGS,
} from './acs';
export { PciBus, pciDomainNr, pciIsRootBus } from './bus';
export {
  PCI_ACS_CAP,
  PCI_ACS_CTRL,
  PCI_ACS_EGRESS_CTL_V,
  PCI_ACS_REGISTERS,
  PCI_ACS_SIZEOF,
  PCI_CAP_EXP_SIZEOF,
  PCI_CAP_ID_EXP,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_PM,
  PCI_CAP_LIST_ID,
  PCI_CAP_LIST_NEXT,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCAP_PAYLOAD,
  PCI_EXP_DEVCTL,
  PCI_EXP_DEVCTL_PAYLOAD,
  PCI_EXP_DEVSTA,
  PCI_EXP_FLAGS,
  PCI_EXP_FLAGS_TYPE,
  PCI_EXP_FLAGS_VERS,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKCAP_MLW,
  PCI_EXP_LNKCAP_SLS,
  PCI_EXP_LNKCTL,
  PCI_EXP_LNKSTA,
  PCI_EXP_LNKSTA_CLS,
  PCI_EXP_LNKSTA_NLW,
  PCI_EXP_LNKSTA_NLW_SHIFT,
  PCI_EXP_REGISTERS,
  PCI_EXP_TYPE_DOWNSTREAM,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXP_TYPE_LEG_END,
  PCI_EXP_TYPE_PCI_BRIDGE,
  PCI_EXP_TYPE_PCIE_BRIDGE,
  PCI_EXP_TYPE_RC_EC,
  PCI_EXP_TYPE_RC_END,
  PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM,
  PCI_EXT_CAP_ID,
  PCI_EXT_CAP_ID_ACS,
  PCI_EXT_CAP_ID_ERR,
  PCI_EXT_CAP_ID_SRIOV,
  PCI_EXT_CAP_NEXT,
  PCI_EXT_CAP_VER,
  PCI_SRIOV_BAR,
  PCI_SRIOV_CAP,
  PCI_SRIOV_CTRL,
  PCI_SRIOV_CTRL_MSE,
  PCI_SRIOV_CTRL_VFE,
  PCI_SRIOV_FUNC_LINK,
  PCI_SRIOV_INITIAL_VF,
  PCI_SRIOV_NUM_VF,
  PCI_SRIOV_REGISTERS,
  PCI_SRIOV_SIZEOF,
  PCI_SRIOV_STATUS,
  PCI_SRIOV_SUP_PGSIZE,
  PCI_SRIOV_SYS_PGSIZE,
  PCI_SRIOV_TOTAL_VF,
  PCI_SRIOV_VF_DID,
  PCI_SRIOV_VF_OFFSET,
  PCI_SRIOV_VF_STRIDE,
  pciFindCapability,
  pciFindExtCapability,
} from './capability';
export type { ConfigRegister, ConfigWriteListener, IgnoredWrite, RegAccess } from './config-space';
export {
  ConfigSpace,
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_1,
  PCI_BASE_ADDRESS_2,
  PCI_BASE_ADDRESS_3,
  PCI_BASE_ADDRESS_4,
  PCI_BASE_ADDRESS_5,
  PCI_BASE_ADDRESS_IO_FLAG_BITS,
  PCI_BASE_ADDRESS_MEM_FLAG_BITS,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_BIST,
  PCI_BRIDGE_CONTROL,
  PCI_CACHE_LINE_SIZE,
  PCI_CAPABILITY_LIST,
  PCI_CARDBUS_CIS,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_CLASS_DEVICE,
  PCI_CLASS_PROG,
  PCI_CLASS_REVISION,
  PCI_COMMAND,
  PCI_COMMAND_INTX_DISABLE,
  PCI_COMMAND_IO,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_PARITY,
  PCI_COMMAND_SERR,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_BRIDGE,
  PCI_HEADER_TYPE_MASK,
  PCI_HEADER_TYPE_MFD,
  PCI_HEADER_TYPE_NORMAL,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_IO_BASE,
  PCI_IO_BASE_UPPER16,
  PCI_IO_LIMIT,
  PCI_IO_LIMIT_UPPER16,
  PCI_IO_RANGE_TYPE_32,
  PCI_LATENCY_TIMER,
  PCI_MAX_LAT,
  PCI_MEMORY_BASE,
  PCI_MEMORY_LIMIT,
  PCI_MEMORY_RANGE_MASK,
  PCI_MIN_GNT,
  PCI_PREF_BASE_UPPER32,
  PCI_PREF_LIMIT_UPPER32,
  PCI_PREF_MEMORY_BASE,
  PCI_PREF_MEMORY_LIMIT,
  PCI_PREF_RANGE_TYPE_64,
  PCI_PRIMARY_BUS,
  PCI_REVISION_ID,
  PCI_ROM_ADDRESS,
  PCI_ROM_ADDRESS1,
  PCI_SEC_LATENCY_TIMER,
  PCI_SEC_STATUS,
  PCI_SECONDARY_BUS,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_ERROR_BITS,
  PCI_SUBORDINATE_BUS,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_TYPE0_REGISTERS,
  PCI_TYPE1_REGISTERS,
  PCI_VENDOR_ID,
} from './config-space';
export type { EnumerateHooks, EnumerateResult, EnumerationError } from './enumerate';
export { enumerate, kernelOptionsForTopology } from './enumerate';
export type {
  DeviceCounters,
  DmaDirection,
  FabricCounters,
  FabricError,
  LinkCounters,
  LinkInfo,
  RootComplexCounters,
  RouteDescription,
  RouteHop,
  TransactionResult,
  TransactionStatus,
} from './fabric';
export { FABRIC_ERROR_LOG_CAPACITY, Fabric } from './fabric';
export type { FabricDmaErrorStatus, FabricFaultHit, FabricFaultKind, FabricFaultKindInfo, FabricFaultSpec } from './fabric-fault';
export { FABRIC_FAULT_DMA_ERROR, FABRIC_FAULT_KINDS, FABRIC_FAULT_LINK_DOWN, FABRIC_FAULT_UR, FabricFaults } from './fabric-fault';
export type { HostBridgeWindow } from './host-bridge';
export { PciHostBridge } from './host-bridge';
export { computeIommuGroups, iommuGroupsReport, pciAssignIommuGroup, pciDeviceGroup, pciDevsAreDmaAliases, pciForEachDmaAlias } from './iommu-group';
export type { PcieSpeed } from './link';
export { linkCapacityBytesPerSec, PCIE_SPEEDS } from './link';
export type { PciDevInit, PciLinkState } from './pci-dev';
export { PCI_DEVFN, PCI_FUNC, PCI_SLOT, PciDev, pciIsBridge, pciIsPcie, pciName, pciPcieType, pciPhysfn, pciUpstreamBridge } from './pci-dev';
export type { PciDeviceId, PciDriver } from './pci-driver';
export { PCI_ANY_ID, pciBusType, pciMatchId, pciRegisterDriver } from './pci-driver';
export type { PciDevStrMatchResult, PciParams } from './pci-params';
export { PCI_OPTIONS_NOT_MODELLED, pciDevListMatch, pciDevStrMatch, pciParams } from './pci-params';
export type { IommuGroupInfo } from './pci-system';
export { PciSubsystem, pciSystem } from './pci-system';
export type { PciResource } from './resource';
export {
  emptyResource,
  formatResource,
  IORESOURCE_BUS,
  IORESOURCE_DISABLED,
  IORESOURCE_IO,
  IORESOURCE_MEM,
  IORESOURCE_MEM_64,
  IORESOURCE_PREFETCH,
  IORESOURCE_SIZEALIGN,
  IORESOURCE_STARTALIGN,
  IORESOURCE_UNSET,
  IORESOURCE_WINDOW,
  PCI_BRIDGE_IO_WINDOW,
  PCI_BRIDGE_MEM_WINDOW,
  PCI_BRIDGE_PREF_MEM_WINDOW,
  PCI_BRIDGE_RESOURCES,
  PCI_IOV_RESOURCES,
  PCI_NUM_RESOURCES,
  PCI_ROM_RESOURCE,
  PCI_STD_NUM_BARS,
  resourceSize,
  resourceType,
} from './resource';
export { pciBusAddress, pciResourceEnd, pciResourceFlags, pciResourceLen, pciResourceStart } from './bar';
export { pciGetClass, pciGetDevice, pciGetDomainBusAndSlot, pciGetSlot, pciGetSubsys } from './search';
export type { AssignError, AssignLogLine, BarRequest } from './setup-bus';
export {
  AUTO_WINDOW32_HIGH,
  AUTO_WINDOW32_LOW,
  AUTO_WINDOW64_GRAN,
  PCI_BRIDGE_IO_GRAN,
  PCI_BRIDGE_MEM_GRAN,
  PCI_IO_SPACE_END,
  PCI_IO_SPACE_START,
} from './setup-bus';

// Topology inputs: the description type, validation, the builder, built-ins and the lspci importer.
export type {
  AcsBitName,
  AcsSpec,
  BarSpec,
  CpuSpec,
  DeviceRole,
  DeviceSpec,
  HostBridgeSpec,
  NvmeSpec,
  P2pmemSpec,
  PcieSpec,
  PciePortType,
  PeerForwarding,
  TopologySpec,
} from './topology-spec';
export { TOPOLOGY_SCHEMA_V1 } from './topology-spec';
export type { BusConflict, TopologyError, TopologyResult, TopologyTree, TreeParent } from './topology-validate';
export {
  ACS_BIT_NAMES,
  DEVICE_ROLES,
  deriveTree,
  formatTopologyErrors,
  NVME_CMB_FLAGS,
  PCI_MIN_IO_BAR,
  PCI_MIN_MEM_BAR,
  PCI_NUM_BARS,
  PCIE_LINK_WIDTHS,
  PCIE_MAX_GEN,
  PCIE_PAYLOAD_SIZES,
  PCIE_PORT_TYPES,
  parseTopologyJson,
  validateTopologySpec,
} from './topology-validate';
export type { Bdf } from './bdf';
export { bdfKey, compareBdf, devfn, formatBdf, formatBus, normalizeBdf, parseBdf, PCI_MAX_BUS, PCI_MAX_DOMAIN, PCI_MAX_FN, PCI_MAX_SLOT, routingId } from './bdf';
export type {
  EndpointOptions,
  FunctionOptions,
  HostBridgeOptions,
  NodeRef,
  PortBody,
  PortOptions,
  SriovOptions,
  SwitchOptions,
} from './builder';
export {
  bar,
  LinkBuilder,
  PCI_CLASS_BRIDGE_PCI,
  PCI_CLASS_HOST_BRIDGE,
  ROLE_CLASS_CODES,
  RootBusBuilder,
  SwitchBuilder,
  TopologyBuildError,
  TopologyBuilder,
  topology,
} from './builder';
export type { BuiltinTopology } from './builtins';
export { builtinNames, builtinTopologies, getBuiltin } from './builtins';
export type { LspciImportResult } from './lspci';
export { importLspci, isLspciText, WARN_ACCESS_DENIED, WARN_NO_NUMERIC_IDS } from './lspci';
