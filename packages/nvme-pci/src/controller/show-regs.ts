/**
 * `nvme show-regs -H` text: parsing a real drive's register dump into a controller description,
 * and printing a model's registers the same way.
 *
 * nvme-cli prints each register as `name : <hex>` at column 0 (`cap     : 203c033fff`,
 * `version : 10200`, ..., `cmbsz   : 20017`), hex without `0x`, 64-bit registers as one value,
 * followed by tab-indented decoded lines (`\tMaximum Queue Entries Supported (MQES): 16384`).
 * The parser reads the value lines (a `0x` prefix is accepted), requires CAP, VS, CMBLOC and
 * CMBSZ, ignores registers newer versions add (BPINFO, CMBMSC, PMRCAP ...), and checks the
 * decoded lines it understands against the values (MQES, DSTRD, TO, MPSMIN/MPSMAX, SZ, SZU,
 * OFST, BIR), so a hand-edited dump that contradicts itself is refused.
 *
 * @kernel (user space) nvme-cli nvme-print.c show_ctrl_registers / show_registers_*
 */
import { NVME_CMB_BIR, NVME_CMB_OFST, NVME_CMBSZ_SZ_MASK, NVME_CMBSZ_SZ_SHIFT, NVME_CMBSZ_SZU_MASK, NVME_CMBSZ_SZU_SHIFT, nvmeCapDecode } from '../nvme-regs';
import type { NvmeControllerConfig } from './controller-config';

/** Register values read from a dump (optional ones are absent when the dump lacks them). */
export interface ShowRegs {
  /** CAP (`cap`). */
  cap: bigint;
  /** VS (`version`). */
  vs: number;
  /** INTMS. */
  intms?: number;
  /** INTMC. */
  intmc?: number;
  /** CC. */
  cc?: number;
  /** CSTS. */
  csts?: number;
  /** NSSR. */
  nssr?: number;
  /** AQA. */
  aqa?: number;
  /** ASQ. */
  asq?: bigint;
  /** ACQ. */
  acq?: bigint;
  /** CMBLOC. */
  cmbloc: number;
  /** CMBSZ. */
  cmbsz: number;
}

/** The outcome of `parseShowRegs`: the registers, or a one-line error naming input and field. */
export type ShowRegsResult = { ok: true; regs: ShowRegs } | { ok: false; error: string };

type Key = 'cap' | 'vs' | 'intms' | 'intmc' | 'cc' | 'csts' | 'nssr' | 'aqa' | 'asq' | 'acq' | 'cmbloc' | 'cmbsz';

/** nvme-cli's register labels → field, with the value width in bits. */
const KEYS: Readonly<Record<string, { key: Key; bits: 32 | 64 }>> = {
  cap: { key: 'cap', bits: 64 },
  version: { key: 'vs', bits: 32 },
  vs: { key: 'vs', bits: 32 },
  intms: { key: 'intms', bits: 32 },
  intmc: { key: 'intmc', bits: 32 },
  cc: { key: 'cc', bits: 32 },
  csts: { key: 'csts', bits: 32 },
  nssr: { key: 'nssr', bits: 32 },
  aqa: { key: 'aqa', bits: 32 },
  asq: { key: 'asq', bits: 64 },
  acq: { key: 'acq', bits: 64 },
  cmbloc: { key: 'cmbloc', bits: 32 },
  cmbsz: { key: 'cmbsz', bits: 32 },
};

/** Registers the parser needs. */
export const SHOW_REGS_REQUIRED: readonly Key[] = ['cap', 'vs', 'cmbloc', 'cmbsz'];

/** nvme-cli's spelling of CMBSZ.SZU. */
export const SHOW_REGS_SZU_NAMES: readonly string[] = ['4 KB', '64 KB', '1 MB', '16 MB', '256 MB', '4 GB', '64 GB'];

function szuName(szu: number): string {
  return SHOW_REGS_SZU_NAMES[szu] ?? 'Reserved';
}

/** A decoded line's expected text, computed from the values: abbreviation → (values) → text. */
const DECODED_CHECKS: Readonly<Record<string, { reg: Key; expect: (v: ShowRegs) => string | null }>> = {
  MQES: { reg: 'cap', expect: (r) => String(nvmeCapDecode(r.cap).mqes + 1) },
  DSTRD: { reg: 'cap', expect: (r) => `${4 << nvmeCapDecode(r.cap).dstrd} bytes` },
  TO: { reg: 'cap', expect: (r) => `${nvmeCapDecode(r.cap).to * 500} ms` },
  MPSMIN: { reg: 'cap', expect: (r) => `${2 ** (12 + nvmeCapDecode(r.cap).mpsmin)} bytes` },
  MPSMAX: { reg: 'cap', expect: (r) => `${2 ** (12 + nvmeCapDecode(r.cap).mpsmax)} bytes` },
  SZ: { reg: 'cmbsz', expect: (r) => (r.cmbsz === 0 ? null : String((r.cmbsz >>> NVME_CMBSZ_SZ_SHIFT) & NVME_CMBSZ_SZ_MASK)) },
  SZU: { reg: 'cmbsz', expect: (r) => (r.cmbsz === 0 ? null : szuName((r.cmbsz >>> NVME_CMBSZ_SZU_SHIFT) & NVME_CMBSZ_SZU_MASK)) },
  OFST: { reg: 'cmbloc', expect: (r) => (r.cmbsz === 0 ? null : NVME_CMB_OFST(r.cmbloc).toString(16)) },
  BIR: { reg: 'cmbloc', expect: (r) => (r.cmbsz === 0 ? null : NVME_CMB_BIR(r.cmbloc).toString(16)) },
};

const CONTROL_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** An error on one line: control characters quoted from the dump (a lone CR) are escaped. */
function oneLine(msg: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return msg.replace(/[\u0000-\u001f\u007f]/g, (c) => CONTROL_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * A decoded line's abbreviation and text: the last `(ABBR):` on the line and what follows it,
 * trimmed (`\tOffset (OFST): 0 (See cmbsz.szu for granularity)` → OFST, `0 (See ...)`). Found
 * with one left-to-right scan, so a long hand-edited line costs linear time (a single regex
 * with `.*\(` before the group backtracks quadratically on long lines without a match).
 */
function decodedField(raw: string): { abbrev: string; text: string } | null {
  let last: RegExpExecArray | null = null;
  const re = /\(([A-Z0-9]+)\)\s*:/g;
  for (let m = re.exec(raw); m !== null; m = re.exec(raw)) last = m;
  if (last === null) return null;
  return { abbrev: last[1]!, text: raw.slice(last.index + last[0].length).trim() };
}

/**
 * Parses `nvme show-regs -H` (or plain `nvme show-regs`) output.
 * @param text the dump.
 * @param input its name for errors (a file name).
 * @returns the registers, or `{ ok: false, error }` with one line (control characters quoted
 *   from the text are escaped) such as
 *   `show-regs 'drive.txt': cmbsz: 'zz' is not a hexadecimal value`.
 */
export function parseShowRegs(text: string, input: string): ShowRegsResult {
  const fail = (field: string, reason: string): ShowRegsResult => ({ ok: false, error: oneLine(`show-regs '${input}': ${field}: ${reason}`) });
  const vals: Partial<Record<Key, bigint>> = {};
  const decoded: Array<{ abbrev: string; text: string; line: number; reg: Key }> = [];
  let current: Key | null = null;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    if (/^\s/.test(raw)) {
      const d = current === null ? null : decodedField(raw);
      if (d !== null && current !== null) decoded.push({ ...d, line: i + 1, reg: current });
      continue;
    }
    const m = /^([A-Za-z][A-Za-z0-9_]*)\s*:\s*(\S*)\s*$/.exec(raw);
    if (m === null) return fail(`line ${i + 1}`, `'${raw.slice(0, 40)}' is not a 'register : value' line`);
    const label = m[1]!.toLowerCase();
    const spec = KEYS[label];
    if (spec === undefined) {
      current = null; // a register this parser does not use (bpinfo, cmbmsc, pmrcap, ...)
      continue;
    }
    const hex = m[2]!.replace(/^0x/i, '');
    if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) return fail(label, `'${m[2]}' is not a hexadecimal value`);
    const v = BigInt(`0x${hex}`);
    if (v >= 1n << BigInt(spec.bits)) return fail(label, `0x${hex} does not fit in ${spec.bits} bits`);
    if (vals[spec.key] !== undefined) return fail(label, 'appears twice');
    vals[spec.key] = v;
    current = spec.key;
  }
  for (const k of SHOW_REGS_REQUIRED) if (vals[k] === undefined) return fail(k === 'vs' ? 'version' : k, 'missing (cap, version, cmbloc and cmbsz are required)');
  const n32 = (k: Key): number | undefined => (vals[k] === undefined ? undefined : Number(vals[k]));
  const regs: ShowRegs = { cap: vals.cap!, vs: n32('vs')!, cmbloc: n32('cmbloc')!, cmbsz: n32('cmbsz')! };
  for (const k of ['intms', 'intmc', 'cc', 'csts', 'nssr', 'aqa'] as const) {
    const v = n32(k);
    if (v !== undefined) regs[k] = v;
  }
  if (vals.asq !== undefined) regs.asq = vals.asq;
  if (vals.acq !== undefined) regs.acq = vals.acq;
  for (const d of decoded) {
    const check = DECODED_CHECKS[d.abbrev];
    if (check === undefined || check.reg !== d.reg) continue;
    const want = check.expect(regs);
    if (want === null) continue;
    const got = d.abbrev === 'OFST' || d.abbrev === 'BIR' ? (/^(?:0x)?([0-9a-fA-F]+)/.exec(d.text)?.[1] ?? '').toLowerCase() : d.text;
    const ok = d.abbrev === 'MQES' || d.abbrev === 'SZ' || d.abbrev === 'OFST' || d.abbrev === 'BIR' ? got === want : got === want || got.startsWith(`${want} `);
    if (!ok) return fail(d.reg === 'vs' ? 'version' : d.reg, `decoded line ${d.line} says ${d.abbrev} is '${d.text}' but the value gives '${want}'`);
  }
  return { ok: true, regs };
}

/**
 * The controller description a dump gives: exact CAP, VS and the CMB registers as reported.
 * @param regs parsed registers.
 * @returns a partial description to merge with namespaces and the rest.
 */
export function nvmeConfigFromShowRegs(regs: ShowRegs): NvmeControllerConfig {
  return { capRaw: regs.cap, vs: regs.vs, cmb: regs.cmbsz === 0 ? null : { cmbloc: regs.cmbloc, cmbsz: regs.cmbsz } };
}

const yn = (b: boolean): string => (b ? 'Yes' : 'No');
const sup = (b: boolean): string => (b ? 'Supported' : 'Not supported');

/**
 * Prints registers as nvme-cli 1.x `show-regs -H` does.
 * @param r the registers (absent optional ones print as 0).
 * @returns the text, newline-terminated.
 */
export function formatShowRegs(r: ShowRegs): string {
  const c = nvmeCapDecode(r.cap);
  const o: string[] = [];
  const cc = r.cc ?? 0;
  const csts = r.csts ?? 0;
  const aqa = r.aqa ?? 0;
  o.push(`cap     : ${r.cap.toString(16)}`);
  o.push(`\tMemory Page Size Maximum      (MPSMAX): ${2 ** (12 + c.mpsmax)} bytes`);
  o.push(`\tMemory Page Size Minimum      (MPSMIN): ${2 ** (12 + c.mpsmin)} bytes`);
  o.push(`\tCommand Sets Supported           (CSS): NVM command set is ${(c.css & 1) !== 0 ? 'supported' : 'not supported'}`);
  o.push(`\tNVM Subsystem Reset Supported  (NSSRS): ${yn(c.nssrs !== 0)}`);
  o.push(`\tDoorbell Stride                (DSTRD): ${4 << c.dstrd} bytes`);
  o.push(`\tTimeout                           (TO): ${c.to * 500} ms`);
  o.push(`\tArbitration Mechanism Supported  (AMS): Weighted Round Robin with Urgent Priority Class is ${(c.ams & 1) !== 0 ? 'supported' : 'not supported'}`);
  o.push(`\tContiguous Queues Required       (CQR): ${yn(c.cqr !== 0)}`);
  o.push(`\tMaximum Queue Entries Supported (MQES): ${c.mqes + 1}`, '');
  o.push(`version : ${r.vs.toString(16)}`, `\tNVMe specification ${r.vs >>> 16}.${(r.vs >>> 8) & 0xff}`, '');
  o.push(`intms   : ${(r.intms ?? 0).toString(16)}`, `\tInterrupt Vector Mask Set (IVMS): ${(r.intms ?? 0).toString(16)}`, '');
  o.push(`intmc   : ${(r.intmc ?? 0).toString(16)}`, `\tInterrupt Vector Mask Clear (IVMC): ${(r.intmc ?? 0).toString(16)}`, '');
  const shn = ['No notification; no effect', 'Normal shutdown notification', 'Abrupt shutdown notification', 'Reserved'][(cc >>> 14) & 3]!;
  const ams = (cc >>> 11) & 7;
  o.push(`cc      : ${cc.toString(16)}`);
  o.push(`\tI/O Completion Queue Entry Size (IOSQES): ${2 ** ((cc >>> 20) & 0xf)} bytes`);
  o.push(`\tI/O Submission Queue Entry Size (IOSQES): ${2 ** ((cc >>> 16) & 0xf)} bytes`);
  o.push(`\tShutdown Notification              (SHN): ${shn}`);
  o.push(`\tArbitration Mechanism Selected     (AMS): ${ams === 0 ? 'Round Robin' : ams === 1 ? 'Weighted Round Robin with Urgent Priority Class' : ams === 7 ? 'Vendor Specific' : 'Reserved'}`);
  o.push(`\tMemory Page Size                   (MPS): ${2 ** (12 + ((cc >>> 7) & 0xf))} bytes`);
  o.push(`\tI/O Command Sets Selected          (CSS): ${(cc & 0x70) !== 0 ? 'Reserved' : 'NVM Command Set'}`);
  o.push(`\tEnable                              (EN): ${yn((cc & 1) !== 0)}`, '');
  const shst = ['Normal operation (no shutdown has been requested)', 'Shutdown processing occurring', 'Shutdown processing complete', 'Reserved'][(csts >>> 2) & 3]!;
  o.push(`csts    : ${csts.toString(16)}`);
  o.push(`\tProcessing Paused               (PP): ${yn((csts & 0x20) !== 0)}`);
  o.push(`\tNVM Subsystem Reset Occurred (NSSRO): ${yn((csts & 0x10) !== 0)}`);
  o.push(`\tShutdown Status               (SHST): ${shst}`);
  o.push(`\tController Fatal Status        (CFS): ${(csts & 2) !== 0 ? 'True' : 'False'}`);
  o.push(`\tReady                          (RDY): ${yn((csts & 1) !== 0)}`, '');
  o.push(`nssr    : ${(r.nssr ?? 0).toString(16)}`, `\tNVM Subsystem Reset Control (NSSRC): ${r.nssr ?? 0}`, '');
  o.push(`aqa     : ${aqa.toString(16)}`);
  o.push(`\tAdmin Completion Queue Size (ACQS): ${((aqa >>> 16) & 0xfff) + 1} bytes`);
  o.push(`\tAdmin Submission Queue Size (ASQS): ${(aqa & 0xfff) + 1} bytes`, '');
  o.push(`asq     : ${(r.asq ?? 0n).toString(16)}`, `\tAdmin Submission Queue Base (ASQB): ${(r.asq ?? 0n).toString(16)}`);
  o.push(`acq     : ${(r.acq ?? 0n).toString(16)}`, `\tAdmin Completion Queue Base (ACQB): ${(r.acq ?? 0n).toString(16)}`);
  o.push(`cmbloc  : ${r.cmbloc.toString(16)}`);
  if (r.cmbsz === 0) o.push('\tController Memory Buffer feature is not supported', '');
  else {
    o.push(`\tOffset                 (OFST): ${NVME_CMB_OFST(r.cmbloc).toString(16)} (See cmbsz.szu for granularity)`);
    o.push(`\tBase Indicator Register (BIR): ${NVME_CMB_BIR(r.cmbloc).toString(16)}`, '');
  }
  o.push(`cmbsz   : ${r.cmbsz.toString(16)}`);
  if (r.cmbsz === 0) o.push('\tController Memory Buffer feature is not supported', '');
  else {
    const s = r.cmbsz;
    o.push(`\tSize                      (SZ): ${(s >>> NVME_CMBSZ_SZ_SHIFT) & NVME_CMBSZ_SZ_MASK}`);
    o.push(`\tSize Units               (SZU): ${szuName((s >>> NVME_CMBSZ_SZU_SHIFT) & NVME_CMBSZ_SZU_MASK)}`);
    o.push(`\tWrite Data Support       (WDS): Write Data and metadata transfer in Controller Memory Buffer is ${sup((s & 0x10) !== 0)}`);
    o.push(`\tRead Data Support        (RDS): Read Data and metadata transfer in Controller Memory Buffer is ${sup((s & 0x08) !== 0)}`);
    o.push(`\tPRP SGL List Support   (LISTS): PRP/SG Lists in Controller Memory Buffer is ${sup((s & 0x04) !== 0)}`);
    o.push(`\tCompletion Queue Support (CQS): Admin and I/O Completion Queues in Controller Memory Buffer is ${sup((s & 0x02) !== 0)}`);
    o.push(`\tSubmission Queue Support (SQS): Admin and I/O Submission Queues in Controller Memory Buffer is ${sup((s & 0x01) !== 0)}`, '');
  }
  return `${o.join('\n')}\n`;
}
