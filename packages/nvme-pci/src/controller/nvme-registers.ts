/**
 * The NVMe controller's register table (BAR0 below the doorbells): offset, width, name, access
 * and what reading and writing each does. The controller implements `NvmeRegisterTarget`.
 *
 * @kernel (hardware) NVMe 1.3 section 3.1 (controller registers)
 */
import {
  NVME_REG_ACQ,
  NVME_REG_AQA,
  NVME_REG_ASQ,
  NVME_REG_CAP,
  NVME_REG_CC,
  NVME_REG_CMBLOC,
  NVME_REG_CMBSZ,
  NVME_REG_CSTS,
  NVME_REG_INTMC,
  NVME_REG_INTMS,
  NVME_REG_NSSR,
  NVME_REG_VS,
} from '../nvme-regs';
import type { RegisterDef } from './register-file';

/** What the register table reads and writes on the controller. */
export interface NvmeRegisterTarget {
  readonly cap: bigint;
  readonly vs: number;
  readonly intms: number;
  readonly cc: number;
  readonly csts: number;
  readonly aqa: number;
  readonly asq: bigint;
  readonly acq: bigint;
  /** CMBLOC as reported. */
  readonly cmbloc: number;
  /** CMBSZ as reported. */
  readonly cmbsz: number;
  /** INTMS write: set mask bits. */
  maskInterrupts(bits: number): void;
  /** INTMC write: clear mask bits. */
  unmaskInterrupts(bits: number): void;
  /** CC write. */
  writeCc(value: number): void;
  /** NSSR write. */
  writeNssr(value: number): void;
  /** AQA write. */
  writeAqa(value: number): void;
  /** ASQ write. */
  writeAsq(value: bigint): void;
  /** ACQ write. */
  writeAcq(value: bigint): void;
}

const n32 = (v: bigint): number => Number(v & 0xffff_ffffn);

/** BAR0's registers. */
export const NVME_CONTROLLER_REGISTERS: readonly RegisterDef<NvmeRegisterTarget>[] = [
  { offset: NVME_REG_CAP, width: 8, name: 'CAP', access: 'RO', description: 'Controller Capabilities', read: (c) => c.cap },
  { offset: NVME_REG_VS, width: 4, name: 'VS', access: 'RO', description: 'Version', read: (c) => BigInt(c.vs) },
  {
    offset: NVME_REG_INTMS,
    width: 4,
    name: 'INTMS',
    access: 'RW1S',
    description: 'Interrupt Mask Set',
    read: (c) => BigInt(c.intms),
    write: (c, v) => c.maskInterrupts(n32(v)),
  },
  {
    offset: NVME_REG_INTMC,
    width: 4,
    name: 'INTMC',
    access: 'RW1C',
    description: 'Interrupt Mask Clear',
    read: (c) => BigInt(c.intms),
    write: (c, v) => c.unmaskInterrupts(n32(v)),
  },
  { offset: NVME_REG_CC, width: 4, name: 'CC', access: 'RW', description: 'Controller Configuration', read: (c) => BigInt(c.cc), write: (c, v) => c.writeCc(n32(v)) },
  { offset: NVME_REG_CSTS, width: 4, name: 'CSTS', access: 'RO', description: 'Controller Status', read: (c) => BigInt(c.csts) },
  { offset: NVME_REG_NSSR, width: 4, name: 'NSSR', access: 'RW', description: 'NVM Subsystem Reset', read: () => 0n, write: (c, v) => c.writeNssr(n32(v)) },
  { offset: NVME_REG_AQA, width: 4, name: 'AQA', access: 'RW', description: 'Admin Queue Attributes', read: (c) => BigInt(c.aqa), write: (c, v) => c.writeAqa(n32(v)) },
  { offset: NVME_REG_ASQ, width: 8, name: 'ASQ', access: 'RW', description: 'Admin Submission Queue Base Address', read: (c) => c.asq, write: (c, v) => c.writeAsq(v) },
  { offset: NVME_REG_ACQ, width: 8, name: 'ACQ', access: 'RW', description: 'Admin Completion Queue Base Address', read: (c) => c.acq, write: (c, v) => c.writeAcq(v) },
  { offset: NVME_REG_CMBLOC, width: 4, name: 'CMBLOC', access: 'RO', description: 'Controller Memory Buffer Location', read: (c) => BigInt(c.cmbloc) },
  { offset: NVME_REG_CMBSZ, width: 4, name: 'CMBSZ', access: 'RO', description: 'Controller Memory Buffer Size', read: (c) => BigInt(c.cmbsz) },
];
