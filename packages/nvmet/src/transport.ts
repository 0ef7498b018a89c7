/**
 * What a fabrics transport (RDMA, loop, ...) gives the target core: how to listen on a port,
 * how to send a completed request back, and how to tear a controller's queues down.
 *
 * @kernel drivers/nvme/target/nvmet.h (struct nvmet_fabrics_ops), core.c
 *   (nvmet_register_transport, nvmet_unregister_transport)
 */
import type { KResult } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import type { NvmetCtrl } from './ctrl';
import type { NvmetPort } from './port';
import type { NvmetReq } from './req';
import type { NvmetTarget } from './target';

/**
 * A transport's operations.
 * @kernel struct nvmet_fabrics_ops
 */
export interface NvmetFabricsOps {
  /** Transport name for messages (`rdma`). */
  readonly name: string;
  /** `NVMF_TRTYPE_*` it serves. @kernel nvmet_fabrics_ops.type */
  readonly type: number;
  /** Maximum SGL data block descriptors per command (Identify `msdbd`). @kernel msdbd */
  readonly msdbd: number;
  /** Whether it takes keyed SGL descriptors (RDMA). @kernel has_keyed_sgls */
  readonly hasKeyedSgls: boolean;
  /** In-capsule data a port takes by default (`PAGE_SIZE` for RDMA; 0: none). @kernel sqe_inline_size */
  readonly defaultInlineDataSize: number;
  /**
   * Starts listening on a port (the port's address attributes are set).
   * @returns `0` or a negated errno (the port stays disabled).
   * @kernel nvmet_fabrics_ops.add_port
   */
  addPort(port: NvmetPort): KResult;
  /**
   * Stops listening on a port.
   * @kernel nvmet_fabrics_ops.remove_port
   */
  removePort(port: NvmetPort): void;
  /**
   * Sends a request's completion (and its read data) back to the host. Called once per request.
   * @kernel nvmet_fabrics_ops.queue_response
   */
  queueResponse(req: NvmetReq): void;
  /**
   * Tears down every queue of a controller (after a fatal error or keep-alive expiry).
   * @kernel nvmet_fabrics_ops.delete_ctrl
   */
  deleteCtrl(ctrl: NvmetCtrl): void;
}

/**
 * Registers a transport with a target.
 * @param target the target.
 * @param ops the transport.
 * @returns `0`, or `-EBUSY` when the type is taken.
 * @kernel nvmet_register_transport
 */
export function nvmetRegisterTransport(target: NvmetTarget, ops: NvmetFabricsOps): KResult {
  if (target.transports.has(ops.type)) return err('EBUSY');
  target.transports.set(ops.type, ops);
  return 0;
}

/**
 * Unregisters a transport.
 * @param target the target.
 * @param ops the transport registered before.
 * @kernel nvmet_unregister_transport
 */
export function nvmetUnregisterTransport(target: NvmetTarget, ops: NvmetFabricsOps): void {
  if (target.transports.get(ops.type) === ops) target.transports.delete(ops.type);
}
