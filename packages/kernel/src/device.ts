/**
 * The driver model: devices, buses, drivers, binding, and managed resources (devres).
 *
 * A `Device` belongs to one `Kernel`. `deviceAdd` registers it (and probes drivers on its bus),
 * `driverRegister` binds a driver to every matching device already present, `deviceDel`
 * unbinds and unregisters it. Binding follows the kernel: `dev.driver` is set before probe (so
 * messages printed during probe carry the driver's prefix); a failed probe logs the kernel's
 * message, releases the devres the probe added and clears `dev.driver`; unbinding calls the
 * remove hook, then releases devres in reverse order of addition.
 *
 * @kernel drivers/base/core.c, drivers/base/dd.c, drivers/base/bus.c, drivers/base/devres.c
 */
import { KernelBug } from './bug';
import type { KResult, NegErrno } from './errno';
import { Errno, err } from './errno';
import type { IommuGroup } from './iommu';
import type { Kernel } from './kernel';
import type { KernelLog } from './log';

/**
 * How a device's DMA reaches memory: `'direct'` (bus addresses are physical addresses, plus the
 * host bridge offset), `'iommu'` (through its IOMMU group's domain), `'virt'` (a virtual device
 * with no DMA of its own, e.g. rxe/siw RDMA devices that "DMA" with CPU copies).
 * @kernel dma_map_ops: dma-direct, iommu_dma_ops, dma_virt_ops
 */
export type DmaOpsKind = 'direct' | 'iommu' | 'virt';

/** Every DMA ops kind. */
export const DMA_OPS_KINDS: readonly DmaOpsKind[] = ['direct', 'iommu', 'virt'];

/** Default DMA mask width in bits for a new device. */
export const DEFAULT_DMA_MASK_BITS = 64;

/**
 * Default longest DMA segment a device accepts when its driver sets none (64 KiB, the kernel's
 * answer without `dma_parms`); IOMMU mapping merges segments only up to it.
 * @kernel dma_get_max_seg_size
 */
export const DEFAULT_DMA_MAX_SEG_SIZE = 65536;

/**
 * Default DMA segment boundary mask: a segment may not cross a 4 GiB boundary.
 * @kernel dma_get_seg_boundary
 */
export const DEFAULT_DMA_SEG_BOUNDARY = 2 ** 32 - 1;

/**
 * A bus type: matches devices to drivers, and optionally wraps probe/remove (as `pci_bus_type`
 * does, calling the PCI driver's own probe).
 * @kernel struct bus_type
 */
export interface BusType {
  /** Bus name; the dev_printk prefix of unbound devices (`'pci'`). */
  readonly name: string;
  /**
   * Whether `drv` can drive `dev`.
   * @kernel bus_type.match
   */
  match(dev: Device, drv: DeviceDriver): boolean;
  /**
   * When present, called instead of `drv.probe` (with `dev.driver` already set); it is expected
   * to call the driver's bus-specific probe.
   * @kernel bus_type.probe
   */
  probe?(dev: Device): KResult;
  /**
   * When present, called instead of `drv.remove`.
   * @kernel bus_type.remove
   */
  remove?(dev: Device): void;
}

/**
 * A driver. Register with `driverRegister(kernel, drv)`.
 * @kernel struct device_driver
 */
export interface DeviceDriver {
  /** Driver name; the dev_printk prefix of bound devices (`'nvme'`). */
  readonly name: string;
  /** The bus it drives devices on. */
  readonly bus: BusType;
  /**
   * Binds to a device. On failure return a negated errno; the core then releases the devres
   * added during probe. `-ENODEV`/`-ENXIO` mean "not mine" and are logged at debug level only.
   * @kernel device_driver.probe
   */
  probe(dev: Device): KResult;
  /**
   * Unbinds; devres is released after it returns.
   * @kernel device_driver.remove
   */
  remove?(dev: Device): void;
}

/** Construction options for a `Device`. */
export interface DeviceOptions {
  /** Parent device (`null` for a root such as a host bridge). */
  parent?: Device | null;
  /** Bus the device sits on. */
  bus?: BusType | null;
  /** Class name (`'nvme'`, `'infiniband'`): the dev_printk prefix when there is no driver or bus. */
  className?: string | null;
  /** DMA mask width in bits (default 64). */
  dmaMask?: number;
  /** DMA ops (default `'direct'`). */
  dmaOps?: DmaOpsKind;
  /** Added to the CPU physical address for `'direct'` DMA (default 0). */
  dmaOffset?: number;
  /** Longest DMA segment (default `DEFAULT_DMA_MAX_SEG_SIZE`). */
  dmaMaxSegSize?: number;
  /** DMA segment boundary mask (default `DEFAULT_DMA_SEG_BOUNDARY`). */
  dmaSegBoundary?: number;
}

interface DevresEntry {
  readonly name: string;
  readonly release: () => void;
}

/**
 * A device. Construct it, set its fields, then `deviceAdd` it.
 * @kernel struct device
 */
export class Device {
  /** The kernel this device belongs to. */
  readonly kernel: Kernel;
  /** The device name (`'0000:03:00.0'`), unique among the kernel's registered devices. */
  readonly name: string;
  /** The parent device, or `null` for a root. */
  readonly parent: Device | null;
  /** The bus, or `null`. */
  bus: BusType | null;
  /** The class name, or `null`. */
  className: string | null;
  /** The bound driver, or `null`. Set by the core only. */
  driver: DeviceDriver | null = null;
  /** How its DMA is mapped. */
  dmaOps: DmaOpsKind;
  /** Its IOMMU group, set by `kernel.iommu.groupAddDevice`. */
  iommuGroup: IommuGroup | null = null;
  /** DMA mask width in bits. */
  dmaMask: number;
  /**
   * `'direct'` DMA address = CPU physical address + `dmaOffset` (default 0): the device's view
   * of memory through a host bridge that translates (the kernel's `dma_range_map`). Bus
   * addresses of peer BARs are the p2pdma layer's business, not this field's.
   * @kernel phys_to_dma / dev->dma_range_map
   */
  dmaOffset: number;
  /** Longest DMA segment the device accepts. @kernel dma_get_max_seg_size */
  dmaMaxSegSize: number;
  /** DMA segment boundary mask. @kernel dma_get_seg_boundary */
  dmaSegBoundary: number;
  /** The bound driver's private data (`dev_get_drvdata`); cleared on unbind. */
  driverData: unknown = null;
  private readonly kids: Device[] = [];
  /** @internal devres list, oldest first; owned by the devres functions of this module. */
  readonly devresList: DevresEntry[] = [];
  private state: 'new' | 'registered' | 'deleted' = 'new';

  /**
   * @param kernel the owning kernel.
   * @param name the device name.
   * @param opts parent, bus, class, DMA settings.
   * @throws KernelBug when the parent belongs to another kernel.
   */
  constructor(kernel: Kernel, name: string, opts: DeviceOptions = {}) {
    this.kernel = kernel;
    this.name = name;
    this.parent = opts.parent ?? null;
    if (this.parent !== null && this.parent.kernel !== kernel) {
      throw new KernelBug(`device ${name}: parent ${this.parent.name} belongs to another kernel`);
    }
    this.bus = opts.bus ?? null;
    this.className = opts.className ?? null;
    this.dmaMask = opts.dmaMask ?? DEFAULT_DMA_MASK_BITS;
    this.dmaOps = opts.dmaOps ?? 'direct';
    this.dmaOffset = opts.dmaOffset ?? 0;
    this.dmaMaxSegSize = opts.dmaMaxSegSize ?? DEFAULT_DMA_MAX_SEG_SIZE;
    this.dmaSegBoundary = opts.dmaSegBoundary ?? DEFAULT_DMA_SEG_BOUNDARY;
  }

  /** Registered children, in the order they were added. */
  get children(): readonly Device[] {
    return this.kids;
  }

  /** Whether `deviceAdd` succeeded and `deviceDel` has not run. @kernel device_is_registered */
  get registered(): boolean {
    return this.state === 'registered';
  }

  /** @internal state transitions, used by this module only. */
  setState(s: 'new' | 'registered' | 'deleted'): void {
    this.state = s;
  }

  /** @internal */
  get lifecycle(): 'new' | 'registered' | 'deleted' {
    return this.state;
  }

  /** @internal */
  linkChild(child: Device): void {
    this.kids.push(child);
  }

  /** @internal */
  unlinkChild(child: Device): void {
    const i = this.kids.indexOf(child);
    if (i >= 0) this.kids.splice(i, 1);
  }
}

/**
 * A kernel's device and driver registry (`kernel.devices()` delegates here).
 * @kernel devices_kset, bus_type.p->klist_devices / klist_drivers
 */
export class DeviceRegistry {
  private readonly byName = new Map<string, Device>();
  private readonly drvs: DeviceDriver[] = [];

  /** @param log the kernel log, for binding messages. */
  constructor(readonly log: KernelLog) {}

  /** Registered devices in the order they were added. */
  devices(): Device[] {
    return [...this.byName.values()];
  }

  /**
   * @param name a device name.
   * @returns the registered device, or `null`.
   */
  findDevice(name: string): Device | null {
    return this.byName.get(name) ?? null;
  }

  /** Registered drivers in registration order. */
  drivers(): DeviceDriver[] {
    return this.drvs.slice();
  }

  /**
   * @param bus a bus.
   * @returns its registered devices in add order.
   */
  busDevices(bus: BusType): Device[] {
    return this.devices().filter((d) => d.bus === bus);
  }

  /** @internal */
  addDevice(dev: Device): boolean {
    if (this.byName.has(dev.name)) return false;
    this.byName.set(dev.name, dev);
    return true;
  }

  /** @internal */
  removeDevice(dev: Device): void {
    if (this.byName.get(dev.name) === dev) this.byName.delete(dev.name);
  }

  /** @internal */
  addDriver(drv: DeviceDriver): boolean {
    if (this.drvs.some((d) => d.bus === drv.bus && d.name === drv.name)) return false;
    this.drvs.push(drv);
    return true;
  }

  /** @internal */
  removeDriver(drv: DeviceDriver): boolean {
    const i = this.drvs.indexOf(drv);
    if (i < 0) return false;
    this.drvs.splice(i, 1);
    return true;
  }
}

/**
 * The device's ancestors, nearest first: `[parent, grandparent, …, root]`.
 * @param dev the device.
 * @returns a new array (empty for a root).
 */
export function ancestors(dev: Device): Device[] {
  const out: Device[] = [];
  for (let p = dev.parent; p !== null; p = p.parent) out.push(p);
  return out;
}

/**
 * The device's sysfs path under `/sys`: `/devices/pci0000:00/0000:00:01.0/0000:01:00.0`.
 * @param dev the device.
 * @returns the path.
 * @kernel kobject_get_path / dev_path
 */
export function devPath(dev: Device): string {
  const names = [dev.name];
  for (const a of ancestors(dev)) names.push(a.name);
  return `/devices/${names.reverse().join('/')}`;
}

/**
 * Registers a device: makes it findable, links it under its parent, creates its sysfs directory
 * (`/sys/devices/...`, plus `/sys/bus/<bus>/devices/<name>` and `/sys/class/<class>/<name>`
 * links) and, when it has a bus, tries the bus's drivers (`bus_probe_device`). A probe failure
 * does not fail the add.
 * @param dev a new device whose parent (if any) is registered.
 * @returns `0`; `-EINVAL` for an empty name; `-EEXIST` when the name is taken (logged like
 *   sysfs's duplicate-name warning).
 * @throws KernelBug when the device was added before or its parent is not registered.
 * @kernel device_add
 */
export function deviceAdd(dev: Device): KResult {
  if (dev.lifecycle !== 'new') throw new KernelBug(`device_add(${dev.name}): device was already added`);
  if (dev.parent !== null && !dev.parent.registered) {
    throw new KernelBug(`device_add(${dev.name}): parent ${dev.parent.name} is not registered`);
  }
  const reg = dev.kernel.deviceRegistry;
  if (dev.name === '') {
    reg.log.prErr('device_add: name is empty');
    return err('EINVAL');
  }
  if (!reg.addDevice(dev)) {
    reg.log.prWarn(`sysfs: cannot create duplicate filename '${devPath(dev)}'`);
    return err('EEXIST');
  }
  dev.setState('registered');
  dev.parent?.linkChild(dev);
  dev.kernel.sysfs.deviceAdded(dev);
  if (dev.bus !== null) deviceAttach(dev);
  return 0;
}

/**
 * Unregisters a device: deletes its children first (last added first; the kernel leaves that to
 * the bus code, the model does it to keep the tree consistent), unbinds its driver, releases its
 * remaining devres, leaves its IOMMU group, removes its sysfs directory and links, and unlinks
 * it. The device cannot be added again.
 * @param dev a registered device.
 * @throws KernelBug when the device is not registered.
 * @kernel device_del (+ device_unregister's devres_release_all)
 */
export function deviceDel(dev: Device): void {
  if (!dev.registered) throw new KernelBug(`device_del(${dev.name}): device is not registered`);
  for (let c = dev.children[dev.children.length - 1]; c !== undefined; c = dev.children[dev.children.length - 1]) {
    deviceDel(c);
  }
  deviceReleaseDriver(dev);
  devresReleaseAll(dev);
  dev.kernel.iommu.groupRemoveDevice(dev);
  dev.kernel.sysfs.deviceRemoved(dev);
  dev.kernel.deviceRegistry.removeDevice(dev);
  dev.parent?.unlinkChild(dev);
  dev.setState('deleted');
}

/**
 * Registers a driver and binds it to every registered, unbound device on its bus that matches,
 * in device add order.
 * @param kernel the kernel to register with.
 * @param drv the driver.
 * @returns `0`, or `-EBUSY` when a driver of that name is already registered on the bus (logged
 *   as the kernel does).
 * @kernel driver_register (+ driver_attach)
 */
export function driverRegister(kernel: Kernel, drv: DeviceDriver): KResult {
  const reg = kernel.deviceRegistry;
  if (!reg.addDriver(drv)) {
    reg.log.prErr(`Error: Driver '${drv.name}' is already registered, aborting...`);
    return err('EBUSY');
  }
  for (const dev of reg.busDevices(drv.bus)) {
    if (dev.driver === null && dev.registered && drv.bus.match(dev, drv)) driverProbeDevice(drv, dev);
  }
  return 0;
}

/**
 * Unbinds a driver from all its devices (most recently added device first) and unregisters it.
 * @param kernel the kernel it was registered with.
 * @param drv the driver.
 * @throws KernelBug when the driver is not registered.
 * @kernel driver_unregister (+ driver_detach)
 */
export function driverUnregister(kernel: Kernel, drv: DeviceDriver): void {
  const reg = kernel.deviceRegistry;
  if (!reg.drivers().includes(drv)) throw new KernelBug(`driver_unregister(${drv.name}): driver is not registered`);
  const bound = reg.devices().filter((d) => d.driver === drv);
  for (let i = bound.length - 1; i >= 0; i--) deviceReleaseDriver(bound[i]!);
  reg.removeDriver(drv);
}

/**
 * Tries the drivers on the device's bus, in registration order, until one binds.
 * @param dev the device.
 * @returns `1` when a driver is bound (now or already), `0` when none bound, `-ENODEV` when the
 *   device is not registered.
 * @kernel device_attach
 */
export function deviceAttach(dev: Device): 1 | 0 | NegErrno {
  if (!dev.registered) return err('ENODEV');
  if (dev.driver !== null) return 1;
  if (dev.bus === null) return 0;
  for (const drv of dev.kernel.deviceRegistry.drivers()) {
    if (drv.bus !== dev.bus || !dev.bus.match(dev, drv)) continue;
    if (driverProbeDevice(drv, dev) === 0) return 1;
  }
  return 0;
}

/**
 * How a failed probe is logged, by errno (the kernel's `call_driver_probe` switch): deferral and
 * "not mine" (-ENODEV, -ENXIO) at debug level, anything else as an error.
 * @kernel call_driver_probe
 */
export const PROBE_FAILURE_LOG: Readonly<Record<'defer' | 'reject' | 'fail', (drv: string, ret: number) => string>> = {
  defer: (drv) => `Driver ${drv} requests probe deferral`,
  reject: (drv, ret) => `probe with driver ${drv} rejects match ${ret}`,
  fail: (drv, ret) => `probe with driver ${drv} failed with error ${ret}`,
};

const PROBE_FAILURE_KIND: ReadonlyMap<number, 'defer' | 'reject'> = new Map([
  [-Errno.EPROBE_DEFER, 'defer'],
  [-Errno.ENODEV, 'reject'],
  [-Errno.ENXIO, 'reject'],
]);

/**
 * Binds one driver to one device: sets `dev.driver`, calls the bus's or driver's probe, and on
 * failure logs, releases the devres added and clears `dev.driver` and `dev.driverData`.
 * (Deferred probing is not retried by the model.)
 * @param drv the driver; the caller has checked that it matches.
 * @param dev an unbound, registered device.
 * @returns the probe's result.
 * @throws KernelBug when the device is unregistered or already bound.
 * @kernel driver_probe_device / really_probe
 */
export function driverProbeDevice(drv: DeviceDriver, dev: Device): KResult {
  if (!dev.registered) throw new KernelBug(`really_probe(${drv.name}, ${dev.name}): device is not registered`);
  if (dev.driver !== null) throw new KernelBug(`really_probe(${drv.name}, ${dev.name}): already bound to ${dev.driver.name}`);
  dev.driver = drv;
  const ret = dev.bus?.probe !== undefined ? dev.bus.probe(dev) : drv.probe(dev);
  if (ret === 0) return 0;
  const log = dev.kernel.deviceRegistry.log;
  const kind = PROBE_FAILURE_KIND.get(ret);
  if (kind === undefined) log.devErr(dev, PROBE_FAILURE_LOG.fail(drv.name, ret));
  else log.devDbg(dev, PROBE_FAILURE_LOG[kind](drv.name, ret));
  devresReleaseAll(dev);
  dev.driver = null;
  dev.driverData = null;
  return ret;
}

/**
 * Unbinds the device's driver: the bus's or driver's remove hook, then devres release in reverse
 * order, then `dev.driver` and `dev.driverData` are cleared. Nothing happens when unbound.
 * @param dev the device.
 * @kernel device_release_driver
 */
export function deviceReleaseDriver(dev: Device): void {
  const drv = dev.driver;
  if (drv === null) return;
  if (dev.bus?.remove !== undefined) dev.bus.remove(dev);
  else drv.remove?.(dev);
  devresReleaseAll(dev);
  dev.driver = null;
  dev.driverData = null;
}

/**
 * Adds a managed action, run when the driver unbinds (or the probe fails, or the device is
 * deleted), after every action added later.
 * @param dev the device.
 * @param name a label for debugging (`devresNames`).
 * @param release the action; called once.
 * @returns `0` (the model never runs out of memory here).
 * @kernel devm_add_action
 */
export function devmAdd(dev: Device, name: string, release: () => void): KResult {
  dev.devresList.push({ name, release });
  return 0;
}

/**
 * Removes a managed action without running it (the latest one registered with this function).
 * @param dev the device.
 * @param release the function given to `devmAdd`.
 * @returns `true` when found; `false` (and a `WARNING:` line) when not.
 * @kernel devm_remove_action
 */
export function devmRemove(dev: Device, release: () => void): boolean {
  return takeDevres(dev, release, 'devm_remove_action') !== null;
}

/**
 * Removes a managed action and runs it now.
 * @param dev the device.
 * @param release the function given to `devmAdd`.
 * @returns `true` when found and run; `false` (and a `WARNING:` line) when not.
 * @kernel devm_release_action
 */
export function devmRelease(dev: Device, release: () => void): boolean {
  const e = takeDevres(dev, release, 'devm_release_action');
  e?.release();
  return e !== null;
}

/**
 * The labels of the device's managed actions, oldest first.
 * @param dev the device.
 * @returns a new array.
 */
export function devresNames(dev: Device): string[] {
  return dev.devresList.map((e) => e.name);
}

/**
 * Runs and drops every managed action of the device, newest first. Actions added while
 * releasing are released too.
 * @param dev the device.
 * @returns the number of actions run.
 * @kernel devres_release_all
 */
export function devresReleaseAll(dev: Device): number {
  let n = 0;
  for (let e = dev.devresList.pop(); e !== undefined; e = dev.devresList.pop()) {
    e.release();
    n++;
  }
  return n;
}

function takeDevres(dev: Device, release: () => void, fn: string): DevresEntry | null {
  for (let i = dev.devresList.length - 1; i >= 0; i--) {
    const e = dev.devresList[i]!;
    if (e.release === release) {
      dev.devresList.splice(i, 1);
      return e;
    }
  }
  dev.kernel.log.devWarn(dev, `WARNING: ${fn}: action not found`);
  return null;
}
