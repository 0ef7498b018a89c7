/**
 * @p2pdma/nvmet: the NVMe over Fabrics target (drivers/nvme/target) with the seed series'
 * optional P2P memory (v2 patch 10) and Linux 6.6's per-namespace `p2pmem`, its configfs tree
 * and nvmetcli JSON, an RDMA transport, and an initiator on a remote host.
 * Hand-curated public API; see README.md.
 */
export type { NvmetAsyncEvent } from './async-event';
export { NVMET_ASYNC_EVENTS, nvmetAddAsyncEvent } from './async-event';
export { NVME_SMART_LOG_SIZE, NVMET_ERROR_LOG_SLOTS, NVMET_MODEL_NUMBER, nvmetParseAdminCmd } from './admin-cmd';
export type { BlockDevice } from './bdev';
export { bdevLogicalBlockSize, bdevSizeBytes, blkdevGetByPath, blkdevList, blkdevRegister, blkdevUnregister } from './bdev';
export type { NvmetConfigfsTypes } from './configfs';
export { formatUuid, NVMET_CONFIGFS_NAME, NVMET_SN_MAX_SIZE, NVMET_TREQ_NAMES, nvmetConfigfsPath, parseUuid } from './configfs';
export type { NvmetAllocCtrlResult, NvmetCtrlStats } from './ctrl';
export { NVMET_KAS, NVMET_QUEUE_SIZE, NvmetCtrl, nvmetAllocCtrl, nvmetCtrlFatalError, nvmetCtrlFindGet, nvmetCtrlPut, nvmetUpdateCc } from './ctrl';
export { nvmetParseConnectCmd, nvmetParseFabricsCmd } from './fabrics-cmd';
export { BLK_TO_NVME_STATUS, blkToNvmeStatus, nvmetCheckCtrlStatus, nvmetParseIoCmd, P2P_BIO_FLAGS, p2pBioFlags } from './io-cmd-bdev';
export * from './nvme-command';
export * from './nvme-fabrics';
export * from './nvme-identify';
export * from './nvme-status';
export { NVME_NSID_ALL, NVMET_MAX_NAMESPACES, NvmetNs, nvmetFindNamespace, nvmetNsAlloc, nvmetNsDev, nvmetNsDisable, nvmetNsEnable } from './ns';
export type { NvmetP2pPolicy } from './p2pmem';
export { NVMET_P2P_POLICY, nvmetReqFindP2pDev } from './p2pmem';
export type { P2pdmaEnableChoice } from './pci-p2pdma-enable';
export { pciP2pdmaEnableShow, pciP2pdmaEnableStore } from './pci-p2pdma-enable';
export { NvmetPort, nvmetDisablePort, nvmetEnablePort, nvmetPortDelCtrls } from './port';
export {
  FAULT_NVMET_REQ_ALLOC_SGLS,
  NvmetCq,
  NvmetReq,
  NvmetSq,
  nvmetCopyFromSgl,
  nvmetCopyToSgl,
  nvmetReqAllocSgls,
  nvmetReqComplete,
  nvmetReqExecute,
  nvmetReqFreeSgls,
  nvmetReqInit,
  nvmetReqUninit,
  nvmetSqDestroy,
  nvmetSqInit,
} from './req';
export { NVME_NQN_DISC, NVME_NQN_NVME, NVMET_DEFAULT_VS, NvmetHost, NvmetSubsys, nvmeVs, nvmetHostAllowed } from './subsys';
export type { NamedCode, NvmetRules } from './target';
export { NVMET_RULES, NvmetTarget, nvmetExit, nvmetInit, nvmetTarget } from './target';
export type { NvmetFabricsOps } from './transport';
export { nvmetRegisterTransport, nvmetUnregisterTransport } from './transport';
export type {
  NvmfCompletionResult,
  NvmfConnectError,
  NvmfConnectOptions,
  NvmfCtrlState,
  NvmfInitiatorOptions,
  NvmfIo,
  NvmfNamespace,
} from './initiator';
export { NVME_AQ_DEPTH, NVME_DEFAULT_KATO, NVMF_DEF_QUEUE_SIZE, NVMF_DEFAULT_TIMEOUT_NS, NvmfController, NvmfHostQueue, NvmfInitiator } from './initiator';
export type { NvmetcliConfig, NvmetcliJson, NvmetcliRestoreOptions, NvmetcliRestoreResult } from './nvmetcli';
export {
  NVMETCLI_ATTR_GROUPS,
  NVMETCLI_MAX_NSID,
  NVMETCLI_MAX_PORTID,
  nvmetcliClear,
  nvmetcliFormat,
  nvmetcliRestore,
  nvmetcliRestoreJson,
  nvmetcliSave,
  nvmetcliSaveJson,
} from './nvmetcli';
export type { NvmetRdmaQueueState, NvmetRdmaRules } from './rdma';
export {
  NVMET_RDMA_DEFAULT_INLINE_DATA_SIZE,
  NVMET_RDMA_MAX_INLINE_DATA_SIZE,
  NVMET_RDMA_REQ_INLINE,
  NVMET_RDMA_REQ_INVALIDATE_RKEY,
  NVMET_RDMA_RULES,
  NvmetRdmaQueue,
  NvmetRdmaTransport,
  nvmetRdmaInit,
  nvmetRdmaTransport,
} from './rdma';
export type { NvmeRdmaCmReq, RdmaCmAnswer, RdmaCmConnection, RdmaCmConnectRequest, RdmaCmListener } from './rdma-cm';
export {
  NVME_RDMA_CM_FMT_1_0,
  NVME_RDMA_CM_INVALID_HRQSIZE,
  NVME_RDMA_CM_INVALID_LEN,
  NVME_RDMA_CM_INVALID_RECFMT,
  NVME_RDMA_CM_NO_RSC,
  NVME_RDMA_CM_REQ_SIZE,
  NVME_RDMA_IP_PORT,
  nvmeRdmaDecodeCmReq,
  nvmeRdmaEncodeCmReq,
  RdmaCmNetwork,
} from './rdma-cm';
export type { NvmetPlacement, NvmetTestbed, NvmetTestbedError, NvmetTestbedOptions } from './testbed';
export { buildNvmetTestbed, NVMET_PLACEMENTS } from './testbed';
export type { NvmetFaultRng, NvmetTestbedFault, NvmetTestbedFaultError, NvmetTestbedFaultKind, NvmetTestbedFaultKindInfo } from './faults';
export { injectTestbedFault, NVMET_TESTBED_FAULT_KINDS, nvmetTestbedTeardown } from './faults';
export type { NvmetLeakCounts } from './leak-check';
export { NVMET_LEAK_COUNTERS, nvmetLeakCountsRaw, nvmetTestbedLeaks } from './leak-check';
