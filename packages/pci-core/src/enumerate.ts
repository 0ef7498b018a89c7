/**
 * Enumeration: builds a machine's PCI hierarchy from a topology description, the way the kernel
 * scans, sizes and assigns it at boot.
 *
 * In order:
 * 1. Validate the description (`validateTopologySpec`) and everything only enumeration can
 *    check (windows against the kernel's RAM and MMIO, BAR placement). Any error returns
 *    `{ error }` and leaves the kernel untouched: no devices, no MMIO, no log lines.
 * 2. Log the host bridges (`PCI host bridge to bus 0000:00`, root bus resources), then scan:
 *    each function in scan order (`[vvvv:dddd] type 00 class 0x...`, one `reg 0x10:` line per
 *    BAR) followed by its ACS step (`pciEnableAcs`: hooks, the standard enable when the IOMMU is
 *    on, `disable_acs_redir=` under the upstream policy). Virtual functions come last, as they
 *    appear when SR-IOV is enabled.
 * 3. Log the assignment (`BAR 0: assigned [mem ...]`, `PCI bridge to [bus 03-05]`,
 *    `  bridge window [mem ...]`).
 * 4. Register each host bridge window with `kernel.memory.registerMmio` (CPU accesses to BARs
 *    go through the fabric), then add the devices in `pci_get_device` order: each function is
 *    put in its IOMMU group first (IOMMU on; as the IOMMU core does on the add notifier, before
 *    any driver probes) and then registered with `deviceAdd`.
 *
 * @kernel drivers/pci/probe.c (pci_scan_root_bus_bridge, pci_scan_child_bus, pci_setup_device,
 *   pci_device_add, pci_bus_add_devices), drivers/pci/setup-bus.c
 */
import { escapeControls } from './internal/escape';
import type { KernelOptions, Kernel, PhysRange } from '@p2pdma/kernel';
import { Device, deviceAdd, deviceDel, hex } from '@p2pdma/kernel';
import type { AcsEnableHook } from './acs';
import { pciEnableAcs } from './acs';
import { formatBus, PCI_MAX_BUS, parseBdf, routingId } from './bdf';
import { PciBus } from './bus';
import type { IgnoredWrite } from './config-space';
import {
  PCI_BASE_ADDRESS_0,
  PCI_CLASS_REVISION,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_HEADER_TYPE_MFD,
  PCI_VENDOR_ID,
} from './config-space';
import { PciHostBridge } from './host-bridge';
import type { SriovInfo } from './internal/build-config';
import { buildConfig } from './internal/build-config';
import { pciAssignIommuGroup } from './iommu-group';
import { PciDev } from './pci-dev';
import { pciParams } from './pci-params';
import { PciSubsystem, pciSystem, setPciSystem } from './pci-system';
import type { PciResource } from './resource';
import {
  emptyResource,
  formatResource,
  IORESOURCE_BUS,
  IORESOURCE_IO,
  IORESOURCE_MEM,
  IORESOURCE_MEM_64,
  IORESOURCE_PREFETCH,
  PCI_NUM_RESOURCES,
} from './resource';
import type { BarRequest, HostBridgeAssign } from './setup-bus';
import { pciAssignResources } from './setup-bus';
import type { DeviceSpec, TopologySpec } from './topology-spec';
import type { TopologyError } from './topology-validate';
import { deriveTree, validateTopologySpec } from './topology-validate';

/** Hooks the layers above plug into enumeration. */
export interface EnumerateHooks {
  /**
   * Run for every function before the standard ACS enable step, in order; the first returning
   * `true` handles the function (the p2pdma package's v2 `pci_p2pdma_disable_acs` goes here).
   */
  readonly enableAcs?: AcsEnableHook | readonly AcsEnableHook[];
}

/** Why enumeration refused a topology. */
export interface EnumerationError {
  /** One readable paragraph: the first errors with their paths. */
  readonly message: string;
  /** Every error: JSON path in the topology and reason. */
  readonly errors: readonly TopologyError[];
}

/** What `enumerate` returns: the subsystem, or why nothing was built. */
export type EnumerateResult = PciSubsystem | { readonly error: EnumerationError };

/**
 * Kernel options matching a topology: its System RAM (when given) and IOMMU setting.
 * @param spec the topology.
 * @returns options to spread into `new Kernel({...})`.
 */
export function kernelOptionsForTopology(spec: TopologySpec): Pick<KernelOptions, 'systemRam' | 'iommu'> {
  const out: Pick<KernelOptions, 'systemRam' | 'iommu'> = {};
  if (spec.systemRam !== undefined) out.systemRam = spec.systemRam.map((r) => ({ base: r.base, size: r.size }));
  if (spec.iommu !== undefined) out.iommu = spec.iommu;
  return out;
}

function fail(errors: TopologyError[], name: string): { error: EnumerationError } {
  const shown = errors.slice(0, 5).map((e) => `${e.path}: ${e.message}`);
  const more = errors.length > 5 ? ` (and ${errors.length - 5} more)` : '';
  return { error: { message: `topology '${escapeControls(name)}' cannot be enumerated: ${shown.join('; ')}${more}`, errors } };
}

function barFlags(b: NonNullable<DeviceSpec['bars']>[number]): number {
  if (b.kind === 'io') return IORESOURCE_IO;
  return IORESOURCE_MEM | (b.prefetchable ? IORESOURCE_PREFETCH : 0) | (b.is64 ? IORESOURCE_MEM_64 : 0);
}

/**
 * Enumerates a topology on a kernel.
 * @param kernel a kernel without a PCI subsystem yet; its RAM must not overlap the topology's
 *   host bridge windows (see `kernelOptionsForTopology`).
 * @param input the topology (validated here; anything `validateTopologySpec` accepts).
 * @param hooks ACS enable hooks.
 * @returns the PCI subsystem (also `pciSystem(kernel)`), or `{ error }` naming each problem by
 *   JSON path: an invalid topology, a BAR that does not fit, overlapping fixed BARs, windows
 *   clashing with RAM or MMIO, a device name already taken. On error the kernel is unchanged.
 * @kernel pci_scan_root_bus_bridge + pci_assign_unassigned_root_bus_resources + pci_bus_add_devices
 */
export function enumerate(kernel: Kernel, input: unknown, hooks: EnumerateHooks = {}): EnumerateResult {
  const name = typeof input === 'object' && input !== null && typeof (input as { name?: unknown }).name === 'string' ? (input as { name: string }).name : 'topology';
  if (pciSystem(kernel) !== null) return fail([{ path: '$', message: 'this kernel already has an enumerated PCI subsystem' }], name);
  const v = validateTopologySpec(input);
  if (!v.ok) return fail(v.errors, name);
  const spec = v.spec;
  const tree = deriveTree(spec);
  const errors: TopologyError[] = [];
  const specOf = new Map<string, { spec: DeviceSpec; index: number }>();
  spec.devices.forEach((d, index) => {
    specOf.set(d.bdf, { spec: d, index });
  });

  // Host bridges and their root buses.
  const hbs: PciHostBridge[] = [];
  const hbAssign: HostBridgeAssign[] = [];
  const buses: PciBus[] = [];
  spec.hostBridges.forEach((h, i) => {
    const dev = new Device(kernel, `pci${formatBus(h.domain, h.bus)}`);
    const busEnd = h.busEnd ?? PCI_MAX_BUS;
    const hb = new PciHostBridge(kernel, i, h.domain, h.bus, busEnd, [], h.peerForwarding ?? 'forward', h.label ?? null, dev);
    hb.rootBus = new PciBus(hb, h.bus, null, null, busEnd);
    hbs.push(hb);
    hbAssign.push({ hb, spec: h, path: `$.hostBridges[${i}]` });
  });

  // Functions, top down, each bus's functions in devfn order.
  const devPath = new Map<PciDev, string>();
  const bars = new Map<PciDev, BarRequest[]>();
  const scanOrder: PciDev[] = [];
  const vfs: PciDev[] = [];
  const byBdf = new Map<string, PciDev>();
  const sriovOf = new Map<string, SriovInfo>();
  const vfsOf = new Map<string, string[]>();
  for (const d of spec.devices) {
    if (d.physfn === undefined) continue;
    const list = vfsOf.get(d.physfn) ?? [];
    list.push(d.bdf);
    vfsOf.set(d.physfn, list);
  }
  for (const [pf, list] of vfsOf) {
    const pfAddr = parseBdf(pf)!;
    const rids = list.map((b) => routingId(parseBdf(b)!)).sort((a, b) => a - b);
    const first = rids[0]!;
    sriovOf.set(pf, {
      numVfs: list.length,
      offset: first - routingId(pfAddr),
      stride: rids.length > 1 ? rids[1]! - first : 1,
      vfDevice: specOf.get(list[0]!)?.spec.device ?? null,
    });
  }
  const notes: string[] = [...(spec.warnings ?? [])];
  const pending: Array<{ dev: PciDev; unknownCap: boolean; unknownCtrl: boolean }> = [];

  const addBus = (bus: PciBus, bdfs: readonly string[]): void => {
    const created: PciDev[] = [];
    for (const bdf of bdfs) {
      const entry = specOf.get(bdf)!;
      const s = entry.spec;
      const addr = parseBdf(bdf)!;
      const hdrType: 0 | 1 = s.headerType ?? (s.secondaryBus !== undefined ? 1 : 0);
      const isVirtfn = s.physfn !== undefined;
      const path = `$.devices[${entry.index}]`;
      let owner: PciDev | null = null;
      const built = buildConfig(s, hdrType, isVirtfn, sriovOf.get(bdf) ?? null, (w: IgnoredWrite) => {
        if (owner !== null) {
          kernel.log.devDbg(owner, `config write of ${hex(w.value)} to read-only ${w.register} (offset ${hex(w.offset)}) ignored`);
        }
      });
      const dev = new PciDev(kernel, bdf, {
        pciBus: bus,
        devfn: (addr.slot << 3) | addr.fn,
        parent: bus.self ?? bus.hostBridge.device,
        config: built.config,
        spec: s,
        hdrType,
        pcieCap: built.pcieCap,
        pcieType: built.pcieType,
        link: built.link,
        acsCap: built.acsCap,
        isVirtfn,
      });
      owner = dev;
      for (let i = 0; i < PCI_NUM_RESOURCES; i++) dev.resource.push(emptyResource());
      devPath.set(dev, path);
      byBdf.set(bdf, dev);
      if (built.acsDropped) notes.push(`${bdf}: ACS capability listed on a conventional PCI function; ignored`);
      if (built.acsCap !== 0 && (built.acsCapUnknown || built.acsCtrlUnknown)) {
        pending.push({ dev, unknownCap: built.acsCapUnknown, unknownCtrl: built.acsCtrlUnknown });
      }
      const reqs: BarRequest[] = [];
      (s.bars ?? []).forEach((b, j) => {
        if (hdrType === 1 && b.index > 1) {
          errors.push({ path: `${path}.bars[${j}].index`, message: `bridge ${bdf} has a type 1 header, which has only BARs 0 and 1` });
          return;
        }
        reqs.push({ dev, bar: b.index, size: b.size, flags: barFlags(b), fixed: b.address ?? null, path: `${path}.bars[${j}]` });
      });
      bars.set(dev, reqs);
      bus.devices.push(dev);
      created.push(dev);
      if (isVirtfn) vfs.push(dev);
    }
    // Multi-function: more than one physical function in a slot.
    const perSlot = new Map<number, number>();
    for (const d of created) if (!d.isVirtfn) perSlot.set(d.slot, (perSlot.get(d.slot) ?? 0) + 1);
    for (const d of created) {
      if (!d.isVirtfn && (perSlot.get(d.slot) ?? 0) > 1) {
        d.multifunction = true;
        d.config.init8(PCI_HEADER_TYPE, d.config.read(PCI_HEADER_TYPE, 1) | PCI_HEADER_TYPE_MFD);
      }
    }
    for (const d of created) {
      if (!d.isVirtfn) scanOrder.push(d);
    }
    for (const d of created) {
      const sec = d.spec.secondaryBus;
      if (d.hdrType !== 1 || sec === undefined) continue;
      const child = new PciBus(bus.hostBridge, sec, bus, d, d.spec.subordinateBus ?? sec);
      d.subordinate = child;
      bus.children.push(child);
      buses.push(child);
      addBus(child, tree.childrenOf.get(d.name) ?? []);
    }
  };
  hbs.forEach((hb, i) => {
    buses.push(hb.rootBus);
    addBus(hb.rootBus, tree.rootDevices[i] ?? []);
  });
  for (const vf of vfs) {
    const pf = byBdf.get(vf.spec.physfn!)!;
    vf.physfn = pf;
    pf.virtfns.push(vf);
  }
  if (errors.length > 0) return fail(errors, spec.name ?? name);

  // Resources.
  const ram: PhysRange[] = kernel.memory.ramRanges();
  const assigned = pciAssignResources({ hostBridges: hbAssign, bars, pathOf: (d) => devPath.get(d) ?? '$.devices', ram });
  if (!assigned.ok) return fail(assigned.errors, spec.name ?? name);
  const regions = kernel.memory.mmioRegions();
  for (const h of hbAssign) {
    for (const w of h.hb.windows) {
      const clash = regions.find((r) => w.res.start < r.base + r.size && r.base <= w.res.end);
      if (clash !== undefined) {
        errors.push({
          path: h.spec.memWindow !== undefined ? `${h.path}.memWindow` : h.path,
          message: `window ${formatResource(w.res)} of host bridge ${h.hb.name} overlaps MMIO already registered by ${clash.owner}`,
        });
      }
    }
  }
  if (errors.length > 0) return fail(errors, spec.name ?? name);

  // Commit: from here on nothing can fail except a device name clash, which is rolled back.
  const addOrder = [...scanOrder, ...vfs];
  const params = pciParams(kernel);
  const sys = new PciSubsystem(kernel, spec, hbs, addOrder, buses, notes, params);
  setPciSystem(kernel, sys);
  const log = kernel.log;
  for (const opt of params.unknown) log.prErr(`PCI: Unknown option \`${opt}'`);
  if (params.noats) log.prInfo('PCIe: ATS is disabled');
  for (const hb of hbs) {
    log.prInfo(`PCI host bridge to bus ${formatBus(hb.domain, hb.busStart)}`);
    for (const w of hb.windows) {
      const bus = w.offset === 0 ? '' : ` (bus address [${hex(w.res.start - w.offset, 8)}-${hex(w.res.end - w.offset, 8)}])`;
      log.prInfo(`pci_bus ${hb.rootBus.name}: root bus resource ${formatResource(w.res)}${bus}`);
    }
    log.prInfo(`pci_bus ${hb.rootBus.name}: root bus resource ${formatResource({ start: hb.busStart, end: hb.busEnd, flags: IORESOURCE_BUS })}`);
  }
  const hookList: readonly AcsEnableHook[] = hooks.enableAcs === undefined ? [] : typeof hooks.enableAcs === 'function' ? [hooks.enableAcs] : hooks.enableAcs;
  const acsCtx = { iommuOn: kernel.iommu.enabled, params, policy: kernel.policy, hooks: hookList };
  const unknownAcs = new Map(pending.map((p) => [p.dev, p]));
  for (const dev of addOrder) {
    const cls = dev.config.read(PCI_CLASS_REVISION, 4) >>> 8;
    const vendor = dev.config.read(PCI_VENDOR_ID, 2);
    const device = dev.config.read(PCI_DEVICE_ID, 2);
    log.devInfo(dev, `[${hex(vendor, 4).slice(2)}:${hex(device, 4).slice(2)}] type ${hex(dev.hdrType, 2).slice(2)} class ${hex(cls, 6)}`);
    for (const b of bars.get(dev) ?? []) {
      const r: PciResource = b.fixed === null ? { start: 0, end: b.size - 1, flags: b.flags } : { start: b.fixed, end: b.fixed + b.size - 1, flags: b.flags };
      log.devInfo(dev, `reg ${hex(PCI_BASE_ADDRESS_0 + 4 * b.bar)}: ${formatResource(r)}`);
    }
    const u = unknownAcs.get(dev);
    if (u !== undefined) {
      const what = [u.unknownCap ? 'capability bits unknown, assuming SV TB RR CR UF DT' : '', u.unknownCtrl ? 'control unknown, assuming 0' : '']
        .filter((x) => x !== '')
        .join('; ');
      log.devWarn(dev, `ACS ${what} (topology input)`);
    }
    pciEnableAcs(dev, acsCtx);
  }
  for (const line of assigned.log) log.devInfo(line.dev, line.text);

  const unregister: Array<() => void> = [];
  for (const hb of hbs) {
    for (const w of hb.windows) {
      unregister.push(kernel.memory.registerMmio(w.res.start, w.res.end - w.res.start + 1, sys.fabric.cpuMmioHandler(hb, w.res.start), `${hb.name} window`));
    }
  }
  const added: Device[] = [];
  const rollback = (failed: PciDev | Device): { error: EnumerationError } => {
    if (failed instanceof PciDev) kernel.iommu.groupRemoveDevice(failed);
    for (let i = added.length - 1; i >= 0; i--) {
      const d = added[i]!;
      if (d.registered) deviceDel(d);
    }
    for (const u of unregister) u();
    setPciSystem(kernel, null);
    return fail([{ path: devPath.get(failed as PciDev) ?? '$.hostBridges', message: `device name ${failed.name} is already registered with the kernel` }], spec.name ?? name);
  };
  for (const hb of hbs) {
    if (deviceAdd(hb.device) !== 0) return rollback(hb.device);
    added.push(hb.device);
  }
  for (const dev of addOrder) {
    if (kernel.iommu.enabled) pciAssignIommuGroup(kernel, addOrder, dev);
    if (deviceAdd(dev) !== 0) return rollback(dev);
    added.push(dev);
  }
  return sys;
}
