/**
 * The typed description of an NVMe controller model, its defaults and validation.
 *
 * A description says what the hardware is: CAP and VS, the CMB (a layout the model encodes into
 * CMBLOC/CMBSZ, or raw register values as a real drive reports them, which may describe more
 * than the BAR holds), the pseudo-CMB of adaptors that expose memory on BAR4 without CMB
 * registers, the namespaces with their media, queue and vector limits, Identify strings, media
 * rates for the performance model, and when doorbells are processed.
 *
 * Invalid descriptions throw `NvmeConfigError` naming the input and the field; nothing is built.
 *
 * @kernel (hardware) NVMe 1.3 CAP, VS, CMBLOC, CMBSZ; Identify Controller / Namespace
 */
import type { NvmeCapFields } from '../nvme-regs';
import {
  NVME_CMBSZ_FLAG_BITS,
  NVME_CMBSZ_SZ_MASK,
  NVME_CMBSZ_SZ_SHIFT,
  NVME_CMBSZ_SZU_SHIFT,
  NVME_VS,
  nvmeCapDecode,
  nvmeCapEncode,
} from '../nvme-regs';

/** CMB support flags by name. */
export type NvmeCmbFlag = keyof typeof NVME_CMBSZ_FLAG_BITS;

/** A CMB described by where it is and what it supports; encoded into CMBLOC/CMBSZ by the model. */
export interface NvmeCmbLayout {
  /** BAR index (0-5) holding it. */
  bar: number;
  /** Bytes. */
  size: number;
  /** Offset into the BAR in bytes (default 0). */
  offset?: number;
  /** CMBSZ support flags. */
  flags: NvmeCmbFlag[];
}

/** A CMB given as the raw register values a drive reports (e.g. from `nvme show-regs`). */
export interface NvmeCmbRaw {
  /** CMBLOC. */
  cmbloc: number;
  /** CMBSZ. */
  cmbsz: number;
}

/** One namespace. */
export interface NvmeNamespaceConfig {
  /** Namespace ID (default: position + 1). */
  nsid?: number;
  /** Capacity in bytes: a multiple of the LBA size; 0 models a namespace that is not allocated (NCAP 0). */
  sizeBytes: number;
  /** Logical block size (default 512). */
  lbaSize?: 512 | 4096;
}

/** When the controller processes I/O doorbells. */
export type NvmeProcessing = 'sync' | { readonly delayNs: number };

/** The typed description of a controller. Every field is optional. */
export interface NvmeControllerConfig {
  /** CAP fields over the defaults (MQES 1023, CQR 1, TO 20, CSS NVM, MPSMIN/MPSMAX 0). */
  cap?: Partial<NvmeCapFields>;
  /** CAP as an exact 64-bit value (from a real drive); overrides `cap`. */
  capRaw?: bigint;
  /** VS (default 1.3.0). */
  vs?: number;
  /** The CMB: a layout, raw registers, or `null`/absent for none. */
  cmb?: NvmeCmbLayout | NvmeCmbRaw | null;
  /** A BAR of plain memory with CMBLOC/CMBSZ reading 0 (the pseudo-CMB adaptors use BAR 4). */
  pseudoCmbBar?: number | null;
  /** Namespaces (default: one of 1 GiB with 512-byte blocks). */
  namespaces?: NvmeNamespaceConfig[];
  /** I/O queue pairs the controller supports, 1..65535 (default 64). */
  maxQueuePairs?: number;
  /** MSI-X vectors, 1..2048 (default 64). */
  msixVectors?: number;
  /** Identify MDTS: max transfer = 2^MDTS pages; 0 = no limit (default 5: 128 KiB). */
  mdts?: number;
  /** Identify serial number (default from the function's address). */
  serial?: string;
  /** Identify model number (default from the topology label). */
  model?: string;
  /** Identify firmware revision (default `'1.0'`). */
  firmware?: string;
  /** Volatile write cache present (default false). */
  volatileWriteCache?: boolean;
  /** Media read rate in bytes/s for the performance model (default 3.2e9; not used to slow anything). */
  readBytesPerSec?: number;
  /** Media write rate in bytes/s (default 2.0e9). */
  writeBytesPerSec?: number;
  /** I/O doorbell processing (default `'sync'`; the admin queue is always synchronous). */
  processing?: NvmeProcessing;
}

/** A validated namespace. */
export interface ResolvedNamespace {
  /** Namespace ID. */
  readonly nsid: number;
  /** Capacity in bytes (0: not allocated). */
  readonly sizeBytes: number;
  /** Logical block size. */
  readonly lbaSize: 512 | 4096;
}

/** A validated description with every value filled in. */
export interface ResolvedNvmeConfig {
  /** CAP. */
  readonly cap: bigint;
  /** VS. */
  readonly vs: number;
  /** CMBLOC as the registers read (0 for no CMB or a pseudo-CMB). */
  readonly cmbloc: number;
  /** CMBSZ as the registers read. */
  readonly cmbsz: number;
  /** BAR of the pseudo-CMB, or `null`. */
  readonly pseudoCmbBar: number | null;
  /** Namespaces in description order. */
  readonly namespaces: readonly ResolvedNamespace[];
  /** I/O queue pairs supported. */
  readonly maxQueuePairs: number;
  /** MSI-X vectors. */
  readonly msixVectors: number;
  /** Identify MDTS. */
  readonly mdts: number;
  /** Identify serial number. */
  readonly serial: string;
  /** Identify model number. */
  readonly model: string;
  /** Identify firmware revision. */
  readonly firmware: string;
  /** Volatile write cache present. */
  readonly volatileWriteCache: boolean;
  /** Media read rate (bytes/s, performance model only). */
  readonly readBytesPerSec: number;
  /** Media write rate (bytes/s, performance model only). */
  readonly writeBytesPerSec: number;
  /** I/O doorbell processing. */
  readonly processing: NvmeProcessing;
}

/** Thrown for an invalid controller description: names the input, the field and the reason. */
export class NvmeConfigError extends Error {
  /**
   * @param input what was being read (`'0000:03:00.0'`, a file name).
   * @param field the offending field (`cmb.size`).
   * @param reason why.
   */
  constructor(
    readonly input: string,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`nvme controller config '${input}': ${field}: ${reason}`);
    this.name = 'NvmeConfigError';
  }
}

/** Default CAP: 1024 entries, contiguous queues, 10 s timeout, stride 4, NVM command set, 4 KiB pages. */
export const NVME_DEFAULT_CAP: Readonly<NvmeCapFields> = Object.freeze({
  mqes: 1023,
  cqr: 1,
  ams: 0,
  to: 20,
  dstrd: 0,
  nssrs: 0,
  css: 1,
  bps: 0,
  mpsmin: 0,
  mpsmax: 0,
  pmrs: 0,
  cmbs: 0,
});

/** Default VS: NVMe 1.3.0. */
export const NVME_DEFAULT_VS = NVME_VS(1, 3, 0);

/** Adaptors whose CMB-like memory is a plain BAR with CMBLOC/CMBSZ reading 0. */
export const NVME_PSEUDO_CMB_ADAPTERS: readonly { vendor: number; device: number; bar: number; name: string }[] = [
  { vendor: 0x11f8, device: 0xf117, bar: 4, name: 'Microsemi NVRAM adaptor' },
  { vendor: 0x1db1, device: 0x0002, bar: 4, name: 'Everspin nvNitro adaptor' },
];

/** CMBSZ.SZU values the spec defines (4 KiB × 16^SZU); 7-15 are reserved. */
export const NVME_CMB_SZU_DEFINED = 7;

/** Bytes of one CMB size unit (defined units only). */
export function nvmeCmbUnitBytes(szu: number): number {
  return 2 ** (12 + 4 * szu);
}

function intIn(input: string, field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new NvmeConfigError(input, field, `${String(v)} must be an integer from ${min} to ${max}`);
  }
  return v;
}

/**
 * Encodes a CMB layout into CMBLOC/CMBSZ with the largest size unit that expresses both the
 * size and the offset exactly.
 * @param input the input's name, for errors.
 * @param cmb the layout.
 * @returns the register values.
 * @throws NvmeConfigError when no unit expresses the layout (not 4 KiB multiples, too large).
 */
export function nvmeEncodeCmbLayout(input: string, cmb: NvmeCmbLayout): NvmeCmbRaw {
  const bar = intIn(input, 'cmb.bar', cmb.bar, 0, 5);
  const size = intIn(input, 'cmb.size', cmb.size, 1, Number.MAX_SAFE_INTEGER);
  const offset = intIn(input, 'cmb.offset', cmb.offset ?? 0, 0, Number.MAX_SAFE_INTEGER);
  if (!Array.isArray(cmb.flags)) throw new NvmeConfigError(input, 'cmb.flags', 'must be an array of SQS CQS LISTS RDS WDS');
  let flags = 0;
  for (const f of cmb.flags) {
    const bit = NVME_CMBSZ_FLAG_BITS[f];
    if (bit === undefined) throw new NvmeConfigError(input, 'cmb.flags', `unknown flag '${String(f)}' (expected SQS CQS LISTS RDS WDS)`);
    flags |= bit;
  }
  for (let szu = NVME_CMB_SZU_DEFINED - 1; szu >= 0; szu--) {
    const unit = nvmeCmbUnitBytes(szu);
    if (size % unit !== 0 || offset % unit !== 0) continue;
    const sz = size / unit;
    const ofst = offset / unit;
    if (sz > NVME_CMBSZ_SZ_MASK || ofst > 0xfffff) continue;
    return { cmbloc: (ofst * 4096 + bar) >>> 0, cmbsz: (sz * 2 ** NVME_CMBSZ_SZ_SHIFT + (szu << NVME_CMBSZ_SZU_SHIFT) + flags) >>> 0 };
  }
  throw new NvmeConfigError(input, 'cmb.size', `${size} bytes at offset ${offset} cannot be expressed in CMBSZ/CMBLOC (multiples of 4 KiB, at most 0xfffff size units)`);
}

function checkString(input: string, field: string, v: unknown, max: number, dflt: string): string {
  if (v === undefined) return dflt.slice(0, max);
  if (typeof v !== 'string' || v.length > max || !/^[\x20-\x7e]*$/.test(v)) {
    throw new NvmeConfigError(input, field, `must be printable ASCII of at most ${max} characters`);
  }
  return v;
}

/**
 * Validates a description and fills in the defaults.
 * @param input the input's name, for errors (a BDF, a file name).
 * @param cfg the description.
 * @param hints defaults from the topology: serial and model strings.
 * @returns the resolved description.
 * @throws NvmeConfigError naming the input and the field.
 */
export function resolveNvmeConfig(input: string, cfg: NvmeControllerConfig, hints: { serial?: string; model?: string } = {}): ResolvedNvmeConfig {
  let cap: bigint;
  if (cfg.capRaw !== undefined) {
    if (typeof cfg.capRaw !== 'bigint' || cfg.capRaw < 0n || cfg.capRaw >= 1n << 64n) {
      throw new NvmeConfigError(input, 'capRaw', 'must be a 64-bit unsigned bigint');
    }
    cap = cfg.capRaw;
  } else {
    const fields = { ...NVME_DEFAULT_CAP, ...(cfg.cap ?? {}) };
    try {
      cap = nvmeCapEncode(fields);
    } catch (e) {
      throw new NvmeConfigError(input, 'cap', (e as Error).message);
    }
  }
  const capF = nvmeCapDecode(cap);
  if (capF.mpsmin > capF.mpsmax) throw new NvmeConfigError(input, 'cap.mpsmin', `MPSMIN ${capF.mpsmin} is above MPSMAX ${capF.mpsmax}`);
  const vs = intIn(input, 'vs', cfg.vs ?? NVME_DEFAULT_VS, 0, 0xffff_ffff);

  let cmbloc = 0;
  let cmbsz = 0;
  let pseudoCmbBar: number | null = null;
  if (cfg.pseudoCmbBar !== undefined && cfg.pseudoCmbBar !== null) {
    pseudoCmbBar = intIn(input, 'pseudoCmbBar', cfg.pseudoCmbBar, 0, 5);
    if (cfg.cmb) throw new NvmeConfigError(input, 'cmb', 'a pseudo-CMB adaptor reports no CMB registers; give cmb or pseudoCmbBar, not both');
  }
  if (cfg.cmb) {
    if ('cmbsz' in cfg.cmb) {
      cmbloc = intIn(input, 'cmb.cmbloc', cfg.cmb.cmbloc, 0, 0xffff_ffff);
      cmbsz = intIn(input, 'cmb.cmbsz', cfg.cmb.cmbsz, 0, 0xffff_ffff);
    } else {
      ({ cmbloc, cmbsz } = nvmeEncodeCmbLayout(input, cfg.cmb));
    }
  }

  const nsIn = cfg.namespaces ?? [{ sizeBytes: 1024 * 1024 * 1024 }];
  if (!Array.isArray(nsIn)) throw new NvmeConfigError(input, 'namespaces', 'must be an array');
  const seen = new Set<number>();
  const namespaces = nsIn.map((n, i): ResolvedNamespace => {
    const f = `namespaces[${i}]`;
    const nsid = intIn(input, `${f}.nsid`, n.nsid ?? i + 1, 1, 0xffff_fffe);
    if (seen.has(nsid)) throw new NvmeConfigError(input, `${f}.nsid`, `namespace ID ${nsid} is used twice`);
    seen.add(nsid);
    const lbaSize = n.lbaSize ?? 512;
    if (lbaSize !== 512 && lbaSize !== 4096) throw new NvmeConfigError(input, `${f}.lbaSize`, `${String(lbaSize)} must be 512 or 4096`);
    const sizeBytes = intIn(input, `${f}.sizeBytes`, n.sizeBytes, 0, Number.MAX_SAFE_INTEGER);
    if (sizeBytes % lbaSize !== 0) throw new NvmeConfigError(input, `${f}.sizeBytes`, `${sizeBytes} is not a multiple of the ${lbaSize}-byte LBA size`);
    return { nsid, sizeBytes, lbaSize };
  });

  const processing = cfg.processing ?? 'sync';
  if (processing !== 'sync' && (typeof processing !== 'object' || !Number.isFinite(processing.delayNs) || processing.delayNs < 0)) {
    throw new NvmeConfigError(input, 'processing', "must be 'sync' or { delayNs >= 0 }");
  }
  const rate = (field: string, v: number | undefined, dflt: number): number => {
    const r = v ?? dflt;
    if (typeof r !== 'number' || !Number.isFinite(r) || r <= 0) throw new NvmeConfigError(input, field, `${String(r)} must be a positive number of bytes/s`);
    return r;
  };

  return {
    cap,
    vs,
    cmbloc,
    cmbsz,
    pseudoCmbBar,
    namespaces,
    maxQueuePairs: intIn(input, 'maxQueuePairs', cfg.maxQueuePairs ?? 64, 1, 65535),
    msixVectors: intIn(input, 'msixVectors', cfg.msixVectors ?? 64, 1, 2048),
    mdts: intIn(input, 'mdts', cfg.mdts ?? 5, 0, 255),
    serial: checkString(input, 'serial', cfg.serial, 20, hints.serial ?? 'MODEL0000'),
    model: checkString(input, 'model', cfg.model, 40, hints.model ?? 'p2pdma NVMe model'),
    firmware: checkString(input, 'firmware', cfg.firmware, 8, '1.0'),
    volatileWriteCache: cfg.volatileWriteCache === true,
    readBytesPerSec: rate('readBytesPerSec', cfg.readBytesPerSec, 3.2e9),
    writeBytesPerSec: rate('writeBytesPerSec', cfg.writeBytesPerSec, 2.0e9),
    processing,
  };
}
