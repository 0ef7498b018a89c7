/**
 * The NVM command set the controller model implements, as a table by opcode: Read, Write and
 * Flush. Data moves between the namespace's media and the PRP-described buffers through the
 * DMA engine; a PRP pointing into the controller's own CMB needs the matching CMBSZ support
 * bit (WDS for write data, RDS for read data), else Invalid Use of Controller Memory Buffer.
 *
 * @kernel (hardware) NVMe 1.3 section 6 (NVM command set)
 */
import type { NvmeCommand } from '../nvme-command';
import { nvme_cmd_flush, nvme_cmd_read, nvme_cmd_write } from '../nvme-command';
import { NVME_CMBSZ_RDS, NVME_CMBSZ_WDS } from '../nvme-regs';
import {
  NVME_SC_CMB_INVALID_USE,
  NVME_SC_DATA_XFER_ERROR,
  NVME_SC_INVALID_FIELD,
  NVME_SC_INVALID_NS,
  NVME_SC_LBA_RANGE,
  NVME_SC_SUCCESS,
  nvmeStatusDnr,
} from '../nvme-status';
import type { CommandOutcome, NvmeCommandHandler } from './admin-commands';
import type { DmaSegment } from './dma-engine';
import type { NvmeNamespaceMedia } from './media';
import type { NvmeController } from './nvme-controller';

const fail = (s: Parameters<typeof nvmeStatusDnr>[0]): CommandOutcome => ({ status: nvmeStatusDnr(s) });

/** A decoded Read/Write: the namespace, block range and data segments, or the failure. */
type RwPlan = { ok: true; ns: NvmeNamespaceMedia; slba: number; bytes: number; segs: readonly DmaSegment[] } | { ok: false; out: CommandOutcome };

function planRw(ctrl: NvmeController, cmd: NvmeCommand, cmbFlag: number): RwPlan {
  const ns = ctrl.media(cmd.nsid);
  if (ns === null || ns.blocks === 0) return { ok: false, out: fail(NVME_SC_INVALID_NS) };
  const nlb = (cmd.cdw12 & 0xffff) + 1;
  const slba = cmd.cdw11 > 0x1f_ffff ? Number.MAX_SAFE_INTEGER : cmd.cdw11 * 2 ** 32 + cmd.cdw10;
  if (!ns.inRange(slba, nlb)) return { ok: false, out: fail(NVME_SC_LBA_RANGE) };
  const bytes = nlb * ns.lbaSize;
  if (ctrl.config.mdts !== 0 && bytes > 2 ** ctrl.config.mdts * ctrl.pageSize) return { ok: false, out: fail(NVME_SC_INVALID_FIELD) };
  const walk = ctrl.dma.walkPrps(cmd.prp1, cmd.prp2, bytes, ctrl.pageSize, ctrl.cmbListsAllowed);
  if (!walk.ok) return { ok: false, out: { status: walk.status } };
  if ((ctrl.cmbCaps & cmbFlag) === 0 && walk.segs.some((s) => ctrl.dma.inCmb(s.addr, s.len))) return { ok: false, out: fail(NVME_SC_CMB_INVALID_USE) };
  return { ok: true, ns, slba, bytes, segs: walk.segs };
}

/**
 * The staging buffer of Read/Write data, reused from command to command instead of allocating
 * one per I/O: every byte of it is overwritten before it is used (gather fills it, or the command
 * fails before the media sees it; the media read fills it), and nothing keeps it afterwards
 * (media and fabric copy). A command that runs while another holds it gets a fresh buffer.
 */
let staging = new Uint8Array(0);
let stagingBusy = false;

function takeStaging(bytes: number): Uint8Array {
  if (stagingBusy) return new Uint8Array(bytes);
  stagingBusy = true;
  if (staging.length < bytes) staging = new Uint8Array(bytes);
  return staging.length === bytes ? staging : staging.subarray(0, bytes);
}

function releaseStaging(buf: Uint8Array): void {
  if (buf.buffer === staging.buffer) stagingBusy = false;
}

/** Write: gather the data, then store it. */
const write: NvmeCommandHandler = {
  name: 'Write',
  exec(ctrl, cmd) {
    const p = planRw(ctrl, cmd, NVME_CMBSZ_WDS);
    if (!p.ok) return p.out;
    const buf = takeStaging(p.bytes);
    try {
      if (!ctrl.dma.gather(p.segs, buf)) return fail(NVME_SC_DATA_XFER_ERROR);
      p.ns.writeBlocks(p.slba, buf);
    } finally {
      releaseStaging(buf);
    }
    return { status: NVME_SC_SUCCESS };
  },
};

/** Read: load the data, then scatter it. */
const read: NvmeCommandHandler = {
  name: 'Read',
  exec(ctrl, cmd) {
    const p = planRw(ctrl, cmd, NVME_CMBSZ_RDS);
    if (!p.ok) return p.out;
    const buf = takeStaging(p.bytes);
    try {
      p.ns.readBlocks(p.slba, buf);
      if (!ctrl.dma.scatter(p.segs, buf)) return fail(NVME_SC_DATA_XFER_ERROR);
    } finally {
      releaseStaging(buf);
    }
    return { status: NVME_SC_SUCCESS };
  },
};

/** Flush: the model's media is always durable. */
const flush: NvmeCommandHandler = {
  name: 'Flush',
  exec(ctrl, cmd) {
    const ns = ctrl.media(cmd.nsid);
    if (cmd.nsid !== 0xffff_ffff && ns === null) return fail(NVME_SC_INVALID_NS);
    return { status: NVME_SC_SUCCESS };
  },
};

/** The NVM command set by opcode. */
export const NVME_IO_COMMANDS: ReadonlyMap<number, NvmeCommandHandler> = new Map([
  [nvme_cmd_flush, flush],
  [nvme_cmd_write, write],
  [nvme_cmd_read, read],
]);
