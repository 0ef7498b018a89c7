/**
 * The NVMe controller hardware model: a PCI function whose BAR0 is the NVMe register file and
 * doorbells, whose CMB (or pseudo-CMB BAR) holds real bytes, and whose DMA engine moves
 * commands, completions and data through pci-core's fabric.
 *
 * Behaviour:
 * - CC.EN 0→1 checks the configuration (MPS within CAP.MPSMIN..MPSMAX, the NVM command set,
 *   round-robin arbitration, admin queue sizes, page-aligned ASQ/ACQ). A bad one sets CSTS.CFS
 *   (logged) and the controller never becomes ready; a good one creates the admin queues and
 *   sets CSTS.RDY at once (CAP.TO is reported, not waited for). CC.EN 1→0 is a controller
 *   reset: every queue goes, CSTS clears. CC.SHN reports shutdown complete at once.
 * - Doorbells: the admin queue is processed during the doorbell write; I/O queues too in
 *   `'sync'` mode, or from a virtual-clock timer `delayNs` later. Each fetched entry is executed
 *   and its completion posted (phase tag, SQ head, status) to its completion queue, which then
 *   signals its MSI-X vector (delivered to the driver from a zero-delay timer). A full
 *   completion queue stalls its submission queues until the host's head doorbell frees room.
 * - A misbehaving driver is logged and ignored: writes to read-only or unknown registers, bad
 *   access sizes, doorbells of queues that do not exist, tail or head values outside the queue,
 *   doorbells while not ready. A submission entry that cannot be fetched is fatal (CSTS.CFS).
 *
 * Log lines carry the prefix `nvme-ctrl <bdf>: ` (the device's own voice, not the driver's).
 *
 * @kernel (hardware) NVM Express 1.3 controller; the PCI function the nvme driver binds to
 */
import type { KernelLog, MmioHandler } from '@p2pdma/kernel';
import { KERN_WARNING } from '@p2pdma/kernel';
import type { Fabric, PciDev } from '@p2pdma/pci-core';
import { IORESOURCE_MEM, pciResourceFlags, pciResourceLen, pciSystem } from '@p2pdma/pci-core';
import { msixSignal } from '../internal/msix';
import type { NvmeCommand } from '../nvme-command';
import { NVME_CQE_SIZE, NVME_SQE_SIZE, nvmeDecodeCommand, nvmeEncodeCompletion } from '../nvme-command';
import {
  NVME_AQA_ACQS_SHIFT,
  NVME_AQA_ASQS_MASK,
  NVME_CC_AMS_SHIFT,
  NVME_CC_CSS_SHIFT,
  NVME_CC_ENABLE,
  NVME_CC_MPS_SHIFT,
  NVME_CC_SHN_MASK,
  NVME_CMBSZ_LISTS,
  NVME_CMBSZ_RDS,
  NVME_CMBSZ_WDS,
  NVME_CSTS_CFS,
  NVME_CSTS_RDY,
  NVME_CSTS_SHST_CMPLT,
  NVME_REG_DBS,
  nvmeCapDecode,
} from '../nvme-regs';
import type { NvmeStatus } from '../nvme-status';
import { NVME_SC_ABORT_QUEUE, NVME_SC_INVALID_OPCODE, NVME_SC_SUCCESS, nvmeStatusDnr, nvmeStatusName } from '../nvme-status';
import type { CommandOutcome } from './admin-commands';
import { NVME_ADMIN_COMMANDS } from './admin-commands';
import { NvmeCmbMemory, nvmeCmbPlacement } from './cmb';
import type { NvmeControllerConfig, ResolvedNvmeConfig } from './controller-config';
import { NvmeConfigError, resolveNvmeConfig } from './controller-config';
import { NvmeDmaEngine } from './dma-engine';
import { NVME_IO_COMMANDS } from './io-commands';
import { NvmeNamespaceMedia } from './media';
import { NVME_CONTROLLER_REGISTERS, type NvmeRegisterTarget } from './nvme-registers';
import { NvmeCompletionQueue, NvmeSubmissionQueue } from './queues';
import { RegisterFile } from './register-file';
import type { ShowRegs } from './show-regs';
import { formatShowRegs } from './show-regs';

/** One executed command, as the controller saw it. */
export interface NvmeCommandTrace {
  /** Submission queue. */
  readonly qid: number;
  /** Command identifier. */
  readonly commandId: number;
  /** Opcode. */
  readonly opcode: number;
  /** Namespace. */
  readonly nsid: number;
  /** PRP1 as fetched. */
  readonly prp1: number;
  /** Completion status. */
  readonly status: NvmeStatus;
  /** Virtual time of execution (ns). */
  readonly time: number;
}

/** Controller counters. */
export interface NvmeControllerStats {
  /** Admin commands executed. */
  adminCommands: number;
  /** I/O commands executed. */
  ioCommands: number;
  /** Completions that carried an error status. */
  errors: number;
  /** Doorbell writes accepted. */
  doorbellWrites: number;
  /** Doorbell writes ignored (no such queue, bad value, not ready). */
  badDoorbellWrites: number;
  /** Register accesses ignored (read-only, unknown, bad size). */
  badRegisterAccesses: number;
  /** Times a submission queue started waiting on a full completion queue. */
  cqFullStalls: number;
  /** MSI-X signals sent. */
  interrupts: number;
}

/** How many executed commands `trace` keeps. */
export const NVME_TRACE_LIMIT = 4096;

/** An injected completion status for matching commands. */
export interface NvmeStatusInjection {
  /** Only commands with this opcode (default: any). */
  opcode?: number;
  /** Only admin (`true`) or I/O (`false`) commands (default: I/O). */
  admin?: boolean;
  /** The status to complete with (the command is not executed). */
  status: NvmeStatus;
  /** How many commands (default 1). */
  times?: number;
}

const controllers = new WeakMap<PciDev, NvmeController>();

/**
 * The controller model attached to a function.
 * @param pdev the function.
 * @returns the controller, or `null`.
 */
export function nvmeControllerOf(pdev: PciDev): NvmeController | null {
  return controllers.get(pdev) ?? null;
}

/** The NVMe controller model of one PCI function. Create with `attachNvmeController`. */
export class NvmeController implements NvmeRegisterTarget {
  /** The function. */
  readonly pdev: PciDev;
  /** The resolved description. */
  readonly config: ResolvedNvmeConfig;
  /** The DMA engine. */
  readonly dma: NvmeDmaEngine;
  /** Counters. */
  readonly stats: NvmeControllerStats = {
    adminCommands: 0,
    ioCommands: 0,
    errors: 0,
    doorbellWrites: 0,
    badDoorbellWrites: 0,
    badRegisterAccesses: 0,
    cqFullStalls: 0,
    interrupts: 0,
  };
  /** The last `NVME_TRACE_LIMIT` commands executed, oldest first. */
  readonly trace: NvmeCommandTrace[] = [];
  /** Submission queues by id. @internal used by the command set */
  readonly sqs = new Map<number, NvmeSubmissionQueue>();
  /** Completion queues by id. @internal used by the command set */
  readonly cqs = new Map<number, NvmeCompletionQueue>();
  /** Queue counts granted by Set Features (Number of Queues), or `null` before. */
  queuesGranted: { nsqa: number; ncqa: number } | null = null;
  /** Volatile write cache enabled (Set Features). */
  writeCacheEnabled = false;
  /** The CMB's memory (`null`: none, or detached). */
  cmb: NvmeCmbMemory | null = null;
  /** CC. */
  cc = 0;
  /** CSTS. */
  csts = 0;
  /** AQA. */
  aqa = 0;
  /** ASQ. */
  asq = 0n;
  /** ACQ. */
  acq = 0n;
  /** Interrupt mask (INTMS/INTMC; kept, not applied: MSI-X ignores it). */
  intms = 0;
  /** How many times `injectFatal` was called. */
  fatalInjections = 0;
  private readonly log: KernelLog;
  private readonly regs: RegisterFile<NvmeRegisterTarget>;
  private readonly ns = new Map<number, NvmeNamespaceMedia>();
  private readonly injections: Array<Required<Omit<NvmeStatusInjection, 'opcode'>> & { opcode: number | null }> = [];
  private attached = false;
  /** Doorbell stride in bytes (CAP.DSTRD, fixed for the controller's life). */
  private readonly dbStride: number;
  /** Where `fetch` reads a submission queue entry. */
  private readonly sqeBuf = new Uint8Array(NVME_SQE_SIZE);

  /**
   * @param pdev the function.
   * @param config the resolved description.
   * @param fabric the machine's fabric.
   * @internal use `attachNvmeController`.
   */
  constructor(pdev: PciDev, config: ResolvedNvmeConfig, fabric: Fabric) {
    this.pdev = pdev;
    this.config = config;
    this.log = pdev.kernel.log;
    this.dbStride = 4 << nvmeCapDecode(config.cap).dstrd;
    this.dma = new NvmeDmaEngine(pdev, fabric, () => this.cmb);
    this.regs = new RegisterFile<NvmeRegisterTarget>(NVME_CONTROLLER_REGISTERS, this, (m) => {
      this.stats.badRegisterAccesses++;
      this.warn(m);
    });
    for (const n of config.namespaces) this.ns.set(n.nsid, new NvmeNamespaceMedia(n, config.readBytesPerSec, config.writeBytesPerSec));
  }

  /** CAP. */
  get cap(): bigint {
    return this.config.cap;
  }
  /** VS. */
  get vs(): number {
    return this.config.vs;
  }
  /** CMBLOC as reported (0 for a pseudo-CMB). */
  get cmbloc(): number {
    return this.config.cmbloc;
  }
  /** CMBSZ as reported (0 for a pseudo-CMB). */
  get cmbsz(): number {
    return this.config.cmbsz;
  }
  /** What the CMB memory really supports: CMBSZ's bits, or read and write data for a pseudo-CMB. */
  get cmbCaps(): number {
    return this.config.pseudoCmbBar !== null ? NVME_CMBSZ_WDS | NVME_CMBSZ_RDS : this.config.cmbsz;
  }
  /** Whether PRP lists may live in the CMB. */
  get cmbListsAllowed(): boolean {
    return (this.cmbCaps & NVME_CMBSZ_LISTS) !== 0;
  }
  /** The memory page size CC.MPS selects. */
  get pageSize(): number {
    return 2 ** (12 + ((this.cc >>> NVME_CC_MPS_SHIFT) & 0xf));
  }
  /** Whether the controller is ready (CSTS.RDY). */
  get ready(): boolean {
    return (this.csts & NVME_CSTS_RDY) !== 0;
  }
  /** Whether it has attached to its function. */
  get isAttached(): boolean {
    return this.attached;
  }

  /**
   * A namespace's media.
   * @param nsid namespace ID.
   * @returns the media, or `null`.
   */
  media(nsid: number): NvmeNamespaceMedia | null {
    return this.ns.get(nsid) ?? null;
  }

  /** Namespace IDs, ascending. */
  namespaceIds(): number[] {
    return [...this.ns.keys()].sort((a, b) => a - b);
  }

  /**
   * Makes the next matching commands complete with a status instead of executing.
   * @param inj which commands, the status, how many.
   */
  injectStatus(inj: NvmeStatusInjection): void {
    this.injections.push({ opcode: inj.opcode ?? null, admin: inj.admin ?? false, status: inj.status, times: inj.times ?? 1 });
  }

  /**
   * Fails the controller as an internal fatal error does: CSTS.CFS is set and no submission
   * queue is processed any more (entries stay unfetched, nothing completes) until a controller
   * reset (CC.EN 1 → 0) clears it. Logged `controller fatal status (CSTS.CFS) injected`.
   * Counted in `fatalInjections`.
   * @kernel (hardware) NVMe controller fatal status, CSTS.CFS
   */
  injectFatal(): void {
    this.csts |= NVME_CSTS_CFS;
    this.fatalInjections++;
    this.warn('controller fatal status (CSTS.CFS) injected');
  }

  /** The registers as `nvme show-regs` reads them. */
  registers(): ShowRegs {
    return { cap: this.cap, vs: this.vs, intms: this.intms, intmc: this.intms, cc: this.cc, csts: this.csts, nssr: 0, aqa: this.aqa, asq: this.asq, acq: this.acq, cmbloc: this.cmbloc, cmbsz: this.cmbsz };
  }

  /** The registers printed as `nvme show-regs -H` prints them. */
  showRegs(): string {
    return formatShowRegs(this.registers());
  }

  /** @internal register table hook. */
  maskInterrupts(bits: number): void {
    this.intms = (this.intms | bits) >>> 0;
  }
  /** @internal register table hook. */
  unmaskInterrupts(bits: number): void {
    this.intms = (this.intms & ~bits) >>> 0;
  }
  /** @internal register table hook. */
  writeNssr(_value: number): void {
    this.warn('NSSR written but NVM subsystem reset is not supported (CAP.NSSRS 0); ignored');
    this.stats.badRegisterAccesses++;
  }
  /** @internal register table hook. */
  writeAqa(value: number): void {
    if (this.enabled()) {
      this.ignoreWhileEnabled('AQA');
      return;
    }
    this.aqa = value & ((NVME_AQA_ASQS_MASK << NVME_AQA_ACQS_SHIFT) | NVME_AQA_ASQS_MASK);
  }
  /** @internal register table hook. */
  writeAsq(value: bigint): void {
    if (this.enabled()) {
      this.ignoreWhileEnabled('ASQ');
      return;
    }
    this.asq = value;
  }
  /** @internal register table hook. */
  writeAcq(value: bigint): void {
    if (this.enabled()) {
      this.ignoreWhileEnabled('ACQ');
      return;
    }
    this.acq = value;
  }

  /** @internal register table hook: CC. */
  writeCc(value: number): void {
    const was = this.cc;
    this.cc = value >>> 0;
    const en = (value & NVME_CC_ENABLE) !== 0;
    const wasEn = (was & NVME_CC_ENABLE) !== 0;
    if (!wasEn && en) this.enable();
    else if (wasEn && !en) this.reset();
    const shn = value & NVME_CC_SHN_MASK;
    if (shn !== 0 && (was & NVME_CC_SHN_MASK) === 0) this.csts = (this.csts & ~0xc) | NVME_CSTS_SHST_CMPLT;
  }

  private enabled(): boolean {
    return (this.cc & NVME_CC_ENABLE) !== 0;
  }

  private ignoreWhileEnabled(name: string): void {
    this.stats.badRegisterAccesses++;
    this.warn(`${name} written while CC.EN is 1; ignored`);
  }

  private warn(msg: string): void {
    this.log.printk(KERN_WARNING, `nvme-ctrl ${this.pdev.name}: ${msg}`);
  }

  private enable(): void {
    if ((this.csts & NVME_CSTS_CFS) !== 0) return;
    const cap = nvmeCapDecode(this.cap);
    const mps = (this.cc >>> NVME_CC_MPS_SHIFT) & 0xf;
    const css = (this.cc >>> NVME_CC_CSS_SHIFT) & 0x7;
    const ams = (this.cc >>> NVME_CC_AMS_SHIFT) & 0x7;
    const asqs = (this.aqa & NVME_AQA_ASQS_MASK) + 1;
    const acqs = ((this.aqa >>> NVME_AQA_ACQS_SHIFT) & NVME_AQA_ASQS_MASK) + 1;
    const pageSize = 2 ** (12 + mps);
    const problems: Array<[boolean, string]> = [
      [mps < cap.mpsmin || mps > cap.mpsmax, `CC.MPS ${mps} outside CAP.MPSMIN..MPSMAX (${cap.mpsmin}..${cap.mpsmax})`],
      [css !== 0 || (cap.css & 1) === 0, `CC.CSS ${css} is not a supported command set`],
      [ams !== 0 && ((cap.ams << 1) & (1 << ams)) === 0, `CC.AMS ${ams} is not a supported arbitration mechanism`],
      [asqs < 2 || acqs < 2, `AQA 0x${this.aqa.toString(16)} gives admin queues of ${asqs}/${acqs} entries (at least 2)`],
      [this.asq % BigInt(pageSize) !== 0n || this.acq % BigInt(pageSize) !== 0n, `ASQ 0x${this.asq.toString(16)} / ACQ 0x${this.acq.toString(16)} not aligned to the ${pageSize}-byte page`],
      [this.asq > BigInt(Number.MAX_SAFE_INTEGER) || this.acq > BigInt(Number.MAX_SAFE_INTEGER), 'ASQ/ACQ is not an address'],
    ];
    const bad = problems.find(([p]) => p);
    if (bad !== undefined) {
      this.csts |= NVME_CSTS_CFS;
      this.warn(`CC.EN set with ${bad[1]}: controller fatal status (CSTS.CFS)`);
      return;
    }
    const cq = new NvmeCompletionQueue(0, Number(this.acq), acqs, 0, true);
    cq.sqs.add(0);
    this.cqs.set(0, cq);
    this.sqs.set(0, new NvmeSubmissionQueue(0, Number(this.asq), asqs, 0, 0));
    this.csts = NVME_CSTS_RDY;
  }

  private reset(): void {
    for (const sq of this.sqs.values()) if (sq.timer !== null) this.pdev.kernel.clock.cancel(sq.timer);
    this.sqs.clear();
    this.cqs.clear();
    this.queuesGranted = null;
    this.csts = 0;
  }

  /** @internal Delete I/O SQ: unfetched commands complete as aborted, then the queue goes. */
  deleteSq(qid: number): void {
    const sq = this.sqs.get(qid);
    if (sq === undefined) return;
    if (sq.timer !== null) this.pdev.kernel.clock.cancel(sq.timer);
    const cq = this.cqs.get(sq.cqid);
    while (sq.head !== sq.tail && cq !== undefined && !cq.full) {
      const cmd = this.fetch(sq);
      if (cmd === null) break;
      this.post(cq, sq, cmd, { status: nvmeStatusDnr(NVME_SC_ABORT_QUEUE) });
    }
    cq?.sqs.delete(qid);
    this.sqs.delete(qid);
  }

  /** The BAR0 handler: registers, doorbells and (BIR 0) the CMB. */
  private bar0Handler(): MmioHandler {
    return {
      read: (off, out) => {
        const cmb = this.cmb;
        if (cmb !== null && cmb.bar === 0 && off >= cmb.offset && off + out.length <= cmb.offset + cmb.size) {
          cmb.store.read(off - cmb.offset, out);
          return;
        }
        if (off >= NVME_REG_DBS) {
          out.fill(0);
          return;
        }
        this.regs.read(off, out);
      },
      write: (off, data) => {
        const cmb = this.cmb;
        if (cmb !== null && cmb.bar === 0 && off >= cmb.offset && off + data.length <= cmb.offset + cmb.size) {
          cmb.store.write(off - cmb.offset, data);
          return;
        }
        if (off >= NVME_REG_DBS) {
          this.doorbellWrite(off, data);
          return;
        }
        this.regs.write(off, data);
      },
    };
  }

  private cmbHandler(cmb: NvmeCmbMemory): MmioHandler {
    return {
      read: (off, out) => {
        const rel = off - cmb.offset;
        if (rel >= 0 && rel + out.length <= cmb.size) cmb.store.read(rel, out);
        else out.fill(0);
      },
      write: (off, data) => {
        const rel = off - cmb.offset;
        if (rel >= 0 && rel + data.length <= cmb.size) cmb.store.write(rel, data);
        else {
          this.stats.badRegisterAccesses++;
          this.warn(`write to BAR ${cmb.bar} offset 0x${off.toString(16)} outside the CMB ignored`);
        }
      },
    };
  }

  private doorbellWrite(off: number, data: Uint8Array): void {
    const stride = this.dbStride;
    const idx = (off - NVME_REG_DBS) / stride;
    const bad = (why: string): void => {
      this.stats.badDoorbellWrites++;
      this.warn(`doorbell write at 0x${off.toString(16)} ${why}; ignored`);
    };
    if (data.length !== 4 || !Number.isInteger(idx)) {
      bad(`is not a 32-bit write at a ${stride}-byte doorbell stride`);
      return;
    }
    const value = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
    const qid = idx >> 1;
    const isCq = (idx & 1) === 1;
    if (!this.ready) {
      bad('while the controller is not ready');
      return;
    }
    if (isCq) {
      const cq = this.cqs.get(qid);
      if (cq === undefined) {
        bad(`for CQ ${qid}, which does not exist`);
        return;
      }
      if (value >= cq.size) {
        bad(`sets CQ ${qid} head to ${value}, outside its ${cq.size} entries`);
        return;
      }
      if ((cq.tail - value + cq.size) % cq.size > cq.outstanding) {
        bad(`sets CQ ${qid} head to ${value}, past the tail ${cq.tail}`);
        return;
      }
      this.stats.doorbellWrites++;
      cq.head = value;
      for (const sqid of cq.sqs) {
        const sq = this.sqs.get(sqid);
        if (sq?.blocked) {
          sq.blocked = false;
          this.processSq(sq);
        }
      }
      return;
    }
    const sq = this.sqs.get(qid);
    if (sq === undefined) {
      bad(`for SQ ${qid}, which does not exist`);
      return;
    }
    if (value >= sq.size) {
      bad(`sets SQ ${qid} tail to ${value}, outside its ${sq.size} entries`);
      return;
    }
    this.stats.doorbellWrites++;
    sq.tail = value;
    const p = this.config.processing;
    if (qid === 0 || p === 'sync') this.processSq(sq);
    else if (sq.timer === null) {
      sq.timer = this.pdev.kernel.clock.schedule(p.delayNs, () => {
        sq.timer = null;
        if (this.sqs.get(qid) === sq) this.processSq(sq);
      });
    }
  }

  private fetch(sq: NvmeSubmissionQueue): NvmeCommand | null {
    // One fetch buffer per controller: the entry is decoded before anything else runs.
    const buf = this.sqeBuf;
    const r = this.dma.read(sq.base + sq.head * NVME_SQE_SIZE, buf);
    if (r.status !== 'ok') {
      this.csts |= NVME_CSTS_CFS;
      this.warn(`SQ ${sq.qid} entry ${sq.head} could not be fetched (${r.status}): controller fatal status (CSTS.CFS)`);
      return null;
    }
    sq.head = (sq.head + 1) % sq.size;
    return nvmeDecodeCommand(buf);
  }

  private processSq(sq: NvmeSubmissionQueue): void {
    while (sq.head !== sq.tail && (this.csts & NVME_CSTS_CFS) === 0 && this.sqs.get(sq.qid) === sq) {
      const cq = this.cqs.get(sq.cqid);
      if (cq === undefined) return;
      if (cq.full) {
        if (!sq.blocked) this.stats.cqFullStalls++;
        sq.blocked = true;
        return;
      }
      const cmd = this.fetch(sq);
      if (cmd === null) return;
      const out = this.execute(sq.qid, cmd);
      this.post(cq, sq, cmd, out);
    }
  }

  private execute(qid: number, cmd: NvmeCommand): CommandOutcome {
    const admin = qid === 0;
    if (admin) this.stats.adminCommands++;
    else this.stats.ioCommands++;
    const inj = this.injections.length === 0 ? undefined : this.injections.find((i) => i.admin === admin && (i.opcode === null || i.opcode === cmd.opcode));
    let out: CommandOutcome;
    if (inj !== undefined) {
      if (--inj.times === 0) this.injections.splice(this.injections.indexOf(inj), 1);
      out = { status: inj.status };
    } else {
      const handler = (admin ? NVME_ADMIN_COMMANDS : NVME_IO_COMMANDS).get(cmd.opcode);
      out = handler === undefined ? { status: nvmeStatusDnr(NVME_SC_INVALID_OPCODE) } : handler.exec(this, cmd, qid);
    }
    if (this.trace.length >= NVME_TRACE_LIMIT) this.trace.shift();
    this.trace.push({ qid, commandId: cmd.commandId, opcode: cmd.opcode, nsid: cmd.nsid, prp1: cmd.prp1, status: out.status, time: this.pdev.kernel.clock.now() });
    return out;
  }

  private post(cq: NvmeCompletionQueue, sq: NvmeSubmissionQueue, cmd: NvmeCommand, out: CommandOutcome): void {
    if (out.status !== NVME_SC_SUCCESS) this.stats.errors++;
    const bytes = nvmeEncodeCompletion({ result: out.result ?? 0, sqHead: sq.head, sqId: sq.qid, commandId: cmd.commandId, status: out.status, phase: cq.phase });
    const r = this.dma.write(cq.base + cq.tail * NVME_CQE_SIZE, bytes);
    if (r.status !== 'ok') {
      this.csts |= NVME_CSTS_CFS;
      this.warn(`completion for command ${cmd.commandId} (${nvmeStatusName(out.status)}) could not be posted to CQ ${cq.qid} (${r.status}): controller fatal status (CSTS.CFS)`);
      return;
    }
    cq.tail = (cq.tail + 1) % cq.size;
    if (cq.tail === 0) cq.phase ^= 1;
    if (cq.ien) {
      this.stats.interrupts++;
      msixSignal(this.pdev, cq.iv);
    }
  }

  /** @internal installs the BAR handlers; used by `attachNvmeController`. */
  attach(): void {
    const place = nvmeCmbPlacement(this.pdev, this.config.cmbloc, this.config.cmbsz, this.config.pseudoCmbBar);
    if (place.kind === 'memory') {
      this.cmb = new NvmeCmbMemory(this.pdev, place.bar, place.offset, place.size);
      if (place.size < place.described) this.warn(`CMB of ${place.described} bytes described, BAR ${place.bar} holds only ${place.size} of it`);
    } else if (this.config.cmbsz !== 0 || this.config.pseudoCmbBar !== null) {
      this.warn(`CMB has no memory: ${place.reason}`);
    }
    for (const n of this.ns.values()) if (n.blocks === 0) this.warn(`namespace ${n.nsid} has size 0: reported with NSZE/NCAP 0 (not allocated)`);
    this.pdev.setBarBacking(0, this.bar0Handler());
    const cmb = this.cmb;
    if (cmb !== null && cmb.bar !== 0) this.pdev.setBarBacking(cmb.bar, this.cmbHandler(cmb));
    this.attached = true;
    controllers.set(this.pdev, this);
  }

  /** Removes the device from its BARs (accesses then complete with Completer Abort). */
  detach(): void {
    if (!this.attached) return;
    this.reset();
    this.pdev.setBarBacking(0, null);
    if (this.cmb !== null && this.cmb.bar !== 0) this.pdev.setBarBacking(this.cmb.bar, null);
    this.attached = false;
    controllers.delete(this.pdev);
  }
}

/**
 * Puts a controller model on a function: BAR0 becomes the register file and doorbells, the CMB
 * BAR (or pseudo-CMB BAR) becomes CMB memory. Attach before the nvme driver probes the function.
 * @param pdev an enumerated function with a memory BAR 0.
 * @param cfg the description (defaults for everything absent).
 * @returns the controller.
 * @throws NvmeConfigError naming the function and the field for a bad description, a BAR 0 that
 *   is not an assigned memory BAR, a function without an enumerated fabric, or a function that
 *   already has a controller.
 */
export function attachNvmeController(pdev: PciDev, cfg: NvmeControllerConfig = {}): NvmeController {
  const sys = pciSystem(pdev.kernel);
  if (sys === null || sys.deviceIndex(pdev) < 0) throw new NvmeConfigError(pdev.name, 'device', 'is not a function of an enumerated PCI subsystem');
  if (controllers.has(pdev)) throw new NvmeConfigError(pdev.name, 'device', 'already has an NVMe controller model');
  if ((pciResourceFlags(pdev, 0) & IORESOURCE_MEM) === 0 || pciResourceLen(pdev, 0) < 2 * NVME_REG_DBS) {
    throw new NvmeConfigError(pdev.name, 'bars[0]', 'BAR 0 must be an assigned memory BAR of at least 8 KiB (registers and doorbells)');
  }
  const resolved = resolveNvmeConfig(pdev.name, cfg, { serial: `SN${pdev.name.replace(/[^0-9a-f]/g, '')}`, model: pdev.label ?? undefined });
  const ctrl = new NvmeController(pdev, resolved, sys.fabric);
  ctrl.attach();
  return ctrl;
}
