/**
 * @p2pdma/p2pdma: PCI peer-to-peer DMA (drivers/pci/p2pdma.c, include/linux/pci-p2pdma.h) under
 * both policies: the 2018 v2 seed series and Linux 6.6. Hand-curated public API; see README.md.
 */
export { p2pdmaEnumerationHooks, pciP2pdmaDisableAcs } from './acs';
export type { P2pSgl } from './alloc';
export { FAULT_P2PMEM_ALLOC, pciAllocP2pmem, pciFreeP2pmem, pciP2pmemAllocSgl, pciP2pmemFreeSgl, pciP2pmemVirtToBus } from './alloc';
export type {
  CheckP2pClient,
  CheckP2pOptions,
  CheckP2pReport,
  CheckP2pResult,
  FindP2pCandidate,
  FindP2pReport,
  FindP2pResult,
  P2pMatrixCell,
  P2pMatrixReport,
  P2pMatrixResult,
  P2pQueryError,
  P2pQueryOptions,
} from './check';
export { checkP2p, FIX_NEEDS_SWITCH, findP2p, p2pMatrix } from './check';
export type { P2pdmaClient, V2SwitchMatch } from './client-list';
export {
  P2pdmaClientList,
  pciP2pdmaAddClient,
  pciP2pdmaClientListFree,
  pciP2pdmaRemoveClient,
  pciP2pmemFind,
  upstreamBridgesMatch,
  v2SwitchMatch,
} from './client-list';
export type { P2pDecision } from './distance';
export {
  chooseAtRandom,
  P2PMEM_FIND_MANY_MAX_CANDIDATES,
  p2pDecide,
  pciP2pdmaCalcMapType,
  pciP2pdmaDistance,
  pciP2pdmaDistanceMany,
  pciP2pdmaMapType,
  pciP2pmemFindMany,
} from './distance';
export type { P2pWalk } from './upstream-walk';
export { ACS_LIST_BUF_SIZE, acsRedirList, P2PDMA_ACS_REDIR_BITS, p2pWalk, pciBridgeHasAcsRedir } from './upstream-walk';
export { pciP2pdmaMapSg, pciP2pdmaMapSgtable, pciP2pdmaUnmapSg } from './map-sg';
export type { P2pdmaKnownMapType, P2pdmaMapType, P2pMapKind } from './map-type';
export {
  P2PDMA_MAP_KIND,
  P2PDMA_MAP_TYPE_NAMES,
  PCI_P2PDMA_MAP_BUS_ADDR,
  PCI_P2PDMA_MAP_NOT_SUPPORTED,
  PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
  PCI_P2PDMA_MAP_UNKNOWN,
} from './map-type';
export { P2PMEM_GROUP_NAME, p2pmemAttributeGroup } from './p2pmem-sysfs';
export { isPciP2pdmaPage } from './page';
export type { P2pdmaLifecycle } from './pci-p2pdma';
export { mapTypesIdx, PciP2pdma, pciP2pdma, pciP2pdmaPagemapProvider, pciP2pdmaRemovalPending } from './pci-p2pdma';
export type { P2pdmaProviderRules } from './provider';
export { P2PDMA_PROVIDER_RULES, pciHasP2pmem, pciP2pdmaAddResource, pciP2pmemPublish } from './provider';
export type { P2pdmaStubs } from './stubs';
export { P2PDMA_STUBS } from './stubs';
export type { HostBridgeWhitelistCheck, HostBridgeWhitelistResult, P2pdmaCpuRule, P2pdmaWhitelistEntry } from './whitelist';
export {
  cpuSpecSupportsP2pdma,
  cpuSupportsP2pdma,
  hexId,
  hostBridgeWhitelist,
  hostBridgeWhitelistWarning,
  P2PDMA_CPU_RULES,
  PCI_P2PDMA_WHITELIST,
  pciHostBridgeDev,
  REQ_SAME_HOST_BRIDGE,
} from './whitelist';
