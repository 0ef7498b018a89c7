/**
 * @p2pdma/rdma-rw: the RDMA core read/write API (drivers/infiniband/core/rw.c) with the seed's
 * `RDMA_RW_CTX_FLAG_PCI_P2PDMA` and 6.6's page-based decision, the verbs it needs (devices, PDs,
 * CQs, RC QPs, work requests and completions), an RNIC hardware model behind a PCI function with
 * its mlx5 driver, a software RDMA device (rxe), and remote hosts at the other end of the wire.
 * Hand-curated public API; see README.md.
 */
export type { IbPollContext } from './ib-cq';
export { IB_POLL_DIRECT, IB_POLL_SOFTIRQ, IB_POLL_WORKQUEUE, IbCq, ibAllocCq, ibFreeCq, ibPollCq, ibProcessCqDirect } from './ib-cq';
export type { IbDeviceAttr, IbDeviceOps, IbDeviceRegistration, IbPortAttr, IbPortCounters, IbTiming } from './ib-device';
export {
  IB_PORT_ACTIVE,
  IB_PORT_DOWN,
  IbDevice,
  IbPort,
  ibDeviceGetByName,
  ibDevices,
  ibRegisterDevice,
  ibUnregisterDevice,
  ibUsesVirtDma,
} from './ib-device';
export { IB_ACCESS_ALL, IB_ACCESS_LOCAL_WRITE, IB_ACCESS_NAMES, IB_ACCESS_REMOTE_ATOMIC, IB_ACCESS_REMOTE_READ, IB_ACCESS_REMOTE_WRITE } from './ib-mr';
export { IbPd, ibAllocPd, ibDeallocPd } from './ib-pd';
export type { BadWrRef, IbQpCap, IbQpInitAttr, IbQpState, IbQpType, IbRecvWr, IbSendWr, IbSge, IbWrOpcode } from './ib-qp';
export {
  IB_QPS_ERR,
  IB_QPS_INIT,
  IB_QPS_RESET,
  IB_QPS_RTR,
  IB_QPS_RTS,
  IB_QPT_RC,
  IB_QPT_UD,
  IB_SEND_SIGNALED,
  IB_SIGNAL_ALL_WR,
  IB_SIGNAL_REQ_WR,
  IB_WR_RDMA_READ,
  IB_WR_RDMA_WRITE,
  IB_WR_SEND,
  IbQp,
  ibCreateQp,
  ibDestroyQp,
  ibModifyQp,
  ibPostRecv,
  ibPostSend,
} from './ib-qp';
export type { IbCompletionErrorInfo, IbCompletionErrorSpec, IbCompletionErrorTarget } from './ib-qp-fault';
export { IB_COMPLETION_ERRORS, IB_VENDOR_ERR_INJECTED, IbQpCompletionFaults } from './ib-qp-fault';
export type { IbCqe, IbWc, IbWcOpcode, IbWcStatus } from './ib-wc';
export {
  IB_VENDOR_ERR,
  IB_WC_BAD_RESP_ERR,
  IB_WC_FATAL_ERR,
  IB_WC_GENERAL_ERR,
  IB_WC_INV_EEC_STATE_ERR,
  IB_WC_INV_EECN_ERR,
  IB_WC_LOC_ACCESS_ERR,
  IB_WC_LOC_EEC_OP_ERR,
  IB_WC_LOC_LEN_ERR,
  IB_WC_LOC_PROT_ERR,
  IB_WC_LOC_QP_OP_ERR,
  IB_WC_LOC_RDD_VIOL_ERR,
  IB_WC_MW_BIND_ERR,
  IB_WC_RDMA_READ,
  IB_WC_RDMA_WRITE,
  IB_WC_RECV,
  IB_WC_REM_ABORT_ERR,
  IB_WC_REM_ACCESS_ERR,
  IB_WC_REM_INV_RD_REQ_ERR,
  IB_WC_REM_INV_REQ_ERR,
  IB_WC_REM_OP_ERR,
  IB_WC_RESP_TIMEOUT_ERR,
  IB_WC_RETRY_EXC_ERR,
  IB_WC_RNR_RETRY_EXC_ERR,
  IB_WC_SEND,
  IB_WC_SUCCESS,
  IB_WC_WR_FLUSH_ERR,
  ibWcStatusMsg,
} from './ib-wc';
export {
  MLX5_CORE_PCI_TABLE,
  MLX5_CX5_ATTRS,
  MLX5_CX5_PORT,
  MLX5_FW_INIT_TIMEOUT_MILI,
  MLX5_RESERVED_LKEY,
  MLX5_TIMING,
  mlx5CoreDriver,
  mlx5IbDevice,
  PCI_VENDOR_ID_MELLANOX,
} from './mlx5';
export { rdmaConnect } from './rdma-cm';
export type { RemoteAccessError, RemoteHostCounters, RemoteHostOptions, RemoteMr } from './remote-host';
export { RemoteHost, RemoteQp } from './remote-host';
export type { FwRev, RegisterAccess, RnicOptions, RnicRegister, RnicStats } from './rnic';
export {
  MLX5_BF_OFFSET,
  MLX5_CMD_IF_REV,
  MLX5_INIT_SEG_CMD_DBELL,
  MLX5_INIT_SEG_CMDIF_REV_FW_SUB,
  MLX5_INIT_SEG_CMDQ_ADDR_H,
  MLX5_INIT_SEG_CMDQ_ADDR_L_SZ,
  MLX5_INIT_SEG_FW_REV,
  MLX5_INIT_SEG_INITIALIZING,
  MLX5_INIT_SEG_INTERNAL_TIMER_H,
  MLX5_INIT_SEG_INTERNAL_TIMER_L,
  MLX5_INIT_SEG_REGISTERS,
  MLX5_INITIALIZING_BIT,
  MLX5_OPCODE_RDMA_READ,
  MLX5_OPCODE_RDMA_WRITE,
  MLX5_OPCODE_SEND,
  MLX5_UAR_PAGE_OFFSET,
  MLX5_UAR_SQ_DOORBELL,
  Rnic,
  rnicAttach,
  rnicOf,
} from './rnic';
export type { RdmaRwMapping, RdmaRwType } from './rw';
export {
  FAULT_RDMA_RW_ALLOC,
  RDMA_RW_CTX_FLAG_PCI_P2PDMA,
  RDMA_RW_MULTI_WR,
  RDMA_RW_POLICY,
  RDMA_RW_SINGLE_WR,
  RdmaRwCtx,
  rdmaRwCtxDestroy,
  rdmaRwCtxInit,
  rdmaRwCtxPost,
  rdmaRwCtxWrs,
} from './rw';
export type { RxeOptions } from './rxe';
export { RXE_ATTRS, RXE_PORT, RXE_TIMING, rxeAdd } from './rxe';
