/**
 * When traffic between two devices has to cross the root complex, Linux 6.6 allows it only on
 * hardware known to forward peer-to-peer: any AMD CPU of family 0x17 (Zen) or newer, or a host
 * bridge whose identifying device is in a whitelist. Some entries (Intel Xeon E5 v2/v3 host
 * bridges) are known good only between root ports of the same host bridge.
 *
 * The identifying device of a host bridge is the first function on its root bus when that is
 * devfn 00.0 or a root port (6.6 `pci_host_bridge_dev`). The CPU comes from the topology
 * (`spec.cpu`), which the model uses as the kernel's `cpu_data(0)`.
 *
 * @kernel drivers/pci/p2pdma.c (cpu_supports_p2pdma, pci_p2pdma_whitelist,
 *   pci_host_bridge_dev, __host_bridge_whitelist, host_bridge_whitelist)
 */
import type { CpuSpec, PciDev, PciHostBridge } from '@p2pdma/pci-core';
import { PCI_DEVFN, PCI_EXP_TYPE_ROOT_PORT, pciSystem } from '@p2pdma/pci-core';
import type { Kernel } from '@p2pdma/kernel';

/** Whitelist flag: known good only when both devices are below the same host bridge. @kernel REQ_SAME_HOST_BRIDGE */
export const REQ_SAME_HOST_BRIDGE = 1 << 0;

const PCI_VENDOR_ID_INTEL = 0x8086;

/** One whitelist entry. @kernel struct pci_p2pdma_whitelist_entry */
export interface P2pdmaWhitelistEntry {
  /** Vendor ID of the host bridge's identifying device. */
  readonly vendor: number;
  /** Device ID. */
  readonly device: number;
  /** `REQ_SAME_HOST_BRIDGE` or 0. */
  readonly flags: number;
  /** The platform, as the kernel's comment names it. */
  readonly platform: string;
}

/**
 * Linux 6.6's host bridge whitelist, in table order.
 * @kernel pci_p2pdma_whitelist[]
 */
export const PCI_P2PDMA_WHITELIST: readonly P2pdmaWhitelistEntry[] = [
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x3c00, flags: REQ_SAME_HOST_BRIDGE, platform: 'Intel Xeon E5/Core i7' },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x3c01, flags: REQ_SAME_HOST_BRIDGE, platform: 'Intel Xeon E5/Core i7' },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2f00, flags: REQ_SAME_HOST_BRIDGE, platform: 'Intel Xeon E7 v3/Xeon E5 v3/Core i7' },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2f01, flags: REQ_SAME_HOST_BRIDGE, platform: 'Intel Xeon E7 v3/Xeon E5 v3/Core i7' },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2030, flags: 0, platform: 'Intel SkyLake-E' },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2031, flags: 0, platform: 'Intel SkyLake-E' },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2032, flags: 0, platform: 'Intel SkyLake-E' },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2033, flags: 0, platform: 'Intel SkyLake-E' },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x2020, flags: 0, platform: 'Intel SkyLake-E' },
  { vendor: PCI_VENDOR_ID_INTEL, device: 0x09a2, flags: 0, platform: 'Intel Ice Lake-SP (Whitley)' },
];

/** A CPU that forwards peer-to-peer through its root complex whatever the host bridge. */
export interface P2pdmaCpuRule {
  /** CPU vendor. */
  readonly vendor: CpuSpec['vendor'];
  /** Lowest x86 family. */
  readonly minFamily: number;
  /** Why. */
  readonly source: string;
}

/**
 * The CPU rules.
 * @kernel cpu_supports_p2pdma
 */
export const P2PDMA_CPU_RULES: readonly P2pdmaCpuRule[] = [
  { vendor: 'amd', minFamily: 0x17, source: 'p2pdma.c: any AMD CPU whose family ID is Zen or newer supports p2pdma' },
];

/**
 * Whether the machine's CPU forwards peer-to-peer traffic (the topology's `cpu`).
 * @param kernel a kernel with an enumerated PCI subsystem.
 * @returns `true` for AMD family 0x17 and later; `false` otherwise or when the CPU is unknown.
 * @kernel cpu_supports_p2pdma
 */
export function cpuSupportsP2pdma(kernel: Kernel): boolean {
  return cpuSpecSupportsP2pdma(pciSystem(kernel)?.spec.cpu);
}

/**
 * The CPU rule on a topology's `cpu` alone, without a machine (what `cpuSupportsP2pdma` asks).
 * @param cpu the topology's CPU, or `undefined` when it is unknown.
 * @returns `true` when a `P2PDMA_CPU_RULES` entry matches; `false` otherwise or when unknown.
 * @kernel cpu_supports_p2pdma
 */
export function cpuSpecSupportsP2pdma(cpu: CpuSpec | undefined): boolean {
  if (cpu === undefined) return false;
  return P2PDMA_CPU_RULES.some((r) => r.vendor === cpu.vendor && cpu.family !== undefined && cpu.family >= r.minFamily);
}

/**
 * The device identifying a host bridge: the first function on its root bus, if it is devfn
 * 00.0 or a root port.
 * @param host the host bridge.
 * @returns the function, or `null`.
 * @kernel pci_host_bridge_dev
 */
export function pciHostBridgeDev(host: PciHostBridge): PciDev | null {
  const root = host.rootBus.devices[0];
  if (root === undefined) return null;
  if (root.devfn === PCI_DEVFN(0, 0) || root.pcieType === PCI_EXP_TYPE_ROOT_PORT) return root;
  return null;
}

/** One host bridge looked up in the whitelist. */
export interface HostBridgeWhitelistCheck {
  /** The host bridge. */
  readonly hostBridge: PciHostBridge;
  /** Its identifying device, or `null` (then it is not whitelisted, silently). */
  readonly root: PciDev | null;
  /** The matching entry, or `null`. */
  readonly entry: P2pdmaWhitelistEntry | null;
  /** Whether both devices are below this one host bridge. */
  readonly sameHostBridge: boolean;
  /** The answer for this host bridge. */
  readonly ok: boolean;
}

/** The whitelist verdict for a pair and the checks made, in the kernel's order. */
export interface HostBridgeWhitelistResult {
  /** Whether the pair may go through the host bridge(s). */
  readonly ok: boolean;
  /**
   * The host bridges looked at: one when shared; for two, the second only when the first passed
   * (the kernel's `&&`).
   */
  readonly checks: readonly HostBridgeWhitelistCheck[];
}

function checkOne(host: PciHostBridge, same: boolean): HostBridgeWhitelistCheck {
  const root = pciHostBridgeDev(host);
  if (root === null) return { hostBridge: host, root, entry: null, sameHostBridge: same, ok: false };
  const entry = PCI_P2PDMA_WHITELIST.find((e) => root.vendor === e.vendor && root.device === e.device) ?? null;
  const ok = entry !== null && ((entry.flags & REQ_SAME_HOST_BRIDGE) === 0 || same);
  return { hostBridge: host, root, entry, sameHostBridge: same, ok };
}

/**
 * Looks the pair's host bridge(s) up in the whitelist (pure: no log line).
 * @param a one device.
 * @param b the other.
 * @returns the verdict and the checks.
 * @kernel host_bridge_whitelist (without its warning)
 */
export function hostBridgeWhitelist(a: PciDev, b: PciDev): HostBridgeWhitelistResult {
  return whitelistHostBridges(a.pciBus.hostBridge, b.pciBus.hostBridge);
}

/** The verdicts already computed, by host bridge pair (see `hostBridgesWhitelisted`). */
const verdicts = new WeakMap<PciHostBridge, Map<PciHostBridge, boolean>>();
/** The last pair asked (consecutive questions are usually about the same pair). */
const last: { a: PciHostBridge | null; b: PciHostBridge | null; ok: boolean } = { a: null, b: null, ok: false };

/**
 * `hostBridgeWhitelist(a, b).ok` for the host bridges of a pair, remembered per host bridge pair:
 * the answer depends only on the two host bridges' identifying devices, their IDs and the
 * whitelist table, all fixed once the PCI subsystem is enumerated.
 * @param hostA the provider's host bridge.
 * @param hostB the client's host bridge.
 * @returns whether traffic between them may cross the root complex (no warning printed).
 * @internal the fast path of the 6.6 decision.
 */
export function hostBridgesWhitelisted(hostA: PciHostBridge, hostB: PciHostBridge): boolean {
  if (hostA === last.a && hostB === last.b) return last.ok;
  let row = verdicts.get(hostA);
  if (row === undefined) {
    row = new Map();
    verdicts.set(hostA, row);
  }
  let ok = row.get(hostB);
  if (ok === undefined) {
    ok = whitelistHostBridges(hostA, hostB).ok;
    row.set(hostB, ok);
  }
  last.a = hostA;
  last.b = hostB;
  last.ok = ok;
  return ok;
}

function whitelistHostBridges(hostA: PciHostBridge, hostB: PciHostBridge): HostBridgeWhitelistResult {
  if (hostA === hostB) {
    const c = checkOne(hostA, true);
    return { ok: c.ok, checks: [c] };
  }
  const ca = checkOne(hostA, false);
  if (!ca.ok) return { ok: false, checks: [ca] };
  const cb = checkOne(hostB, false);
  return { ok: cb.ok, checks: [ca, cb] };
}

/**
 * The kernel's warning for a checked host bridge whose identifying device matches no entry.
 * @param c a check.
 * @returns `Host bridge not in P2PDMA whitelist: vvvv:dddd` (printed on the identifying device),
 *   or `null` when the kernel prints nothing (no identifying device, or an entry matched).
 * @kernel __host_bridge_whitelist (its pci_warn)
 */
export function hostBridgeWhitelistWarning(c: HostBridgeWhitelistCheck): string | null {
  if (c.root === null || c.entry !== null) return null;
  return `Host bridge not in P2PDMA whitelist: ${hexId(c.root.vendor)}:${hexId(c.root.device)}`;
}

/**
 * A 16-bit ID as `%04x` prints it.
 * @param id the ID; `null` (unknown to the input) prints as 0000, what its register reads.
 * @returns four lowercase hex digits.
 */
export function hexId(id: number | null): string {
  return (id ?? 0).toString(16).padStart(4, '0');
}
