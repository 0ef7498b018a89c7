/**
 * Target ports: a transport address (`trtype`, `adrfam`, `traddr`, `trsvcid`) the target listens
 * on, and the subsystems exported through it. A port is enabled (its transport listens) when
 * its first subsystem is linked and disabled when the last link goes.
 *
 * @kernel drivers/nvme/target/nvmet.h (struct nvmet_port), core.c (nvmet_enable_port,
 *   nvmet_disable_port, nvmet_port_del_ctrls)
 */
import type { KResult } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import type { NvmetSubsys } from './subsys';
import type { NvmetTarget } from './target';
import type { NvmetFabricsOps } from './transport';

/**
 * A port.
 * @kernel struct nvmet_port
 */
export class NvmetPort {
  /** The target. */
  readonly target: NvmetTarget;
  /** Port ID (the configfs directory name). @kernel disc_addr.portid */
  readonly portid: number;
  /** `NVMF_TRTYPE_*`, 0 until set. @kernel disc_addr.trtype */
  trtype = 0;
  /** `NVMF_ADDR_FAMILY_*`, 0 until set. @kernel disc_addr.adrfam */
  adrfam = 0;
  /** `NVMF_TREQ_*`. @kernel disc_addr.treq */
  treq = 0;
  /** Transport address (`192.168.1.10`). @kernel disc_addr.traddr */
  traddr = '';
  /** Transport service ID (`4420`). @kernel disc_addr.trsvcid */
  trsvcid = '';
  /** In-capsule data size; -1 = the transport's default (set when the port is enabled). @kernel inline_data_size */
  inlineDataSize = -1;
  /** Seed patch 10: use p2pmem for I/O queues of controllers connecting here. @kernel nvmet_port.allow_p2pmem */
  allowP2pmem = false;
  /** Whether the transport listens. @kernel nvmet_port.enabled */
  enabled = false;
  /** Linked subsystems, in link order. @kernel nvmet_port.subsystems */
  readonly subsystems: NvmetSubsys[] = [];
  /** The transport serving it while enabled. */
  ops: NvmetFabricsOps | null = null;
  /** Transport-private state (the RDMA listener). @kernel nvmet_port.priv */
  priv: unknown = null;

  /**
   * @param target the target.
   * @param portid the port ID.
   */
  constructor(target: NvmetTarget, portid: number) {
    this.target = target;
    this.portid = portid;
  }
}

/**
 * Enables a port: its transport starts listening.
 * @param port the port.
 * @returns `0`; `-EINVAL` when no transport of the port's `trtype` is registered (`transport
 *   type %d not supported`); or the transport's `addPort` errno. The port stays disabled on
 *   failure.
 * @kernel nvmet_enable_port
 */
export function nvmetEnablePort(port: NvmetPort): KResult {
  const t = port.target;
  const ops = t.transports.get(port.trtype);
  if (ops === undefined) {
    t.kernel.log.prErr(`nvmet: transport type ${port.trtype} not supported`);
    return err('EINVAL');
  }
  const ret = ops.addPort(port);
  if (ret !== 0) return ret;
  if (port.inlineDataSize < 0) port.inlineDataSize = 0;
  port.ops = ops;
  port.enabled = true;
  return 0;
}

/**
 * Disables a port: the transport stops listening (connected queues stay until their
 * controllers go).
 * @param port an enabled port.
 * @kernel nvmet_disable_port
 */
export function nvmetDisablePort(port: NvmetPort): void {
  const ops = port.ops;
  if (!port.enabled || ops === null) return;
  port.enabled = false;
  port.ops = null;
  ops.removePort(port);
}

/**
 * Deletes the controllers a port serves for one subsystem (the subsystem was unlinked from the
 * port). Linux 6.6 does this; 4.16 left them connected.
 * @param port the port.
 * @param subsys the subsystem.
 * @kernel nvmet_port_del_ctrls
 */
export function nvmetPortDelCtrls(port: NvmetPort, subsys: NvmetSubsys): void {
  for (const ctrl of [...subsys.ctrls]) if (ctrl.port === port) ctrl.ops.deleteCtrl(ctrl);
}
