/**
 * The NVMe controller hardware model driven by hand (no driver): the register table, the
 * CC/CSTS handshake, doorbells, admin and I/O command processing, phase tags, a full CQ, PRP
 * walking, and how a misbehaving driver is logged and ignored (NVMe 1.3 sections 3, 4, 5).
 */
import { Kernel, PAGE_SIZE } from '@p2pdma/kernel';
import { enumerate, getBuiltin, kernelOptionsForTopology, pciResourceStart } from '@p2pdma/pci-core';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { loHiReadq, readl, writel } from '../src/internal/io-accessors';
import { pciRequestIrq } from '../src/internal/msix';
import type { NvmeCommand, NvmeControllerConfig } from '../src/index';
import {
  attachNvmeController,
  NVME_CONTROLLER_REGISTERS,
  NVME_CSTS_CFS,
  NVME_CSTS_RDY,
  NVME_ID_CTRL,
  NVME_SC_CQ_INVALID,
  NVME_SC_DNR,
  NVME_SC_INVALID_FIELD,
  NVME_SC_INVALID_NS,
  NVME_SC_INVALID_OPCODE,
  NVME_SC_INVALID_QUEUE_DELETION,
  NVME_SC_LBA_RANGE,
  NVME_SC_PRP_INVALID_OFFSET,
  NVME_SC_QID_INVALID,
  NVME_SC_SUCCESS,
  NvmeConfigError,
  nvmeCommand,
  nvmeDecodeCompletion,
  nvmeEncodeCommand,
  nvme_admin_create_cq,
  nvme_admin_create_sq,
  nvme_admin_delete_cq,
  nvme_admin_identify,
  nvme_admin_set_features,
  nvme_cmd_read,
  nvme_cmd_write,
} from '../src/index';
import { attachNvmeControllers } from '../src/controller/attach';
import { diffBytes, NVME_CMB_BDF, pattern } from './helpers';

/** A bare machine: controllers attached, no driver; a tiny host that programs one by hand. */
function bare(cfg: NvmeControllerConfig = {}) {
  const spec = getBuiltin('seed-switch')!;
  const k = new Kernel({ ...kernelOptionsForTopology(spec) });
  const sys = enumerate(k, spec);
  if ('error' in sys) throw new Error(sys.error.message);
  const pdev = sys.findByBdf(NVME_CMB_BDF)!;
  const ctrl = attachNvmeController(pdev, { cmb: { bar: 2, size: 64 << 20, flags: ['SQS', 'WDS', 'RDS'] }, namespaces: [{ sizeBytes: 1 << 20 }], ...cfg });
  const bar0 = pciResourceStart(pdev, 0);
  const page = (n = 1): number => k.memory.allocPages(n)!;
  const w = (off: number, v: number): void => {
    writel(k, bar0 + off, v);
  };
  const r = (off: number): number => readl(k, bar0 + off);
  const asq = page();
  const acq = page();
  let sqTail = 0;
  let cqHead = 0;
  /** Enables with a 32-entry admin queue pair in RAM. */
  const enable = (cc = 0x460001): void => {
    w(0x24, (31 << 16) | 31);
    w(0x28, asq);
    w(0x2c, 0);
    w(0x30, acq);
    w(0x34, 0);
    w(0x14, cc);
  };
  /** Submits an admin command and returns its completion. */
  const admin = (c: NvmeCommand) => {
    c.commandId = sqTail;
    k.memory.ramWrite(asq + sqTail * 64, nvmeEncodeCommand(c));
    sqTail = (sqTail + 1) % 32;
    w(0x1000, sqTail);
    const cqe = nvmeDecodeCompletion(k.memory.ramRead(acq + cqHead * 16, 16));
    cqHead = (cqHead + 1) % 32;
    w(0x1004, cqHead);
    return cqe;
  };
  return { k, sys, pdev, ctrl, bar0, w, r, enable, admin, page, asq, acq };
}

function log(k: Kernel): string[] {
  return k.log.lines().map((l) => l.text);
}

describe('register file (NVMe 1.3 3.1)', () => {
  test('the table: offsets, widths, names and access types', () => {
    expect(NVME_CONTROLLER_REGISTERS.map((r) => [r.offset, r.width, r.name, r.access])).toEqual([
      [0x00, 8, 'CAP', 'RO'],
      [0x08, 4, 'VS', 'RO'],
      [0x0c, 4, 'INTMS', 'RW1S'],
      [0x10, 4, 'INTMC', 'RW1C'],
      [0x14, 4, 'CC', 'RW'],
      [0x1c, 4, 'CSTS', 'RO'],
      [0x20, 4, 'NSSR', 'RW'],
      [0x24, 4, 'AQA', 'RW'],
      [0x28, 8, 'ASQ', 'RW'],
      [0x30, 8, 'ACQ', 'RW'],
      [0x38, 4, 'CMBLOC', 'RO'],
      [0x3c, 4, 'CMBSZ', 'RO'],
    ]);
  });

  test('CAP, VS, CMBLOC, CMBSZ read as described; INTMS/INTMC set and clear the mask', () => {
    const h = bare({ cap: { mqes: 255, dstrd: 1, to: 40 } });
    expect(loHiReadq(h.k, h.bar0)).toBe(0x0000_0021_2801_00ffn);
    expect(h.r(0x08)).toBe(0x10300);
    expect([h.r(0x38), h.r(0x3c)]).toEqual([0x2, 0x4319]);
    h.w(0x0c, 0x5);
    h.w(0x10, 0x1);
    expect([h.r(0x0c), h.r(0x10)]).toEqual([0x4, 0x4]);
  });

  test('a misbehaving driver is logged and ignored: read-only writes, bad sizes, unknown registers', () => {
    const h = bare();
    h.k.log.clear();
    h.w(0x00, 1);
    h.w(0x3c, 0);
    h.w(0x40, 7);
    expect(h.k.memory.cpuWrite(h.bar0 + 0x14, new Uint8Array([1, 0]))).toBe(0);
    expect(h.r(0x3c)).toBe(0x4319);
    expect(h.ctrl.cc).toBe(0);
    expect(log(h.k)).toEqual([
      'nvme-ctrl 0000:04:00.0: write of 0x1 to read-only register CAP (0x0) ignored',
      'nvme-ctrl 0000:04:00.0: write of 0x0 to read-only register CMBSZ (0x3c) ignored',
      'nvme-ctrl 0000:04:00.0: write at 0x40: no register there; ignored',
      'nvme-ctrl 0000:04:00.0: 2-byte write at 0x14 is not an aligned 32- or 64-bit access; ignored',
    ]);
    expect(h.ctrl.stats.badRegisterAccesses).toBe(4);
  });
});

describe('CC/CSTS handshake (NVMe 1.3 7.6.1)', () => {
  test('enable creates the admin queues and sets RDY; disable resets; SHN reports shutdown complete', () => {
    const h = bare();
    h.enable();
    expect(h.r(0x1c)).toBe(NVME_CSTS_RDY);
    expect([...h.ctrl.sqs.keys()]).toEqual([0]);
    h.w(0x14, 0x460001 | (1 << 14));
    expect(h.r(0x1c)).toBe(NVME_CSTS_RDY | (2 << 2));
    h.w(0x14, 0);
    expect(h.r(0x1c)).toBe(0);
    expect(h.ctrl.sqs.size).toBe(0);
  });

  test.each([
    ['CC.MPS 1 outside CAP.MPSMIN..MPSMAX (0..0)', 0x460001 | (1 << 7), () => {}],
    ['CC.CSS 1 is not a supported command set', 0x460001 | (1 << 4), () => {}],
    ['CC.AMS 1 is not a supported arbitration mechanism', 0x460001 | (1 << 11), () => {}],
  ])('enabling with %s sets CSTS.CFS and never becomes ready', (why, cc) => {
    const h = bare();
    h.k.log.clear();
    h.enable(cc);
    expect(h.r(0x1c)).toBe(NVME_CSTS_CFS);
    expect(log(h.k)).toEqual([`nvme-ctrl 0000:04:00.0: CC.EN set with ${why}: controller fatal status (CSTS.CFS)`]);
    h.w(0x14, 0);
    expect(h.r(0x1c)).toBe(0);
  });

  test('an admin queue of 1 entry or a misaligned ASQ is a bad configuration too', () => {
    const h = bare();
    h.w(0x24, 0);
    h.w(0x28, h.asq);
    h.w(0x30, h.acq);
    h.w(0x14, 0x460001);
    expect(h.r(0x1c)).toBe(NVME_CSTS_CFS);
    expect(h.k.log.grep('AQA 0x0 gives admin queues of 1/1 entries (at least 2)')).toHaveLength(1);
    h.w(0x14, 0);
    h.w(0x24, 0x1f001f);
    h.w(0x28, h.asq + 64);
    h.w(0x14, 0x460001);
    expect(h.r(0x1c)).toBe(NVME_CSTS_CFS);
    expect(h.k.log.grep(`ASQ 0x${(h.asq + 64).toString(16)} / ACQ 0x${h.acq.toString(16)} not aligned to the 4096-byte page`)).toHaveLength(1);
  });

  test('AQA/ASQ/ACQ writes while enabled are ignored', () => {
    const h = bare();
    h.enable();
    h.w(0x24, 0);
    expect(h.r(0x24)).toBe(0x1f001f);
    expect(h.k.log.grep('AQA written while CC.EN is 1; ignored')).toHaveLength(1);
  });
});

describe('doorbells (NVMe 1.3 3.1.24-25)', () => {
  test('bad doorbell writes are logged and ignored', () => {
    const h = bare();
    h.k.log.clear();
    h.w(0x1000, 1);
    h.enable();
    h.w(0x1000, 40);
    h.w(0x1000 + 5 * 8, 1);
    h.w(0x1004, 3);
    expect(h.k.memory.cpuWrite(h.bar0 + 0x1002, new Uint8Array(4))).toBe(0);
    expect(log(h.k)).toEqual([
      'nvme-ctrl 0000:04:00.0: doorbell write at 0x1000 while the controller is not ready; ignored',
      'nvme-ctrl 0000:04:00.0: doorbell write at 0x1000 sets SQ 0 tail to 40, outside its 32 entries; ignored',
      'nvme-ctrl 0000:04:00.0: doorbell write at 0x1028 for SQ 5, which does not exist; ignored',
      'nvme-ctrl 0000:04:00.0: doorbell write at 0x1004 sets CQ 0 head to 3, past the tail 0; ignored',
      'nvme-ctrl 0000:04:00.0: doorbell write at 0x1002 is not a 32-bit write at a 4-byte doorbell stride; ignored',
    ]);
    expect(h.ctrl.stats.badDoorbellWrites).toBe(5);
    expect(h.ctrl.stats.adminCommands).toBe(0);
  });

  test('a doorbell stride of 16 bytes (CAP.DSTRD 2) places queue y at 0x1000 + 2y x 16', () => {
    const h = bare({ cap: { dstrd: 2 } });
    h.enable();
    const c = nvmeCommand(nvme_admin_identify);
    c.cdw10 = 1;
    c.prp1 = h.page();
    h.k.memory.ramWrite(h.asq, nvmeEncodeCommand(c));
    h.w(0x1004, 1);
    expect(h.ctrl.stats.adminCommands).toBe(0);
    h.w(0x1000, 1);
    expect(h.ctrl.stats.adminCommands).toBe(1);
  });
});

describe('admin commands (NVMe 1.3 5)', () => {
  test('Identify Controller returns the model strings, NN, MDTS and the entry sizes', () => {
    const h = bare({ model: 'Eideticom NoLoad', serial: 'NL123', namespaces: [{ sizeBytes: 1 << 20 }, { nsid: 4, sizeBytes: 1 << 20 }] });
    h.enable();
    const c = nvmeCommand(nvme_admin_identify);
    c.cdw10 = 1;
    c.prp1 = h.page();
    const cqe = h.admin(c);
    expect([cqe.status, cqe.phase, cqe.sqHead, cqe.sqId, cqe.commandId]).toEqual([NVME_SC_SUCCESS, 1, 1, 0, 0]);
    const id = h.k.memory.ramRead(c.prp1, 4096);
    const v = new DataView(id.buffer);
    expect(v.getUint16(NVME_ID_CTRL.vid, true)).toBe(0x1de5);
    expect(String.fromCharCode(...id.subarray(NVME_ID_CTRL.mn, NVME_ID_CTRL.mn + 16))).toBe('Eideticom NoLoad');
    expect(String.fromCharCode(...id.subarray(NVME_ID_CTRL.sn, NVME_ID_CTRL.sn + 5))).toBe('NL123');
    expect([v.getUint32(NVME_ID_CTRL.nn, true), id[NVME_ID_CTRL.mdts], id[NVME_ID_CTRL.sqes], id[NVME_ID_CTRL.cqes]]).toEqual([4, 5, 0x66, 0x44]);
  });

  test('queue creation and deletion check ids, sizes and dependencies', () => {
    const h = bare({ maxQueuePairs: 8 });
    h.enable();
    const cq = (qid: number, size: number, iv = 0) => {
      const c = nvmeCommand(nvme_admin_create_cq);
      c.prp1 = h.page();
      c.cdw10 = qid | ((size - 1) << 16);
      c.cdw11 = 3 | (iv << 16);
      return h.admin(c).status;
    };
    const sq = (qid: number, cqid: number) => {
      const c = nvmeCommand(nvme_admin_create_sq);
      c.prp1 = h.page();
      c.cdw10 = qid | (15 << 16);
      c.cdw11 = 1 | (cqid << 16);
      return h.admin(c).status;
    };
    const dnr = (s: number) => s | NVME_SC_DNR;
    expect(cq(0, 16)).toBe(dnr(NVME_SC_QID_INVALID));
    expect(cq(9, 16)).toBe(dnr(NVME_SC_QID_INVALID));
    expect(cq(1, 16)).toBe(NVME_SC_SUCCESS);
    expect(cq(1, 16)).toBe(dnr(NVME_SC_QID_INVALID));
    expect(cq(2, 2000)).toBe(dnr(0x102));
    expect(cq(2, 16, 64)).toBe(dnr(0x108));
    expect(sq(1, 2)).toBe(dnr(NVME_SC_CQ_INVALID));
    expect(sq(1, 1)).toBe(NVME_SC_SUCCESS);
    const del = nvmeCommand(nvme_admin_delete_cq);
    del.cdw10 = 1;
    expect(h.admin(del).status).toBe(dnr(NVME_SC_INVALID_QUEUE_DELETION));
    expect(h.admin(nvmeCommand(0x7f)).status).toBe(dnr(NVME_SC_INVALID_OPCODE));
    const sf = nvmeCommand(nvme_admin_set_features);
    sf.cdw10 = 7;
    sf.cdw11 = 99 | (99 << 16);
    const r = h.admin(sf);
    expect([r.status, r.result]).toEqual([NVME_SC_SUCCESS, 7 | (7 << 16)]);
    sf.cdw10 = 0x42;
    expect(h.admin(sf).status).toBe(dnr(NVME_SC_INVALID_FIELD));
  });

  test('the phase tag flips each time the completion queue wraps', () => {
    const h = bare();
    h.enable();
    const phases: number[] = [];
    for (let i = 0; i < 70; i++) {
      const c = nvmeCommand(nvme_admin_set_features);
      c.cdw10 = 7;
      c.cdw11 = 0;
      phases.push(h.admin(c).phase);
    }
    expect(phases.slice(0, 32).every((p) => p === 1)).toBe(true);
    expect(phases.slice(32, 64).every((p) => p === 0)).toBe(true);
    expect(phases.slice(64).every((p) => p === 1)).toBe(true);
  });
});

describe('I/O queues', () => {
  function ioSetup(cfg: NvmeControllerConfig = {}, cqSize = 16) {
    const h = bare(cfg);
    h.enable();
    const cqBase = h.page();
    const sqBase = h.page();
    const cq = nvmeCommand(nvme_admin_create_cq);
    cq.prp1 = cqBase;
    cq.cdw10 = 1 | ((cqSize - 1) << 16);
    cq.cdw11 = 3 | (2 << 16);
    expect(h.admin(cq).status).toBe(NVME_SC_SUCCESS);
    const sq = nvmeCommand(nvme_admin_create_sq);
    sq.prp1 = sqBase;
    sq.cdw10 = 1 | (15 << 16);
    sq.cdw11 = 1 | (1 << 16);
    expect(h.admin(sq).status).toBe(NVME_SC_SUCCESS);
    let tail = 0;
    const submit = (c: NvmeCommand, ring = true) => {
      c.commandId = 100 + tail;
      h.k.memory.ramWrite(sqBase + tail * 64, nvmeEncodeCommand(c));
      tail = (tail + 1) % 16;
      if (ring) h.w(0x1008, tail);
    };
    const cqe = (i: number) => nvmeDecodeCompletion(h.k.memory.ramRead(cqBase + i * 16, 16));
    return { ...h, submit, cqe };
  }

  const rw = (op: number, slba: number, nlb: number, prp1: number, prp2 = 0, nsid = 1): NvmeCommand => {
    const c = nvmeCommand(op);
    c.nsid = nsid;
    c.cdw10 = slba;
    c.cdw12 = nlb - 1;
    c.prp1 = prp1;
    c.prp2 = prp2;
    return c;
  };

  test('Write then Read move real bytes; bad namespace, LBA range and PRP offsets fail with DNR', () => {
    const h = ioSetup();
    const src = h.page(2);
    const data = pattern(8192, 3);
    h.k.memory.ramWrite(src, data);
    h.submit(rw(nvme_cmd_write, 8, 16, src, src + 4096));
    const dst = h.page(2);
    h.submit(rw(nvme_cmd_read, 8, 16, dst, dst + 4096));
    h.submit(rw(nvme_cmd_read, 0, 1, dst, 0, 9));
    h.submit(rw(nvme_cmd_read, 2047, 2, dst, dst + 4096));
    h.submit(rw(nvme_cmd_read, 0, 1, dst + 2));
    h.submit(rw(nvme_cmd_read, 0, 8, dst + 512, dst + 4096 + 512));
    expect([0, 1, 2, 3, 4, 5].map((i) => h.cqe(i).status)).toEqual([
      NVME_SC_SUCCESS,
      NVME_SC_SUCCESS,
      NVME_SC_INVALID_NS | NVME_SC_DNR,
      NVME_SC_LBA_RANGE | NVME_SC_DNR,
      NVME_SC_PRP_INVALID_OFFSET | NVME_SC_DNR,
      NVME_SC_PRP_INVALID_OFFSET | NVME_SC_DNR,
    ]);
    expect(diffBytes(h.k.memory.ramRead(dst, 8192), data)).toBe('equal');
    expect(h.ctrl.trace.filter((t) => t.qid === 1).map((t) => t.commandId)).toEqual([100, 101, 102, 103, 104, 105]);
  });

  test('a full completion queue stalls its submission queue until the host moves the head', () => {
    const h = ioSetup({}, 2);
    const buf = h.page();
    for (let i = 0; i < 3; i++) h.submit(rw(nvme_cmd_read, 0, 1, buf));
    expect(h.ctrl.stats.ioCommands).toBe(1);
    expect(h.ctrl.stats.cqFullStalls).toBe(1);
    h.w(0x100c, 1);
    expect(h.ctrl.stats.ioCommands).toBe(2);
    expect(h.ctrl.stats.cqFullStalls).toBe(2);
    h.w(0x100c, 0);
    expect(h.ctrl.stats.ioCommands).toBe(3);
    expect(h.cqe(0).phase).toBe(0);
  });

  test('completions signal the queue vector from the virtual clock, once per burst', () => {
    const h = ioSetup();
    let irqs = 0;
    expect(pciRequestIrq(h.pdev, 2, 'test', () => irqs++)).toBe(0);
    const buf = h.page();
    const before = h.ctrl.stats.interrupts;
    h.k.clock.runUntilIdle();
    h.submit(rw(nvme_cmd_read, 0, 1, buf), false);
    h.submit(rw(nvme_cmd_read, 0, 1, buf));
    expect(h.ctrl.stats.interrupts - before).toBe(2);
    expect(irqs).toBe(0);
    h.k.clock.runUntilIdle();
    expect(irqs).toBe(1);
  });

  test("delayed processing: nothing happens until the doorbell's delay has passed on the clock", () => {
    const h = ioSetup({ processing: { delayNs: 5000 } });
    const buf = h.page();
    h.submit(rw(nvme_cmd_read, 0, 1, buf));
    expect(h.ctrl.stats.ioCommands).toBe(0);
    h.k.clock.advance(4999);
    expect(h.ctrl.stats.ioCommands).toBe(0);
    h.k.clock.advance(1);
    expect(h.ctrl.stats.ioCommands).toBe(1);
    expect(h.ctrl.trace[h.ctrl.trace.length - 1]!.time).toBe(5000);
  });
});

describe('PRP walking (NVMe 1.3 4.3)', () => {
  test('any page layout, offset and length gathers exactly the described bytes (property, seed 42)', () => {
    const h = bare();
    h.enable();
    const eng = h.ctrl.dma;
    const pool = Array.from({ length: 40 }, () => h.page());
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 36 * PAGE_SIZE }),
        fc.integer({ min: 0, max: PAGE_SIZE / 4 - 1 }).map((d) => d * 4),
        fc.shuffledSubarray(pool, { minLength: 38, maxLength: 38 }),
        fc.integer({ min: 0, max: 400 }).map((d) => d * 8),
        (len, off, pages, listOff) => {
          const total = Math.min(len, 36 * PAGE_SIZE - off);
          const nPages = Math.ceil((off + total) / PAGE_SIZE);
          const data = pattern(nPages * PAGE_SIZE, len);
          pages.slice(0, nPages).forEach((p, i) => {
            h.k.memory.ramWrite(p, data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
          });
          const prp1 = pages[0]! + off;
          let prp2 = 0;
          if (nPages === 2) prp2 = pages[1]!;
          else if (nPages > 2) {
            // A list starting listOff bytes into one page, chaining to a second page when it fills.
            const l1 = pages[36]!;
            const l2 = pages[37]!;
            const entries = pages.slice(1, nPages);
            const slots1 = (PAGE_SIZE - listOff) / 8;
            const v1 = new DataView(new ArrayBuffer(PAGE_SIZE - listOff));
            const v2 = new DataView(new ArrayBuffer(PAGE_SIZE));
            if (entries.length <= slots1) for (const [i, e] of entries.entries()) v1.setBigUint64(i * 8, BigInt(e), true);
            else {
              for (const [i, e] of entries.slice(0, slots1 - 1).entries()) v1.setBigUint64(i * 8, BigInt(e), true);
              v1.setBigUint64((slots1 - 1) * 8, BigInt(l2), true);
              for (const [i, e] of entries.slice(slots1 - 1).entries()) v2.setBigUint64(i * 8, BigInt(e), true);
            }
            h.k.memory.ramWrite(l1 + listOff, new Uint8Array(v1.buffer));
            h.k.memory.ramWrite(l2, new Uint8Array(v2.buffer));
            prp2 = l1 + listOff;
          }
          const walk = eng.walkPrps(prp1, prp2, total, PAGE_SIZE, false);
          if (!walk.ok) return false;
          expect(walk.segs.reduce((s, x) => s + x.len, 0)).toBe(total);
          const out = new Uint8Array(total);
          if (!eng.gather(walk.segs, out)) return false;
          return diffBytes(out, data.subarray(off, off + total)) === 'equal';
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe('typed description errors name the input and the field', () => {
  const spec = getBuiltin('seed-switch')!;
  const fresh = () => {
    const k = new Kernel({ ...kernelOptionsForTopology(spec) });
    const sys = enumerate(k, spec);
    if ('error' in sys) throw new Error(sys.error.message);
    return { k, sys, pdev: sys.findByBdf(NVME_CMB_BDF)! };
  };
  test.each([
    [{ cap: { mqes: 70000 } }, "nvme controller config '0000:04:00.0': cap: CAP.MQES 70000 does not fit in 16 bit(s)"],
    [{ cap: { mpsmin: 3, mpsmax: 1 } }, "nvme controller config '0000:04:00.0': cap.mpsmin: MPSMIN 3 is above MPSMAX 1"],
    [{ namespaces: [{ sizeBytes: 1000 }] }, "nvme controller config '0000:04:00.0': namespaces[0].sizeBytes: 1000 is not a multiple of the 512-byte LBA size"],
    [{ namespaces: [{ sizeBytes: 4096, lbaSize: 1024 as 512 }] }, "nvme controller config '0000:04:00.0': namespaces[0].lbaSize: 1024 must be 512 or 4096"],
    [{ namespaces: [{ sizeBytes: 4096 }, { nsid: 1, sizeBytes: 4096 }] }, "nvme controller config '0000:04:00.0': namespaces[1].nsid: namespace ID 1 is used twice"],
    [{ processing: { delayNs: -1 } }, "nvme controller config '0000:04:00.0': processing: must be 'sync' or { delayNs >= 0 }"],
    [{ pseudoCmbBar: 4, cmb: { cmbloc: 2, cmbsz: 0x4319 } }, "nvme controller config '0000:04:00.0': cmb: a pseudo-CMB adaptor reports no CMB registers; give cmb or pseudoCmbBar, not both"],
    [{ cmb: { bar: 2, size: 4096, flags: ['XYZ' as 'SQS'] } }, "nvme controller config '0000:04:00.0': cmb.flags: unknown flag 'XYZ' (expected SQS CQS LISTS RDS WDS)"],
    [{ maxQueuePairs: 0 }, "nvme controller config '0000:04:00.0': maxQueuePairs: 0 must be an integer from 1 to 65535"],
  ] as Array<[NvmeControllerConfig, string]>)('%j', (cfg, msg) => {
    const { pdev, k } = fresh();
    expect(() => attachNvmeController(pdev, cfg)).toThrow(NvmeConfigError);
    expect(() => attachNvmeController(pdev, cfg)).toThrow(msg);
    // Nothing was attached: BAR 0 still reads as plain memory.
    expect(readl(k, pciResourceStart(pdev, 0))).toBe(0);
  });

  test('a second controller on one function, a function without a usable BAR 0, an override on a non-NVMe function', () => {
    const { pdev, sys } = fresh();
    attachNvmeController(pdev);
    expect(() => attachNvmeController(pdev)).toThrow("nvme controller config '0000:04:00.0': device: already has an NVMe controller model");
    expect(() => attachNvmeController(sys.findByBdf('0000:02:08.0')!)).toThrow(
      "nvme controller config '0000:02:08.0': bars[0]: BAR 0 must be an assigned memory BAR of at least 8 KiB (registers and doorbells)",
    );
    const f2 = fresh();
    expect(() => attachNvmeControllers(f2.sys, { '03:00.0': {} })).toThrow("nvme controller config '03:00.0': device: no NVMe function at this address");
    expect(() => attachNvmeControllers(f2.sys, { '05:00.0': { mdts: 300 } })).toThrow("nvme controller config '0000:05:00.0': mdts: 300 must be an integer from 0 to 255");
    // Validation happens before anything is attached.
    expect(readl(f2.k, pciResourceStart(f2.pdev, 0))).toBe(0);
  });

  test('a namespace of size 0 is reported with NSZE/NCAP 0 and logged', () => {
    const { pdev, k } = fresh();
    const ctrl = attachNvmeController(pdev, { namespaces: [{ sizeBytes: 0 }] });
    expect(ctrl.media(1)!.blocks).toBe(0);
    expect(k.log.grep('nvme-ctrl 0000:04:00.0: namespace 1 has size 0: reported with NSZE/NCAP 0 (not allocated)')).toHaveLength(1);
  });
});
