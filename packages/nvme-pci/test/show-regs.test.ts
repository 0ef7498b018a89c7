/**
 * `nvme show-regs -H` text as a controller description: real-looking dumps parse, drive the
 * model and the driver; printing and parsing round-trip; bad text gets one line naming the
 * input and the field (nvme-cli nvme-print.c show_ctrl_registers format).
 */
import { pciHasP2pmem } from '@p2pdma/p2pdma';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { ShowRegs } from '../src/index';
import { formatShowRegs, NVME_VS, nvmeCapDecode, nvmeConfigFromShowRegs, parseShowRegs } from '../src/index';
import { machine, NVME_CMB_BDF, NVME_NOCMB_BDF } from './helpers';

/** An Intel P3700 as nvme-cli 1.x prints it (no CMB). */
const P3700 = `cap     : 2078030fff
\tMemory Page Size Maximum      (MPSMAX): 4096 bytes
\tMemory Page Size Minimum      (MPSMIN): 4096 bytes
\tCommand Sets Supported           (CSS): NVM command set is supported
\tNVM Subsystem Reset Supported  (NSSRS): No
\tDoorbell Stride                (DSTRD): 4 bytes
\tTimeout                           (TO): 60000 ms
\tArbitration Mechanism Supported  (AMS): Weighted Round Robin with Urgent Priority Class is supported
\tContiguous Queues Required       (CQR): Yes
\tMaximum Queue Entries Supported (MQES): 4096

version : 10000
\tNVMe specification 1.0

intms   : 0
\tInterrupt Vector Mask Set (IVMS): 0

intmc   : 0
\tInterrupt Vector Mask Clear (IVMC): 0

cc      : 460001
\tI/O Completion Queue Entry Size (IOSQES): 16 bytes
\tI/O Submission Queue Entry Size (IOSQES): 64 bytes
\tShutdown Notification              (SHN): No notification; no effect
\tArbitration Mechanism Selected     (AMS): Round Robin
\tMemory Page Size                   (MPS): 4096 bytes
\tI/O Command Sets Selected          (CSS): NVM Command Set
\tEnable                              (EN): Yes

csts    : 1
\tProcessing Paused               (PP): No
\tNVM Subsystem Reset Occurred (NSSRO): No
\tShutdown Status               (SHST): Normal operation (no shutdown has been requested)
\tController Fatal Status        (CFS): False
\tReady                          (RDY): Yes

nssr    : 0
\tNVM Subsystem Reset Control (NSSRC): 0

aqa     : 1f001f
\tAdmin Completion Queue Size (ACQS): 32 bytes
\tAdmin Submission Queue Size (ASQS): 32 bytes

asq     : 42c8a5000
\tAdmin Submission Queue Base (ASQB): 42c8a5000
acq     : 42c8a6000
\tAdmin Completion Queue Base (ACQB): 42c8a6000
cmbloc  : 0
\tController Memory Buffer feature is not supported

cmbsz   : 0
\tController Memory Buffer feature is not supported
`;

/** A controller with a 64 MiB CMB in BAR 2 (1 MiB units; SQS RDS WDS), as QEMU's cmb_size_mb=64 reports it, plus registers a newer nvme-cli prints. */
const CMB64 = `cap     : 0x4000200f0107ff
version : 0x10200
cc      : 0x460001
csts    : 0x1
aqa     : 0x1f001f
cmbloc  : 0x2
\tOffset                 (OFST): 0 (See cmbsz.szu for granularity)
\tBase Indicator Register (BIR): 2
cmbsz   : 0x40219
\tSize                      (SZ): 64
\tSize Units               (SZU): 1 MB
bpinfo  : 0
cmbmsc  : 0
`;

describe('parseShowRegs', () => {
  test('an Intel P3700 dump: CAP, VS and no CMB', () => {
    const r = parseShowRegs(P3700, 'p3700.txt');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.regs).toEqual({ cap: 0x2078030fffn, vs: 0x10000, intms: 0, intmc: 0, cc: 0x460001, csts: 1, nssr: 0, aqa: 0x1f001f, asq: 0x42c8a5000n, acq: 0x42c8a6000n, cmbloc: 0, cmbsz: 0 });
    expect(nvmeCapDecode(r.regs.cap)).toMatchObject({ mqes: 4095, cqr: 1, ams: 1, to: 120, dstrd: 0, css: 1, mpsmin: 0, mpsmax: 0 });
    expect(nvmeConfigFromShowRegs(r.regs)).toEqual({ capRaw: 0x2078030fffn, vs: 0x10000, cmb: null });
  });

  test('a CMB dump with 0x prefixes and registers the parser does not use', () => {
    const r = parseShowRegs(CMB64, 'cmb.txt');
    expect(r).toEqual({ ok: true, regs: { cap: 0x4000200f0107ffn, vs: 0x10200, cc: 0x460001, csts: 1, aqa: 0x1f001f, cmbloc: 2, cmbsz: 0x40219 } });
  });

  test('real dumps drive the model and the driver: the P3700 gets no CMB, the CMB dump a published 64 MiB one', () => {
    const p3700 = parseShowRegs(P3700, 'p3700.txt');
    const cmb = parseShowRegs(CMB64, 'cmb.txt');
    if (!p3700.ok || !cmb.ok) throw new Error('parse');
    const m = machine({ policy: 'v2', overrides: { [NVME_NOCMB_BDF]: nvmeConfigFromShowRegs(p3700.regs), [NVME_CMB_BDF]: nvmeConfigFromShowRegs(cmb.regs) } });
    // The driver asks for min(MQES + 1, io_queue_depth) entries.
    expect(m.dev(NVME_NOCMB_BDF).qDepth).toBe(1024);
    expect(m.dev(NVME_NOCMB_BDF).cmbSize).toBe(0);
    // 4.16 maps the CMB only for NVMe 1.2+; this one is 1.2.
    expect(m.dev(NVME_CMB_BDF).cmbSize).toBe(64 << 20);
    expect(pciHasP2pmem(m.pdev(NVME_CMB_BDF))).toBe(true);
    expect(m.k.sysfs.read('/sys/class/nvme/nvme0/cmb')).toBe('cmbloc : x00000002\ncmbsz  : x00040219\n');
    expect(m.dev(NVME_CMB_BDF).dbStride).toBe(1);
    // The model reads back exactly what the dump said.
    expect(parseShowRegs(m.ctrl(NVME_CMB_BDF).showRegs(), 'model')).toMatchObject({ ok: true, regs: { cap: cmb.regs.cap, vs: NVME_VS(1, 2, 0), cmbloc: 2, cmbsz: 0x40219 } });
  });

  test.each([
    ['', "show-regs 'bad.txt': cap: missing (cap, version, cmbloc and cmbsz are required)"],
    [P3700.replace(/cmbsz {3}: 0\n/, ''), "show-regs 'bad.txt': cmbsz: missing (cap, version, cmbloc and cmbsz are required)"],
    [P3700.replace('version : 10000', 'version : zz12'), "show-regs 'bad.txt': version: 'zz12' is not a hexadecimal value"],
    [P3700.replace('cmbloc  : 0', 'cmbloc  : 1ffffffff'), "show-regs 'bad.txt': cmbloc: 0x1ffffffff does not fit in 32 bits"],
    [`${P3700}cap     : 1\n`, "show-regs 'bad.txt': cap: appears twice"],
    [P3700.replace('(MQES): 4096', '(MQES): 1024'), "show-regs 'bad.txt': cap: decoded line 10 says MQES is '1024' but the value gives '4096'"],
    [CMB64.replace('(SZU): 1 MB', '(SZU): 16 MB'), "show-regs 'bad.txt': cmbsz: decoded line 11 says SZU is '16 MB' but the value gives '1 MB'"],
    [`${P3700}this is not a register\n`, "show-regs 'bad.txt': line 53: 'this is not a register' is not a 'register : value' line"],
  ])('bad text gets one line naming the input and the field (%#)', (text, error) => {
    expect(parseShowRegs(text, 'bad.txt')).toEqual({ ok: false, error });
    expect(error.includes('\n')).toBe(false);
  });

  test('formatShowRegs and parseShowRegs round-trip any register values (property, seed 42)', () => {
    const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    const regs = fc.record({ cap: u64, vs: u32, intms: u32, intmc: u32, cc: u32, csts: u32, nssr: u32, aqa: u32, asq: u64, acq: u64, cmbloc: u32, cmbsz: u32 });
    fc.assert(
      fc.property(regs, (r: ShowRegs) => {
        const back = parseShowRegs(formatShowRegs(r), 'roundtrip');
        if (!back.ok) return false;
        const keys = Object.keys(r) as Array<keyof ShowRegs>;
        return Object.keys(back.regs).length === keys.length && keys.every((key) => back.regs[key] === r[key]);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  test('the model prints its live registers (CC, CSTS, AQA, ASQ, ACQ after the driver enabled it)', () => {
    const m = machine({ policy: 'upstream' });
    const text = m.ctrl(NVME_CMB_BDF).showRegs();
    expect(text.split('\n').filter((l) => !l.startsWith('\t') && l !== '')).toEqual([
      'cap     : 20140103ff',
      'version : 10300',
      'intms   : 0',
      'intmc   : 0',
      'cc      : 460001',
      'csts    : 1',
      'nssr    : 0',
      'aqa     : 1f001f',
      `asq     : ${m.dev(NVME_CMB_BDF).queues[0]!.sqDmaAddr.toString(16)}`,
      `acq     : ${m.dev(NVME_CMB_BDF).queues[0]!.cq.dmaHandle.toString(16)}`,
      'cmbloc  : 2',
      'cmbsz   : 431b',
    ]);
    expect(text).toContain('\tSize Units               (SZU): 16 MB\n');
  });
});
