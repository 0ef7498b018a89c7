/**
 * @p2pdma/nvme-pci: the NVMe controller hardware model (registers, doorbells, queues, PRP
 * walking, CMB, media holding real bytes) and the NVMe PCIe host driver (probe, CMB as p2pmem,
 * SQs in the CMB, the pseudo-CMB quirk, namespaces as blk-mq block devices, queue_rq with P2P
 * mapping). Hand-curated public API; see README.md.
 */

// Shared NVMe definitions (include/linux/nvme.h).
export type { NvmeCapFields, RegisterField } from './nvme-regs';
export {
  NVME_AQA_ACQS_SHIFT,
  NVME_AQA_ASQS_MASK,
  NVME_CAP_FIELDS,
  NVME_CAP_MPSMAX,
  NVME_CAP_MPSMIN,
  NVME_CAP_MQES,
  NVME_CAP_NSSRC,
  NVME_CAP_STRIDE,
  NVME_CAP_TIMEOUT,
  NVME_CC_AMS_RR,
  NVME_CC_AMS_SHIFT,
  NVME_CC_CSS_NVM,
  NVME_CC_CSS_SHIFT,
  NVME_CC_ENABLE,
  NVME_CC_IOCQES,
  NVME_CC_IOCQES_SHIFT,
  NVME_CC_IOSQES,
  NVME_CC_IOSQES_SHIFT,
  NVME_CC_MPS_SHIFT,
  NVME_CC_SHN_ABRUPT,
  NVME_CC_SHN_MASK,
  NVME_CC_SHN_NONE,
  NVME_CC_SHN_NORMAL,
  NVME_CC_SHN_SHIFT,
  NVME_CMB_BIR,
  NVME_CMB_OFST,
  NVME_CMBSZ_CQS,
  NVME_CMBSZ_FLAG_BITS,
  NVME_CMBSZ_LISTS,
  NVME_CMBSZ_RDS,
  NVME_CMBSZ_SQS,
  NVME_CMBSZ_SZ_MASK,
  NVME_CMBSZ_SZ_SHIFT,
  NVME_CMBSZ_SZU_MASK,
  NVME_CMBSZ_SZU_SHIFT,
  NVME_CMBSZ_WDS,
  NVME_CSTS_CFS,
  NVME_CSTS_NSSRO,
  NVME_CSTS_PP,
  NVME_CSTS_RDY,
  NVME_CSTS_SHST_CMPLT,
  NVME_CSTS_SHST_MASK,
  NVME_CSTS_SHST_NORMAL,
  NVME_CSTS_SHST_OCCUR,
  NVME_REG_ACQ,
  NVME_REG_AQA,
  NVME_REG_ASQ,
  NVME_REG_CAP,
  NVME_REG_CC,
  NVME_REG_CMBLOC,
  NVME_REG_CMBSZ,
  NVME_REG_CSTS,
  NVME_REG_DBS,
  NVME_REG_INTMC,
  NVME_REG_INTMS,
  NVME_REG_NSSR,
  NVME_REG_VS,
  NVME_VS,
  nvmeCapDecode,
  nvmeCapEncode,
  nvmeDoorbellOffset,
} from './nvme-regs';
export type { NvmeStatus } from './nvme-status';
export {
  isNvmeStatus,
  NVME_SC_ABORT_QUEUE,
  NVME_SC_ABORT_REQ,
  NVME_SC_ACCESS_DENIED,
  NVME_SC_APPTAG_CHECK,
  NVME_SC_BAD_ATTRIBUTES,
  NVME_SC_CAP_EXCEEDED,
  NVME_SC_CMB_INVALID_USE,
  NVME_SC_CMD_INTERRUPTED,
  NVME_SC_CMD_SEQ_ERROR,
  NVME_SC_CMDID_CONFLICT,
  NVME_SC_COMPARE_FAILED,
  NVME_SC_CQ_INVALID,
  NVME_SC_DATA_XFER_ERROR,
  NVME_SC_DNR,
  NVME_SC_GUARD_CHECK,
  NVME_SC_HOST_PATH_ERROR,
  NVME_SC_INTERNAL,
  NVME_SC_INVALID_FIELD,
  NVME_SC_INVALID_NS,
  NVME_SC_INVALID_OPCODE,
  NVME_SC_INVALID_PI,
  NVME_SC_INVALID_QUEUE_DELETION,
  NVME_SC_INVALID_VECTOR,
  NVME_SC_LBA_RANGE,
  NVME_SC_MASK,
  NVME_SC_MORE,
  NVME_SC_NS_NOT_READY,
  NVME_SC_ONCS_NOT_SUPPORTED,
  NVME_SC_POWER_LOSS,
  NVME_SC_PRP_INVALID_OFFSET,
  NVME_SC_QID_INVALID,
  NVME_SC_QUEUE_SIZE,
  NVME_SC_READ_ERROR,
  NVME_SC_READ_ONLY,
  NVME_SC_REFTAG_CHECK,
  NVME_SC_RESERVATION_CONFLICT,
  NVME_SC_SUCCESS,
  NVME_SC_UNWRITTEN_BLOCK,
  NVME_SC_WRITE_FAULT,
  NVME_STATUS_NAMES,
  nvmeStatusDnr,
  nvmeStatusFromCqeField,
  nvmeStatusName,
  nvmeStatusToCqeField,
} from './nvme-status';
export type { NvmeCommand, NvmeCompletion } from './nvme-command';
export {
  NVME_ADDR_INVALID,
  NVME_CQ_IRQ_ENABLED,
  NVME_CQE_SIZE,
  NVME_FEAT_NUM_QUEUES,
  NVME_FEAT_VOLATILE_WC,
  NVME_ID_CNS_CTRL,
  NVME_ID_CNS_NS,
  NVME_ID_CNS_NS_ACTIVE_LIST,
  NVME_ID_CTRL,
  NVME_ID_NS,
  NVME_IDENTIFY_DATA_SIZE,
  NVME_QUEUE_PHYS_CONTIG,
  NVME_RW_FUA,
  NVME_SQ_PRIO_MEDIUM,
  NVME_SQE_SIZE,
  nvme_admin_abort_cmd,
  nvme_admin_async_event,
  nvme_admin_create_cq,
  nvme_admin_create_sq,
  nvme_admin_delete_cq,
  nvme_admin_delete_sq,
  nvme_admin_get_features,
  nvme_admin_get_log_page,
  nvme_admin_identify,
  nvme_admin_set_features,
  nvme_cmd_dsm,
  nvme_cmd_flush,
  nvme_cmd_read,
  nvme_cmd_write,
  nvme_cmd_write_zeroes,
  nvmeCommand,
  nvmeDecodeCommand,
  nvmeDecodeCompletion,
  nvmeEncodeCommand,
  nvmeEncodeCompletion,
} from './nvme-command';

// The controller hardware model.
export type { RegAccess, RegisterDef } from './controller/register-file';
export { RegisterFile } from './controller/register-file';
export type { NvmeRegisterTarget } from './controller/nvme-registers';
export { NVME_CONTROLLER_REGISTERS } from './controller/nvme-registers';
export type {
  NvmeCmbFlag,
  NvmeCmbLayout,
  NvmeCmbRaw,
  NvmeControllerConfig,
  NvmeNamespaceConfig,
  NvmeProcessing,
  ResolvedNamespace,
  ResolvedNvmeConfig,
} from './controller/controller-config';
export {
  NVME_CMB_SZU_DEFINED,
  NVME_DEFAULT_CAP,
  NVME_DEFAULT_VS,
  NVME_PSEUDO_CMB_ADAPTERS,
  NvmeConfigError,
  nvmeCmbUnitBytes,
  nvmeEncodeCmbLayout,
  resolveNvmeConfig,
} from './controller/controller-config';
export type { ShowRegs, ShowRegsResult } from './controller/show-regs';
export { formatShowRegs, nvmeConfigFromShowRegs, parseShowRegs, SHOW_REGS_REQUIRED, SHOW_REGS_SZU_NAMES } from './controller/show-regs';
export type { NvmeCmbPlacement } from './controller/cmb';
export { NvmeCmbMemory, nvmeCmbPlacement } from './controller/cmb';
export type { NvmeMediaStats } from './controller/media';
export { NvmeNamespaceMedia } from './controller/media';
export { NvmeCompletionQueue, NvmeSubmissionQueue } from './controller/queues';
export type { DmaEngineStats, DmaSegment, PrpWalk } from './controller/dma-engine';
export { NvmeDmaEngine } from './controller/dma-engine';
export type { CommandOutcome, NvmeCommandHandler } from './controller/admin-commands';
export { NVME_ADMIN_COMMANDS, nvmeIdentifyControllerData, nvmeIdentifyNamespaceData } from './controller/admin-commands';
export { NVME_IO_COMMANDS } from './controller/io-commands';
export type { NvmeCommandTrace, NvmeControllerStats, NvmeStatusInjection } from './controller/nvme-controller';
export { attachNvmeController, NVME_TRACE_LIMIT, NvmeController, nvmeControllerOf } from './controller/nvme-controller';
export { attachNvmeControllers, isNvmeFunction, nvmeConfigFromSpec, PCI_CLASS_NVME } from './controller/attach';

// The host driver.
export {
  NVME_QUIRK_DEALLOCATE_ZEROES,
  NVME_QUIRK_DELAY_BEFORE_CHK_RDY,
  NVME_QUIRK_IDENTIFY_CNS,
  NVME_QUIRK_LIGHTNVM,
  NVME_QUIRK_NAMES,
  NVME_QUIRK_NO_APST,
  NVME_QUIRK_NO_DEEPEST_PS,
  NVME_QUIRK_PSEUDO_CMB_BAR4,
  NVME_QUIRK_STRIPE_SIZE,
  nvmeQuirkNames,
} from './nvme-quirks';
export type { NvmeIdEntry } from './nvme-id-table';
export { NVME_ID_TABLE, PCI_CLASS_STORAGE_EXPRESS, PCI_VENDOR_ID_APPLE, PCI_VENDOR_ID_INTEL, PCI_VENDOR_ID_SAMSUNG } from './nvme-id-table';
export type { NvmeCtrlOps, NvmeCtrlState, NvmeSubmitSync, NvmeSyncResult } from './nvme-ctrl';
export { NVME_F_FABRICS, NVME_F_METADATA_SUPPORTED, NVME_F_PCI_P2PDMA, NvmeCtrl } from './nvme-ctrl';
export type { NvmeCorePolicy, NvmeRequest } from './nvme-core';
export {
  NVME_AQ_BLK_MQ_DEPTH,
  NVME_AQ_DEPTH,
  NVME_CORE_POLICY,
  NVME_MAX_RETRIES,
  NVME_REQ_CANCELLED,
  nvmeAllocNs,
  nvmeCompleteRq,
  nvmeDisableCtrl,
  nvmeEnableCtrl,
  nvmeInitIdentify,
  nvmeRemoveNamespaces,
  nvmeScanNamespaces,
  nvmeSetQueueCount,
  nvmeSetQueueLimits,
  nvmeSetupCmd,
  nvmeShutdownCtrl,
  nvmeWaitReady,
} from './nvme-core';
export { NvmeNs } from './nvme-ns';
export { NVME_ERROR_STATUS, nvmeErrorStatus } from './nvme-error-status';
export type { NvmeDevStats, NvmePciParams, NvmePciPolicy, NvmeSqDoorbellOrdering, ResolvedNvmePciParams } from './nvme-dev';
export { NVME_PCI_POLICY, NvmeDev } from './nvme-dev';
export type { AdminWaiter } from './nvme-queue';
export { CQ_SIZE, NvmeQueue, nvmeAllocQueue, nvmeAllocSqCmds, nvmeFreeQueue, nvmeInitQueue, nvmeIrq, nvmeProcessCq, nvmeSubmitCmd, SQ_SIZE } from './nvme-queue';
export type { NvmeCmbDecode } from './nvme-cmb';
export { nvmeCmbDecode, nvmeCmbQdepth, nvmeCmbSize, nvmeCmbSizeUnit, nvmeMapCmb, nvmePseudoCmbsz, nvmeReleaseCmb, nvmeShouldMapCmb, SZ_16M } from './nvme-cmb';
export type { NvmeIod } from './nvme-map-data';
export { NVME_PRP_LIST_PAGE, nvmeIod, nvmeMapData, nvmeSetupPrps, nvmeUnmapData } from './nvme-map-data';
export type { NvmePciDriver } from './nvme-pci';
export {
  NVME_DEFAULT_IO_QUEUE_DEPTH,
  NVME_IO_TIMEOUT_NS,
  NVME_MAX_KB_SZ,
  NVME_MAX_SEGS,
  NVME_PCI_CTRL_OPS,
  NVME_PCI_CTRL_OPS_NO_P2PDMA,
  nvmeCreateIoQueues,
  nvmeCreateQueue,
  nvmeDevAdd,
  nvmeDevDisable,
  nvmeDevOf,
  nvmeInit,
  nvmePciCompleteRq,
  nvmePciConfigureAdminQueue,
  nvmePciEnable,
  nvmeProbe,
  nvmeQueueRq,
  nvmeRemove,
  nvmeResetWork,
  nvmeSetupIoQueues,
  nvmeSubmitSyncCmd,
  nvmeTimeout,
} from './nvme-pci';
export { NVME_RESET_FAILURE_LINE, nvmePciCtrlIsDead, nvmeReadCsts, nvmeResetCtrlWork, nvmeShouldReset, nvmeTimeoutReset, nvmeWarnReset } from './nvme-reset';
