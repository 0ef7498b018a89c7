/**
 * Test harness for the target core: boot a built-in machine, publish p2pmem, create RAM disks,
 * and a minimal in-process transport (`HarnessTransport`) that hands capsules to the core and
 * collects the completions, so the core can be tested without the RDMA transport.
 */
import type { Device, KernelOptions, Kconfig, KResult } from '@p2pdma/kernel';
import { isErr, Kernel, sgCopyFromBuffer, sgCopyToBuffer } from '@p2pdma/kernel';
import type { RamBlockDevice } from '@p2pdma/blk';
import { createRamBlockDevice } from '@p2pdma/blk';
import type { PciDev, PciSubsystem } from '@p2pdma/pci-core';
import { enumerate, getBuiltin, kernelOptionsForTopology } from '@p2pdma/pci-core';
import { p2pdmaEnumerationHooks, pciP2pdmaAddResource, pciP2pmemPublish } from '@p2pdma/p2pdma';
import { expect } from 'vitest';
import { blkdevRegister } from '../src/bdev';
import type { NvmetCtrl } from '../src/ctrl';
import type { NvmeCommand } from '../src/nvme-command';
import { NvmeCompletion, nvmeIsWrite } from '../src/nvme-command';
import { NVME_CNTLID_DYNAMIC, NVME_CC_ENABLE_NVM, NVME_REG_CC, nvmfConnectCommand, nvmfEncodeConnectData, nvmfPropertySetCommand } from '../src/nvme-fabrics';
import type { NvmetPort } from '../src/port';
import { NvmetCq, NvmetReq, NvmetSq, nvmetReqAllocSgls, nvmetReqExecute, nvmetReqFreeSgls, nvmetReqInit, nvmetSqDestroy, nvmetSqInit } from '../src/req';
import type { NvmetTarget } from '../src/target';
import { nvmetInit } from '../src/target';
import type { NvmetFabricsOps } from '../src/transport';
import { nvmetRegisterTransport } from '../src/transport';
import { NVMF_TRTYPE_LOOP } from '../src/nvme-fabrics';

export const RNIC = '0000:03:00.0';
export const CMB_NVME = '0000:04:00.0';
export const NVME = '0000:05:00.0';
export const CARD = '0000:06:00.0';
export const CFS = '/sys/kernel/config/nvmet';
export const NQN = 'nqn.2018-02.io.model:p2p';
export const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:host0';
export const MiB = 2 ** 20;

export interface Machine {
  kernel: Kernel;
  sys: PciSubsystem;
  dev(bdf: string): PciDev;
}

export interface BootOpts extends Omit<KernelOptions, 'systemRam' | 'config'> {
  config?: Partial<Kconfig>;
}

/** Boots a built-in machine with the P2PDMA enumeration hooks. */
export function boot(name = 'seed-switch', opts: BootOpts = {}): Machine {
  const spec = getBuiltin(name);
  if (spec === null) throw new Error(`no builtin ${name}`);
  const kernel = new Kernel({ ...kernelOptionsForTopology(spec), ...opts });
  const sys = enumerate(kernel, spec, p2pdmaEnumerationHooks(kernel));
  if ('error' in sys) throw new Error(sys.error.message);
  return {
    kernel,
    sys,
    dev(bdf) {
      const d = sys.findByBdf(bdf);
      if (d === null) throw new Error(`no ${bdf}`);
      return d;
    },
  };
}

/** Registers `size` bytes of a BAR as p2pmem and publishes it. */
export function publish(m: Machine, bdf: string, bar: number, size = 16 * MiB): PciDev {
  const d = m.dev(bdf);
  expect(pciP2pdmaAddResource(d, bar, size, 0)).toBe(0);
  pciP2pmemPublish(d, true);
  return d;
}

/** A RAM disk under `parent` (its P2P client resolves to that PCI function), published at /dev/<name>. */
export function ramDisk(m: Machine, name: string, opts: { p2pdma?: boolean; parent?: Device | null; capacityBytes?: number; completion?: 'sync' | { delayNs: number } } = {}): RamBlockDevice {
  const d = createRamBlockDevice(m.kernel, {
    name,
    capacityBytes: opts.capacityBytes ?? 8 * MiB,
    p2pdma: opts.p2pdma ?? true,
    parent: opts.parent === undefined ? m.dev(NVME) : opts.parent,
    completion: opts.completion ?? 'sync',
    maxHwSectors: 2048,
  });
  if (isErr(d)) throw new Error(`ram disk ${name}: ${d}`);
  expect(blkdevRegister(m.kernel, d.disk, d.device)).toBe(0);
  return d;
}

/** What the harness saw for one command. */
export interface Done {
  readonly cqe: NvmeCompletion;
  /** Read data returned with the completion. */
  readonly data: Uint8Array | null;
  /** The buffer came from this P2P device (`null`: System RAM). */
  readonly p2pDev: PciDev | null;
}

/** A host queue of the harness transport. */
export class HarnessQueue {
  readonly sq = new NvmetSq();
  readonly cq = new NvmetCq();
  nextCid = 1;

  constructor(
    readonly transport: HarnessTransport,
    readonly port: NvmetPort,
    readonly p2pClient: Device | null,
  ) {
    nvmetSqInit(this.sq);
  }

  /**
   * Sends a capsule: data of `write` goes in the command's buffer; `readLen` bytes come back.
   * @returns the completion record once the core completed it (synchronously for RAM disks), else null.
   */
  submit(cmd: NvmeCommand, opts: { write?: Uint8Array; readLen?: number } = {}): Done | null {
    cmd.commandId = this.nextCid++ & 0xffff;
    const req = new NvmetReq(cmd);
    req.port = this.port;
    req.p2pClient = this.p2pClient;
    const rec: { done: Done | null } = { done: null };
    req.transportData = rec;
    if (!nvmetReqInit(req, this.cq, this.sq, this.transport)) return rec.done;
    const len = nvmeIsWrite(cmd) ? (opts.write?.length ?? 0) : (opts.readLen ?? 0);
    req.transferLen = len;
    if (len > 0) {
      expect(nvmetReqAllocSgls(req, len)).toBe(0);
      if (opts.write !== undefined) expect(sgCopyFromBuffer(req.sg!, req.sgCnt, opts.write)).toBe(len);
    }
    nvmetReqExecute(req);
    return rec.done;
  }

  /** Submits and expects a synchronous completion. */
  run(cmd: NvmeCommand, opts: { write?: Uint8Array; readLen?: number } = {}): Done {
    const d = this.submit(cmd, opts);
    if (d === null) throw new Error(`command 0x${cmd.opcode.toString(16)} did not complete synchronously`);
    return d;
  }

  destroy(): void {
    nvmetSqDestroy(this.sq);
  }
}

/** An in-process transport for core tests (type `loop`): completions are recorded, data copied back. */
export class HarnessTransport implements NvmetFabricsOps {
  readonly name = 'harness';
  readonly type = NVMF_TRTYPE_LOOP;
  readonly msdbd = 1;
  readonly hasKeyedSgls = false;
  readonly defaultInlineDataSize = 0;
  readonly queues: HarnessQueue[] = [];
  readonly deleted: NvmetCtrl[] = [];
  readonly ports: NvmetPort[] = [];
  /** Every completion, in order (AER completions included). */
  readonly completions: Done[] = [];

  addPort(port: NvmetPort): KResult {
    this.ports.push(port);
    return 0;
  }
  removePort(port: NvmetPort): void {
    this.ports.splice(this.ports.indexOf(port), 1);
  }
  queueResponse(req: NvmetReq): void {
    let data: Uint8Array | null = null;
    if (!nvmeIsWrite(req.cmd) && req.sg !== null && req.transferLen > 0) {
      data = new Uint8Array(req.transferLen);
      sgCopyToBuffer(req.sg, req.sgCnt, data);
    }
    const cqe = NvmeCompletion.decode(req.cqe.encode());
    const done: Done = { cqe, data, p2pDev: req.p2pDev };
    nvmetReqFreeSgls(req);
    (req.transportData as { done: Done | null }).done = done;
    this.completions.push(done);
  }
  deleteCtrl(ctrl: NvmetCtrl): void {
    this.deleted.push(ctrl);
    for (const q of this.queues) if (q.sq.ctrl === ctrl) q.destroy();
  }

  /** A new unconnected queue on a port. */
  queue(port: NvmetPort, p2pClient: Device | null = null): HarnessQueue {
    const q = new HarnessQueue(this, port, p2pClient);
    this.queues.push(q);
    return q;
  }
}

/** Loads nvmet with the harness transport. */
export function target(m: Machine): { t: NvmetTarget; tr: HarnessTransport } {
  const t = nvmetInit(m.kernel);
  if (isErr(t)) throw new Error(`nvmetInit: ${t}`);
  const tr = new HarnessTransport();
  expect(nvmetRegisterTransport(t, tr)).toBe(0);
  return { t, tr };
}

/** Writes a configfs attribute and expects success. */
export function w(m: Machine, path: string, value: string): void {
  expect(m.kernel.configfs.write(`${CFS}/${path}`, value)).toBe(value.length);
}

/** Runs configfs mkdir and expects success. */
export function mkdir(m: Machine, path: string): void {
  expect(m.kernel.configfs.mkdir(`${CFS}/${path}`)).toBe(0);
}

/**
 * A subsystem (allow_any_host) with the given namespaces (nsid → device path), linked to loop
 * port 1.
 */
export function setupSubsys(m: Machine, nss: Record<number, string>, opts: { enable?: boolean; portid?: number; p2pmem?: Record<number, string> } = {}): void {
  mkdir(m, `subsystems/${NQN}`);
  w(m, `subsystems/${NQN}/attr_allow_any_host`, '1\n');
  for (const [nsid, path] of Object.entries(nss)) {
    mkdir(m, `subsystems/${NQN}/namespaces/${nsid}`);
    w(m, `subsystems/${NQN}/namespaces/${nsid}/device_path`, `${path}\n`);
    const p2p = opts.p2pmem?.[Number(nsid)];
    if (p2p !== undefined) w(m, `subsystems/${NQN}/namespaces/${nsid}/p2pmem`, `${p2p}\n`);
    if (opts.enable !== false) w(m, `subsystems/${NQN}/namespaces/${nsid}/enable`, '1\n');
  }
  const port = opts.portid ?? 1;
  mkdir(m, `ports/${port}`);
  w(m, `ports/${port}/addr_trtype`, 'loop\n');
  expect(m.kernel.configfs.symlink(`${CFS}/subsystems/${NQN}`, `${CFS}/ports/${port}/subsystems/${NQN}`)).toBe(0);
}

/** Connects an admin queue and enables the controller; returns the queue and controller ID. */
export function connect(t: NvmetTarget, tr: HarnessTransport, opts: { portid?: number; p2pClient?: Device | null; kato?: number; hostnqn?: string; subsysnqn?: string } = {}): { admin: HarnessQueue; cntlid: number; done: Done } {
  const port = t.ports.get(opts.portid ?? 1)!;
  const admin = tr.queue(port, opts.p2pClient ?? null);
  const data = nvmfEncodeConnectData({ hostid: new Uint8Array(16), cntlid: NVME_CNTLID_DYNAMIC, subsysnqn: opts.subsysnqn ?? NQN, hostnqn: opts.hostnqn ?? HOSTNQN });
  const done = admin.run(nvmfConnectCommand({ qid: 0, sqsize: 31, kato: opts.kato ?? 15000 }), { write: data });
  if (done.cqe.status === 0) expect(admin.run(nvmfPropertySetCommand(NVME_REG_CC, NVME_CC_ENABLE_NVM)).cqe.status).toBe(0);
  return { admin, cntlid: done.cqe.result, done };
}

/** Connects an I/O queue to a controller. */
export function connectIo(t: NvmetTarget, tr: HarnessTransport, cntlid: number, qid: number, opts: { portid?: number; p2pClient?: Device | null } = {}): { q: HarnessQueue; done: Done } {
  const port = t.ports.get(opts.portid ?? 1)!;
  const q = tr.queue(port, opts.p2pClient ?? null);
  const data = nvmfEncodeConnectData({ hostid: new Uint8Array(16), cntlid, subsysnqn: NQN, hostnqn: HOSTNQN });
  const done = q.run(nvmfConnectCommand({ qid, sqsize: 127, kato: 0 }), { write: data });
  return { q, done };
}

/** Log lines (text) containing `s`. */
export function lines(k: Kernel, s: string | RegExp): string[] {
  return k.log.grep(s).map((l) => l.text);
}

/** Deterministic bytes (xorshift32, one word at a time). */
export function pattern(len: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(len / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, len).slice();
}

/** Expects two byte arrays to be equal (fast: vitest's deep equality is per element). */
export function expectBytes(got: Uint8Array | null | undefined, want: Uint8Array): void {
  expect(got, 'no data').toBeInstanceOf(Uint8Array);
  expect(got!.length).toBe(want.length);
  const i = Buffer.from(got!.buffer, got!.byteOffset, got!.length).compare(Buffer.from(want.buffer, want.byteOffset, want.length));
  if (i !== 0) {
    let at = 0;
    while (at < want.length && got![at] === want[at]) at++;
    expect.fail(`bytes differ at offset ${at}: got ${got![at]}, want ${want[at]}`);
  }
}
