/**
 * The topology description: plain data that every input (topology JSON, the fluent builder,
 * the `lspci -vvv -nn` importer, the built-ins) produces and that enumeration consumes.
 *
 * It is flat, as `lspci` is: each function is listed once with its BDF, and bridges name their
 * secondary and subordinate bus numbers. The tree is derived from bus numbers, so a bad file can
 * describe cycles, overlaps and orphans; validation ({@link validateTopologySpec}) rejects them
 * with the JSON path and the reason.
 *
 * Addresses are plain numbers (CPU physical and PCI bus addresses stay below 2^53).
 * Anything an input could not know is left out and said in `warnings`.
 */

/** Schema identifier written in every topology JSON file. */
export const TOPOLOGY_SCHEMA_V1 = 'p2pdma-topology/v1' as const;

/** PCI Express device/port type, as the Express capability's Device/Port Type field. */
export type PciePortType =
  | 'endpoint'
  | 'legacy-endpoint'
  | 'root-port'
  | 'upstream-port'
  | 'downstream-port'
  | 'pcie-pci-bridge'
  | 'pci-pcie-bridge'
  | 'rc-endpoint'
  | 'rc-event-collector';

/** ACS capability/control bits by name (PCIe ACS extended capability, bits 0-6). */
export type AcsBitName = 'SV' | 'TB' | 'RR' | 'CR' | 'UF' | 'EC' | 'DT';

/** One BAR of a function. */
export interface BarSpec {
  /** BAR index 0-5 (a 64-bit BAR occupies index and index+1). */
  index: number;
  /** Size in bytes, a power of two (≥ 16 for memory, ≥ 4 for I/O). */
  size: number;
  /** Memory or I/O space. */
  kind: 'mem' | 'io';
  /** Prefetchable memory. Default false. */
  prefetchable?: boolean;
  /** 64-bit memory BAR. Default false. */
  is64?: boolean;
  /**
   * Fixed CPU physical address. When given, enumeration places the BAR there and validates it
   * (inside the host bridge window, no overlap); otherwise enumeration assigns one.
   */
  address?: number;
}

/** The ACS extended capability of a function. */
export interface AcsSpec {
  /** Capability bits, or 'unknown' when the input lists the capability without its bits. */
  cap: AcsBitName[] | 'unknown';
  /**
   * Control bits as firmware left them before the kernel's ACS enable step, or 'unknown'.
   * (An `lspci` dump shows the state after boot; importing it as the initial state and
   * enumerating with the same IOMMU setting yields the same final state.)
   */
  ctrl: AcsBitName[] | 'unknown';
}

/** The PCI Express capability of a function. */
export interface PcieSpec {
  portType: PciePortType;
  /** Current link speed generation (1-6), if known. */
  linkGen?: number;
  /** Current link width (lanes), if known. */
  linkWidth?: number;
  /** Maximum link speed generation (LnkCap), if known. */
  maxLinkGen?: number;
  /** Maximum link width (LnkCap), if known. */
  maxLinkWidth?: number;
  /** Max payload size in bytes (DevCtl MaxPayload), if known. */
  mps?: number;
}

/** What a function is, for the upper layers that attach device models to it. */
export type DeviceRole = 'nvme' | 'rnic' | 'p2pmem' | 'gpu' | 'nic' | 'other';

/** A memory region of a BAR that a driver may register as p2pmem (a p2pmem-only card). */
export interface P2pmemSpec {
  bar: number;
  /** Bytes to register; 0 or absent means the rest of the BAR from `offset`. */
  size?: number;
  offset?: number;
}

/** NVMe controller hints (filled in by the NVMe issue; kept here so built-ins can carry them). */
export interface NvmeSpec {
  /** Controller Memory Buffer: where it lives and what it supports. Absent: no CMB. */
  cmb?: {
    bar: number;
    /** CMB size in bytes. */
    size: number;
    /** Offset into the BAR in bytes. */
    offset?: number;
    /** CMBSZ support bits. */
    flags: Array<'SQS' | 'CQS' | 'LISTS' | 'RDS' | 'WDS'>;
  };
}

/** One PCI function. */
export interface DeviceSpec {
  /** Full BDF, `dddd:bb:dd.f` (domain 4 or 5 hex digits). */
  bdf: string;
  vendor?: number;
  device?: number;
  subsystemVendor?: number;
  subsystemDevice?: number;
  /** 24-bit class code: base class << 16 | subclass << 8 | prog-if. */
  classCode?: number;
  revision?: number;
  /** Human label (the `lspci` description, or a name given in a builder). */
  label?: string;
  /** Header type 0 (endpoint) or 1 (PCI-to-PCI bridge). Derived from secondaryBus when absent. */
  headerType?: 0 | 1;
  /** Bridges: secondary bus number. */
  secondaryBus?: number;
  /** Bridges: subordinate (highest) bus number. */
  subordinateBus?: number;
  /** The Express capability; absent for conventional PCI functions or when unknown. */
  pcie?: PcieSpec;
  /** The ACS extended capability; absent when the function has none (or it is unknown: see warnings). */
  acs?: AcsSpec;
  bars?: BarSpec[];
  /** SR-IOV virtual function: the BDF of its physical function. */
  physfn?: string;
  /** Driver bound in the source machine (`Kernel driver in use:`), informational. */
  driver?: string;
  role?: DeviceRole;
  p2pmem?: P2pmemSpec;
  nvme?: NvmeSpec;
}

/** Root-complex handling of peer-to-peer requests between its root ports. */
export type PeerForwarding = 'forward' | 'drop';

/** One PCI host bridge: a PCI domain's root bus and its windows. */
export interface HostBridgeSpec {
  domain: number;
  /** Root bus number. */
  bus: number;
  /** Highest bus number below this host bridge (default 0xff). */
  busEnd?: number;
  /** Memory window: CPU base, size, and CPU address − bus address (default 0). */
  memWindow?: { cpuBase: number; size: number; busOffset?: number };
  /** How the root complex treats peer-to-peer requests (default 'forward'). */
  peerForwarding?: PeerForwarding;
  label?: string;
}

/** The CPU, for the upstream AMD Zen rule. */
export interface CpuSpec {
  vendor: 'amd' | 'intel' | 'other';
  /** x86 family (AMD Zen is 0x17 and later). */
  family?: number;
}

/** A whole machine's PCI topology. */
export interface TopologySpec {
  schema: typeof TOPOLOGY_SCHEMA_V1;
  name?: string;
  description?: string;
  cpu?: CpuSpec;
  /** IOMMU enabled (DMA remapping on). Default false. */
  iommu?: boolean;
  /** System RAM ranges (CPU physical). Default: the kernel's `DEFAULT_SYSTEM_RAM` (3 GiB at 0, 1 GiB at 4 GiB). */
  systemRam?: Array<{ base: number; size: number }>;
  /** Host bridges. Devices belong to the host bridge whose domain and bus range hold them. */
  hostBridges: HostBridgeSpec[];
  devices: DeviceSpec[];
  /** What the input could not tell (set by importers; informational). */
  warnings?: string[];
}
