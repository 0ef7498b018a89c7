/**
 * Connection establishment, reduced to its outcome: a local RC QP and a remote host's QP bound
 * to each other, the local QP walked RESET → INIT → RTR → RTS. Address and route resolution and
 * the CM message exchange are not modelled.
 *
 * @kernel drivers/infiniband/core/cma.c (rdma_connect / rdma_accept and the QP transitions they
 *   drive: rdma_init_qp_attr, ib_modify_qp)
 */
import type { KResult } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import { IB_PORT_ACTIVE } from './ib-device';
import type { IbQp } from './ib-qp';
import { IB_QPS_INIT, IB_QPS_RESET, IB_QPS_RTR, IB_QPS_RTS, ibModifyQp } from './ib-qp';
import type { RemoteQp } from './remote-host';

/**
 * Connects a local QP to a remote host's QP and makes it ready to send.
 * @param qp the local QP, in RESET or INIT.
 * @param remote the remote QP, not connected yet.
 * @returns `0`; `-EINVAL` for a destroyed QP or one past INIT; `-EISCONN` when either side is
 *   connected already; `-ENETUNREACH` when the QP's port is not active. On failure nothing
 *   changes.
 * @kernel rdma_connect / rdma_accept
 */
export function rdmaConnect(qp: IbQp, remote: RemoteQp): KResult {
  if (qp.isDestroyed || (qp.state !== IB_QPS_RESET && qp.state !== IB_QPS_INIT)) return err('EINVAL');
  if (qp.peer !== null || remote.peer !== null) return err('EISCONN');
  if (qp.device.port(qp.portNum)!.attr.state !== IB_PORT_ACTIVE) return err('ENETUNREACH');
  qp.peer = remote;
  remote.peer = qp;
  if (qp.state === IB_QPS_RESET) ibModifyQp(qp, IB_QPS_INIT);
  ibModifyQp(qp, IB_QPS_RTR);
  ibModifyQp(qp, IB_QPS_RTS);
  return 0;
}
