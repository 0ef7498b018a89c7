/**
 * One-pass, line-oriented parser of `lspci` text: `-vvv`/`-vv`/`-v` records (with or without
 * `-nn`), one-line `lspci`/`lspci -nn` listings, `-x`/`-xxx` hex dumps and `-t` trees, in any
 * mix (an nvidia-bug-report concatenates several). Records of one function from several
 * sections are merged by BDF.
 *
 * It records only what the text states; `lspci.ts` turns the records into a topology.
 * Regular expressions are compiled once; each line is dispatched on its first characters.
 */
import { type Bdf, bdfKey, formatBdf } from '../bdf';
import type { AcsBitName, BarSpec, PciePortType } from '../topology-spec';
import { TREE_START_RE, TreeParser } from './lspci-tree';

/** Everything a dump says about one function. */
export interface LspciRecord {
  addr: Bdf;
  bdf: string;
  /** 1-based line of the record's first header line. */
  line: number;
  /** Class name text as printed (`PCI bridge`). */
  className?: string;
  /** 16-bit class (base << 8 | sub). */
  class16?: number;
  progIf?: number;
  label?: string;
  vendor?: number;
  device?: number;
  revision?: number;
  subsystemVendor?: number;
  subsystemDevice?: number;
  /** From the hex dump's header-type byte. */
  headerType?: number;
  secondary?: number;
  subordinate?: number;
  /** Line of the `Bus:` line (or tree entry) giving the bus numbers. */
  busLine?: number;
  portType?: PciePortType;
  linkGen?: number;
  linkWidth?: number;
  maxLinkGen?: number;
  maxLinkWidth?: number;
  mps?: number;
  /** The ACS capability was listed. */
  hasAcs: boolean;
  acsCap?: AcsBitName[];
  acsCtrl?: AcsBitName[];
  bars: BarSpec[];
  /** BAR indexes came from the order of `Memory at` lines (`-v` has no `Region N:`). */
  barsByOrder: boolean;
  /** BARs listed without a size (cannot be modelled). */
  barsWithoutSize: number;
  driver?: string;
  /** Any detail line (indented or hex dump) was seen. */
  detail: boolean;
  /** `Capabilities: <access denied>`. */
  capsDenied: boolean;
  /** Any capability was listed. */
  capsListed: boolean;
  sriov?: { enabled?: boolean; numVfs?: number; offset?: number; stride?: number };
  /** The label says it is an SR-IOV virtual function. */
  virtualFunction: boolean;
  iommuGroup: boolean;
  /** `ACSCtl:` showed SrcValid+. */
  acsSrcValid: boolean;
  /** Importer's working state: the port type inferred from the structure (null: none). */
  inferredPortType?: PciePortType | null;
  /** Importer's working state: inference in progress (guards against bus loops). */
  inferring?: boolean;
}

/** A parse failure at a line. */
export class LspciSyntaxError extends Error {
  /**
   * @param line 1-based line number.
   * @param reason what is wrong there.
   */
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
    this.name = 'LspciSyntaxError';
  }
}

/** Result of the line pass. */
export interface LspciParse {
  /** Records by {@link bdfKey}, in first-seen order. */
  records: Map<number, LspciRecord>;
  /** Entries of `-t` trees. */
  tree: TreeParser;
  /** The text contained `[vvvv:dddd]` IDs somewhere. */
  numericIds: boolean;
}

// Header: `[dddd:]bb:dd.f Class name [cccc]: description`.
const HEADER_RE = /^(?:([0-9a-f]{4,8}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7]) (.*)$/;
const BDF_START_RE = /^(?:[0-9a-f]{4,8}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7](?:\s|$)/;
const CLASS_RE = /^([^:[]*[^:[ ])(?: \[([0-9a-f]{4})\])?: (.*)$/;
const CLASS_NUM_RE = /^Class ([0-9a-f]{4})$/;
const PROGIF_RE = / \(prog-if ([0-9a-f]{2})(?: \[[^\]]*\])?\)$/;
const REV_RE = / \(rev ([0-9a-f]{2})\)$/;
const IDS_RE = / \[([0-9a-f]{4}):([0-9a-f]{4})\]$/;
const HEX_RE = /^([0-9a-f]{2,3}): ((?:[0-9a-f]{2} ){15}[0-9a-f]{2})$/;
const BUS_RE = /^\tBus: primary=([0-9a-f]{2}), secondary=([0-9a-f]{2}), subordinate=([0-9a-f]{2}), sec-latency=\d+/;
const BAR_RE = /^\t(?:Region (\d+): )?(?:\[virtual\] )?(Memory|I\/O ports) at (\S+)(?: \(([^)]*)\))?(.*)$/;
const SIZE_RE = /\[size=(\d+)([KMGT]?)\]/;
const PREFETCH_RE = /(?:^|[^-])prefetchable/;
const CAP_RE = /^\tCapabilities: \[[0-9a-f]+(?: v\d+)?\] (.*)$/;
const EXPRESS_RE = /^Express (?:\(v\d+\) )?(.*?)(?:, (?:MSI|IntMsgNum) [0-9a-f]+)?$/;
const SPEED_RE = /Speed ([\d.]+)GT\/s/;
const WIDTH_RE = /Width x(\d+)/;
const MPS_RE = /MaxPayload (\d+) bytes/;
const ACS_BITS_RE = /(SrcValid|TransBlk|ReqRedir|CmpltRedir|UpstreamFwd|EgressCtrl|DirectTrans)([+-])/g;
const NUM_VFS_RE = /Number of VFs: (\d+)/;
const VF_OFFSET_RE = /VF offset: (\d+), stride: (\d+)/;
const SUBSYS_IDS_RE = /\[([0-9a-f]{4}):([0-9a-f]{4})\]$/;
const LSPCI_CMD_RE = /\blspci\b(.*)$/;
const VERBOSE_FLAG_RE = /(?:^|\s)-[a-zA-Z]*v/;

/** Size suffixes lspci prints (powers of 1024). */
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Link speed text (GT/s) → PCIe generation. */
export const LINK_SPEED_GEN: Readonly<Record<string, number>> = { '2.5': 1, '5': 2, '8': 3, '16': 4, '32': 5, '64': 6 };

/** lspci's ACS bit names → the schema's. */
const ACS_NAMES: Readonly<Record<string, AcsBitName>> = {
  SrcValid: 'SV',
  TransBlk: 'TB',
  ReqRedir: 'RR',
  CmpltRedir: 'CR',
  UpstreamFwd: 'UF',
  EgressCtrl: 'EC',
  DirectTrans: 'DT',
};

/** Express capability Device/Port Type text (as lspci prints it) → port type. */
const PORT_TYPE_TEXT: ReadonlyArray<readonly [string, PciePortType]> = [
  ['Root Complex Integrated Endpoint', 'rc-endpoint'],
  ['Root Complex Event Collector', 'rc-event-collector'],
  ['Legacy Endpoint', 'legacy-endpoint'],
  ['Endpoint', 'endpoint'],
  ['Root Port', 'root-port'],
  ['Upstream Port', 'upstream-port'],
  ['Downstream Port', 'downstream-port'],
  ['PCI-Express to PCI/PCI-X Bridge', 'pcie-pci-bridge'],
  ['PCI/PCI-X to PCI-Express Bridge', 'pci-pcie-bridge'],
];

/** Class names lspci prints (from the PCI ID database) → 16-bit class code. */
export const CLASS_NAMES: Readonly<Record<string, number>> = {
  'Non-VGA unclassified device': 0x0000,
  'VGA compatible unclassified device': 0x0001,
  'SCSI storage controller': 0x0100,
  'IDE interface': 0x0101,
  'RAID bus controller': 0x0104,
  'SATA controller': 0x0106,
  'Serial Attached SCSI controller': 0x0107,
  'Non-Volatile memory controller': 0x0108,
  'Mass storage controller': 0x0180,
  'Ethernet controller': 0x0200,
  'Fibre Channel controller': 0x0204,
  'Infiniband controller': 0x0207,
  'Fabric controller': 0x0208,
  'Network controller': 0x0280,
  'VGA compatible controller': 0x0300,
  'XGA compatible controller': 0x0301,
  '3D controller': 0x0302,
  'Display controller': 0x0380,
  'Multimedia video controller': 0x0400,
  'Multimedia audio controller': 0x0401,
  'Audio device': 0x0403,
  'Multimedia controller': 0x0480,
  'RAM memory': 0x0500,
  'FLASH memory': 0x0501,
  'CXL': 0x0502,
  'Memory controller': 0x0580,
  'Host bridge': 0x0600,
  'ISA bridge': 0x0601,
  'PCI bridge': 0x0604,
  'CardBus bridge': 0x0607,
  'Semi-transparent PCI-to-PCI bridge': 0x0609,
  'Bridge': 0x0680,
  'Serial controller': 0x0700,
  'Communication controller': 0x0780,
  'PIC': 0x0800,
  'DMA controller': 0x0801,
  'Timer': 0x0802,
  'IOMMU': 0x0806,
  'System peripheral': 0x0880,
  'USB controller': 0x0c03,
  'Fibre Channel': 0x0c04,
  'SMBus': 0x0c05,
  'InfiniBand': 0x0c06,
  'Serial bus controller': 0x0c80,
  'Encryption controller': 0x1000,
  'Signal processing controller': 0x1180,
  'Performance counters': 0x1101,
  'Processing accelerators': 0x1200,
  'Unassigned class': 0xff00,
};

/**
 * A record with nothing known yet but its address. Every optional field is present (as
 * `undefined`) from the start, so all records share one object shape and the parser's property
 * accesses stay monomorphic (a field appearing later would give each record its own shape).
 */
export function newRecord(addr: Bdf, line: number): LspciRecord {
  return {
    addr,
    bdf: formatBdf(addr),
    line,
    className: undefined,
    class16: undefined,
    progIf: undefined,
    label: undefined,
    vendor: undefined,
    device: undefined,
    revision: undefined,
    subsystemVendor: undefined,
    subsystemDevice: undefined,
    headerType: undefined,
    secondary: undefined,
    subordinate: undefined,
    busLine: undefined,
    portType: undefined,
    linkGen: undefined,
    linkWidth: undefined,
    maxLinkGen: undefined,
    maxLinkWidth: undefined,
    mps: undefined,
    hasAcs: false,
    acsCap: undefined,
    acsCtrl: undefined,
    bars: [],
    barsByOrder: false,
    barsWithoutSize: 0,
    driver: undefined,
    detail: false,
    capsDenied: false,
    capsListed: false,
    virtualFunction: false,
    iommuGroup: false,
    acsSrcValid: false,
    sriov: undefined,
    inferredPortType: undefined,
    inferring: undefined,
  };
}

/** Fill the fields `into` lacks from `from` (a later section about the same function). */
function merge(into: LspciRecord, from: LspciRecord): void {
  const keys: Array<keyof LspciRecord> = [
    'className',
    'class16',
    'progIf',
    'label',
    'vendor',
    'device',
    'revision',
    'subsystemVendor',
    'subsystemDevice',
    'headerType',
    'secondary',
    'subordinate',
    'busLine',
    'portType',
    'linkGen',
    'linkWidth',
    'maxLinkGen',
    'maxLinkWidth',
    'mps',
    'acsCap',
    'acsCtrl',
    'driver',
    'sriov',
  ];
  const target = into as unknown as Record<string, unknown>;
  const source = from as unknown as Record<string, unknown>;
  for (const k of keys) if (target[k] === undefined && source[k] !== undefined) target[k] = source[k];
  if (into.bars.length === 0 && from.bars.length > 0) {
    into.bars = from.bars;
    into.barsByOrder = from.barsByOrder;
  }
  into.hasAcs ||= from.hasAcs;
  into.detail ||= from.detail;
  into.capsDenied = (into.capsDenied || from.capsDenied) && !(into.capsListed || from.capsListed);
  into.capsListed ||= from.capsListed;
  into.virtualFunction ||= from.virtualFunction;
  into.iommuGroup ||= from.iommuGroup;
  into.acsSrcValid ||= from.acsSrcValid;
}

function parseAcsBits(text: string, line: number, key: string): { bits: AcsBitName[]; srcValid: boolean } {
  const bits: AcsBitName[] = [];
  let count = 0;
  let srcValid = false;
  ACS_BITS_RE.lastIndex = 0;
  for (let m = ACS_BITS_RE.exec(text); m !== null; m = ACS_BITS_RE.exec(text)) {
    count++;
    if (m[2] === '+') {
      const name = ACS_NAMES[m[1]!]!;
      bits.push(name);
      if (name === 'SV') srcValid = true;
    }
  }
  if (count < Object.keys(ACS_NAMES).length) {
    throw new LspciSyntaxError(line, `${key} line is cut off (lspci prints all seven ACS bits)`);
  }
  return { bits, srcValid };
}

/**
 * Parse lspci text in one pass.
 * @param text the whole input.
 * @returns the records and trees found.
 * @throws LspciSyntaxError for a record cut mid-way (a header without class text, a partial
 *   `Bus:`, BAR, capability, link or ACS line, or a verbose record the input ends inside).
 */
export function parseLspciText(text: string): LspciParse {
  const records = new Map<number, LspciRecord>();
  const tree = new TreeParser();
  let numericIds = false;

  let cur: LspciRecord | null = null;
  /** The current record is a second appearance of a BDF; merged when it closes. */
  let curIsDuplicate = false;
  let terminated = true;
  /** Start of the last detail line of the current record (-1: none). */
  let lastDetail = -1;
  let lastDetailEnd = -1;
  let nextBarIndex = 0;
  // Context of indented lines, shared with the helpers below: the capability being listed
  // and whether the last second-level key was DevCtl (MaxPayload is on its continuation line).
  const ctx: { capKind: 'express' | 'acs' | 'sriov' | 'other'; inDevCtl: boolean } = { capKind: 'other', inDevCtl: false };
  let inTree = false;
  let verboseSection = false;

  const close = (): void => {
    if (cur && curIsDuplicate) merge(records.get(bdfKey(cur.addr))!, cur);
    cur = null;
    curIsDuplicate = false;
    terminated = true;
  };

  // One pass over the text. Lines are addressed by [pos, end) and only sliced into strings when
  // a regular expression has to read them; most detail lines are skipped on their prefix.
  // A final newline ends the last line; it does not start an (empty) line of its own.
  const len = text.length;
  let lineNo = 0;
  for (let pos = 0; pos < len; ) {
    let next = text.indexOf('\n', pos);
    if (next === -1) next = len;
    let end = next;
    if (end > pos && text.charCodeAt(end - 1) === 13 /* \r */) end--;
    lineNo++;
    const lineStart = pos;
    pos = next + 1;
    const c0 = end > lineStart ? text.charCodeAt(lineStart) : -1;
    if (c0 === -1 || ((c0 === 32 || c0 === 13) && text.slice(lineStart, end).trim().length === 0)) {
      close();
      inTree = false;
      continue;
    }
    if (c0 === 9 /* \t */) {
      if (!cur) continue; // detail of nothing (e.g. a mail quote); ignore
      const rec: LspciRecord = cur;
      rec.detail = true;
      lastDetail = lineStart;
      lastDetailEnd = end;
      const c1 = text.charCodeAt(lineStart + 1);
      if (c1 !== 9) {
        ctx.inDevCtl = false;
        parseLevel1(rec, lineStart, end, lineNo);
      } else if (text.charCodeAt(lineStart + 2) !== 9) {
        parseLevel2(rec, lineStart, end, lineNo);
      } else if (ctx.inDevCtl) {
        const mps = MPS_RE.exec(text.slice(lineStart, end));
        if (mps) rec.mps = Number(mps[1]);
      }
      continue;
    }
    const line = text.slice(lineStart, end);
    if (inTree && (c0 === 32 || c0 === 124 || c0 === 92 || c0 === 43 || c0 === 45)) {
      tree.parseLine(line, lineNo);
      continue;
    }
    const h = HEADER_RE.exec(line);
    if (h) {
      close();
      inTree = false;
      const addr: Bdf = {
        domain: h[1] === undefined ? 0 : Number.parseInt(h[1], 16),
        bus: Number.parseInt(h[2]!, 16),
        slot: Number.parseInt(h[3]!, 16),
        fn: Number(h[4]),
      };
      if (addr.slot > 0x1f) throw new LspciSyntaxError(lineNo, `device number ${h[3]} is above 1f`);
      const rec = newRecord(addr, lineNo);
      parseHeader(rec, h[5]!, lineNo);
      const key = bdfKey(addr);
      if (records.has(key)) curIsDuplicate = true;
      else records.set(key, rec);
      cur = rec;
      terminated = false;
      lastDetail = -1;
      nextBarIndex = 0;
      ctx.capKind = 'other';
      ctx.inDevCtl = false;
      continue;
    }
    if (BDF_START_RE.test(line)) {
      throw new LspciSyntaxError(lineNo, `device header '${line.trim()}' has no class text (cut off?)`);
    }
    const hex = cur ? HEX_RE.exec(line) : null;
    if (hex) {
      parseHex(cur!, Number.parseInt(hex[1]!, 16), hex[2]!);
      (cur as LspciRecord).detail = true;
      lastDetail = lineStart;
      lastDetailEnd = end;
      continue;
    }
    if (TREE_START_RE.test(line)) {
      close();
      inTree = true;
      tree.reset();
      tree.parseLine(line, lineNo);
      continue;
    }
    // Anything else ends the current record: a command line, a separator, prose.
    close();
    inTree = false;
    const cmd = LSPCI_CMD_RE.exec(line);
    if (cmd) verboseSection = VERBOSE_FLAG_RE.test(cmd[1]!);
  }

  // The input ends inside a verbose record unless lspci's closing empty line (or the record's
  // last line, the driver/module line) was reached.
  const last = cur as LspciRecord | null;
  if (last && !terminated && (last.detail || verboseSection)) {
    const lastText = lastDetail < 0 ? '' : text.slice(lastDetail, lastDetailEnd).trimStart();
    if (!lastText.startsWith('Kernel driver in use:') && !lastText.startsWith('Kernel modules:')) {
      throw new LspciSyntaxError(
        lineNo,
        `the input ends inside the record of ${last.bdf} (started at line ${last.line}): it is cut off (lspci ends every verbose record with an empty line)`,
      );
    }
  }
  close();
  return { records, tree, numericIds };

  // -- helpers sharing the loop state ---------------------------------------------------------

  function parseHeader(rec: LspciRecord, rest: string, lineNo: number): void {
    const cm = CLASS_RE.exec(rest);
    if (!cm) throw new LspciSyntaxError(lineNo, `device header of ${rec.bdf} has no class text (cut off?)`);
    const className = cm[1]!;
    rec.className = className;
    if (cm[2] !== undefined) rec.class16 = Number.parseInt(cm[2], 16);
    else {
      const known = CLASS_NAMES[className];
      if (known !== undefined) rec.class16 = known;
      else {
        const num = CLASS_NUM_RE.exec(className);
        if (num) rec.class16 = Number.parseInt(num[1]!, 16);
      }
    }
    let desc = cm[3]!;
    // The suffixes end in ')' (prog-if, rev) or ']' (IDs); test the end before running a regex.
    const pi = desc.endsWith(')') ? PROGIF_RE.exec(desc) : null;
    if (pi) {
      rec.progIf = Number.parseInt(pi[1]!, 16);
      desc = desc.slice(0, pi.index);
    }
    const rv = desc.endsWith(')') ? REV_RE.exec(desc) : null;
    if (rv) {
      rec.revision = Number.parseInt(rv[1]!, 16);
      desc = desc.slice(0, rv.index);
    }
    const ids = desc.endsWith(']') ? IDS_RE.exec(desc) : null;
    if (ids) {
      rec.vendor = Number.parseInt(ids[1]!, 16);
      rec.device = Number.parseInt(ids[2]!, 16);
      desc = desc.slice(0, ids.index);
      numericIds = true;
    }
    rec.label = desc;
    if (desc.includes('Virtual Function')) rec.virtualFunction = true;
  }

  /** Does the line starting at `at` begin with `prefix`? */
  function has(at: number, prefix: string): boolean {
    return text.startsWith(prefix, at);
  }

  function parseLevel1(rec: LspciRecord, at: number, end: number, lineNo: number): void {
    const c1 = text.charCodeAt(at + 1);
    ctx.capKind = 'other';
    // Region / Memory / I/O / [virtual]: BARs ("Expansion ROM" is not a BAR the schema models).
    if (c1 === 82 /* R */ || c1 === 77 /* M */ || c1 === 73 /* I */ || c1 === 91 /* [ */) {
      if (has(at, '\tRegion ') || has(at, '\tMemory at ') || has(at, '\tI/O ports at ') || has(at, '\t[virtual] Memory at ') || has(at, '\t[virtual] I/O ports at ')) {
        parseBar(rec, text.slice(at, end), lineNo);
        return;
      }
      if (has(at, '\tIOMMU group')) rec.iommuGroup = true;
      return;
    }
    if (c1 === 66 /* B */ && has(at, '\tBus:')) {
      const b = BUS_RE.exec(text.slice(at, end));
      if (!b) throw new LspciSyntaxError(lineNo, `Bus: line of ${rec.bdf} is cut off`);
      rec.secondary = Number.parseInt(b[2]!, 16);
      rec.subordinate = Number.parseInt(b[3]!, 16);
      rec.busLine = lineNo;
      return;
    }
    if (c1 === 67 /* C */ && has(at, '\tCapabilities:')) {
      if (has(at, '\tCapabilities: <access denied>')) {
        rec.capsDenied = true;
        return;
      }
      const cm = CAP_RE.exec(text.slice(at, end));
      if (!cm) throw new LspciSyntaxError(lineNo, `Capabilities line of ${rec.bdf} is cut off`);
      rec.capsListed = true;
      rec.capsDenied = false;
      const name = cm[1]!;
      if (name.startsWith('Express ')) {
        ctx.capKind = 'express';
        const em = EXPRESS_RE.exec(name)!;
        const typeText = em[1]!;
        for (const [prefix, type] of PORT_TYPE_TEXT) {
          if (typeText.startsWith(prefix)) {
            rec.portType = type;
            break;
          }
        }
      } else if (name.startsWith('Access Control Services')) {
        ctx.capKind = 'acs';
        rec.hasAcs = true;
      } else if (name.startsWith('Single Root I/O Virtualization')) {
        ctx.capKind = 'sriov';
        rec.sriov ??= {};
      } else if (name.startsWith('Subsystem: ')) {
        const ids = SUBSYS_IDS_RE.exec(name);
        if (ids && rec.subsystemVendor === undefined) {
          rec.subsystemVendor = Number.parseInt(ids[1]!, 16);
          rec.subsystemDevice = Number.parseInt(ids[2]!, 16);
        }
      }
      return;
    }
    if (c1 === 75 /* K */ && has(at, '\tKernel driver in use: ')) {
      rec.driver = text.slice(at + '\tKernel driver in use: '.length, end).trim();
      return;
    }
    if (c1 === 83 /* S */ && has(at, '\tSubsystem: ')) {
      const ids = SUBSYS_IDS_RE.exec(text.slice(at, end));
      if (ids) {
        rec.subsystemVendor = Number.parseInt(ids[1]!, 16);
        rec.subsystemDevice = Number.parseInt(ids[2]!, 16);
      }
      return;
    }
    if (c1 === 70 /* F */ && has(at, '\tFlags:') && text.slice(at, end).includes('IOMMU group')) rec.iommuGroup = true;
  }

  function parseLevel2(rec: LspciRecord, at: number, end: number, lineNo: number): void {
    ctx.inDevCtl = false;
    if (ctx.capKind === 'express') {
      if (has(at, '\t\tDevCtl:')) {
        ctx.inDevCtl = true;
        const mps = MPS_RE.exec(text.slice(at, end));
        if (mps) rec.mps = Number(mps[1]);
      } else if (has(at, '\t\tLnkSta:') || has(at, '\t\tLnkCap:')) {
        const isSta = text.charCodeAt(at + 5) === 83; /* LnkS */
        const key = isSta ? 'LnkSta' : 'LnkCap';
        const line = text.slice(at, end);
        const width = WIDTH_RE.exec(line);
        if (!width) throw new LspciSyntaxError(lineNo, `${key} line of ${rec.bdf} is cut off`);
        const speed = SPEED_RE.exec(line);
        const gen = speed ? LINK_SPEED_GEN[speed[1]!] : undefined;
        const w = Number(width[1]);
        if (isSta) {
          if (gen !== undefined) rec.linkGen = gen;
          if (w > 0) rec.linkWidth = w;
        } else {
          if (gen !== undefined) rec.maxLinkGen = gen;
          if (w > 0) rec.maxLinkWidth = w;
        }
      }
    } else if (ctx.capKind === 'acs') {
      if (has(at, '\t\tACSCap:')) rec.acsCap = parseAcsBits(text.slice(at, end), lineNo, 'ACSCap').bits;
      else if (has(at, '\t\tACSCtl:')) {
        const { bits, srcValid } = parseAcsBits(text.slice(at, end), lineNo, 'ACSCtl');
        rec.acsCtrl = bits;
        if (srcValid) rec.acsSrcValid = true;
      }
    } else if (ctx.capKind === 'sriov') {
      rec.sriov ??= {};
      const s = rec.sriov;
      const line = text.slice(at, end);
      if (has(at, '\t\tIOVCtl:')) s.enabled = line.includes('Enable+');
      else {
        const n = NUM_VFS_RE.exec(line);
        if (n) s.numVfs = Number(n[1]);
        const o = VF_OFFSET_RE.exec(line);
        if (o) {
          s.offset = Number(o[1]);
          s.stride = Number(o[2]);
        }
      }
    }
  }

  function parseBar(rec: LspciRecord, line: string, lineNo: number): void {
    const m = BAR_RE.exec(line);
    if (!m) return;
    const isMem = m[2] === 'Memory';
    const flags = m[4];
    if (isMem && flags === undefined && !m[3]!.startsWith('<')) {
      throw new LspciSyntaxError(lineNo, `BAR line of ${rec.bdf} is cut off`);
    }
    const is64 = isMem && flags?.includes('64-bit') === true;
    let index: number;
    if (m[1] !== undefined) index = Number(m[1]);
    else {
      index = nextBarIndex;
      rec.barsByOrder = true;
    }
    nextBarIndex = index + (is64 ? 2 : 1);
    const size = SIZE_RE.exec(m[5]!);
    if (!size) {
      rec.barsWithoutSize++;
      return;
    }
    const bytes = Number(size[1]) * SIZE_UNITS[size[2]!]!;
    const bar: BarSpec = { index, size: bytes, kind: isMem ? 'mem' : 'io' };
    if (isMem) {
      bar.is64 = is64;
      bar.prefetchable = flags !== undefined && PREFETCH_RE.test(flags);
    }
    rec.bars.push(bar);
  }

  function parseHex(rec: LspciRecord, offset: number, bytesText: string): void {
    const byte = (i: number): number => Number.parseInt(bytesText.slice(i * 3, i * 3 + 2), 16);
    if (offset === 0x00) {
      rec.vendor ??= byte(0) | (byte(1) << 8);
      rec.device ??= byte(2) | (byte(3) << 8);
      rec.revision ??= byte(8);
      rec.progIf ??= byte(9);
      rec.class16 ??= byte(10) | (byte(11) << 8);
      rec.headerType ??= byte(14) & 0x7f;
      numericIds = true;
    } else if (offset === 0x10 && rec.headerType === 1) {
      if (rec.secondary === undefined) {
        rec.secondary = byte(9);
        rec.subordinate = byte(10);
      }
    } else if (offset === 0x20 && rec.headerType === 0) {
      rec.subsystemVendor ??= byte(12) | (byte(13) << 8);
      rec.subsystemDevice ??= byte(14) | (byte(15) << 8);
    }
  }
}
