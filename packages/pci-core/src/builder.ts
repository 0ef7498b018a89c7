/**
 * A fluent builder of {@link TopologySpec}s for tests and built-in machines.
 *
 * The caller describes the shape (host bridges, root ports, switches of any depth, endpoints,
 * multi-function devices, SR-IOV virtual functions); the builder numbers the buses itself, as
 * firmware does: depth first, each bridge's secondary bus the next free number, its subordinate
 * the highest number used below it, scanning each bus in devfn order.
 *
 * ```ts
 * const spec = topology('example')
 *   .cpu({ vendor: 'intel' })
 *   .hostBridge({ domain: 0, vendor: 0x8086, device: 0x6f00 }, (hb) => {
 *     hb.rootPort('00:03.0', { link: [3, 16] }, (rp) => {
 *       rp.switch({ vendor: 0x10b5, device: 0x8747 }, (sw) => {
 *         sw.port({ acs: { cap: ['SV', 'RR', 'CR'] } }, (p) => p.endpoint({ role: 'nvme' }));
 *       });
 *     });
 *   })
 *   .build();
 * ```
 *
 * Every method that creates a function returns a {@link NodeRef} whose `bdf` is known once
 * `build()` has run. A usage mistake (two functions at one address, a switch where a port
 * already has a device, more buses than the host bridge has) throws {@link TopologyBuildError}
 * at the call or at `build()`; `build()` also validates its result and throws if it is invalid.
 */
import { type Bdf, PCI_MAX_BUS, PCI_MAX_FN, PCI_MAX_SLOT, compareBdf, devfn, formatBdf } from './bdf';
import type {
  AcsBitName,
  AcsSpec,
  BarSpec,
  CpuSpec,
  DeviceRole,
  DeviceSpec,
  HostBridgeSpec,
  NvmeSpec,
  P2pmemSpec,
  PciePortType,
  PcieSpec,
  PeerForwarding,
  TopologySpec,
} from './topology-spec';
import { TOPOLOGY_SCHEMA_V1 } from './topology-spec';
import { formatTopologyErrors, validateTopologySpec } from './topology-validate';

/** Thrown when the builder is used wrongly (a bug in the calling code, not bad user input). */
export class TopologyBuildError extends Error {
  /** @param message what was wrong, naming the topology and the function. */
  constructor(message: string) {
    super(message);
    this.name = 'TopologyBuildError';
  }
}

/** Class code of a host bridge function (base 06, sub 00). */
export const PCI_CLASS_HOST_BRIDGE = 0x060000;
/** Class code of a PCI-to-PCI bridge / PCIe port (base 06, sub 04, prog-if 00). */
export const PCI_CLASS_BRIDGE_PCI = 0x060400;

/**
 * Class code given to an endpoint by role when the caller gives none: NVMe (01 08 02),
 * Ethernet for RNICs and NICs (02 00 00), 3D controller for GPUs (03 02 00), "memory
 * controller, other" for p2pmem-only cards (05 80 00).
 */
export const ROLE_CLASS_CODES: Readonly<Record<DeviceRole, number | undefined>> = {
  nvme: 0x010802,
  rnic: 0x020000,
  nic: 0x020000,
  gpu: 0x030200,
  p2pmem: 0x058000,
  other: undefined,
};

/** A function the builder created; its address is known after `build()`. */
export interface NodeRef {
  /** The function's BDF (`dddd:bb:dd.f`). Throws {@link TopologyBuildError} before `build()`. */
  readonly bdf: string;
  /** SR-IOV virtual functions of this function, in VF order (empty for others); after `build()`. */
  readonly vfBdfs: readonly string[];
  /** For bridges: `[secondary, subordinate]` bus numbers; `null` for endpoints; after `build()`. */
  readonly busRange: readonly [number, number] | null;
}

/** Fields every function accepts. */
export interface FunctionOptions {
  vendor?: number;
  device?: number;
  subsystemVendor?: number;
  subsystemDevice?: number;
  /** 24-bit class code; a default is chosen by kind (bridge) or role (endpoint). */
  classCode?: number;
  revision?: number;
  label?: string;
  /** Current link `[generation, width]`, e.g. `[3, 16]` for Gen3 x16. */
  link?: readonly [number, number];
  /** Maximum link (LnkCap) `[generation, width]`; left unknown when absent. */
  maxLink?: readonly [number, number];
  /** Max payload size in bytes. */
  mps?: number;
  /** ACS capability and control bits (control defaults to none set). */
  acs?: { cap: AcsBitName[] | 'unknown'; ctrl?: AcsBitName[] | 'unknown' };
  /** BARs of the function. */
  bars?: BarSpec[];
  /** Driver bound in the described machine (informational). */
  driver?: string;
}

/** Options of a bridge function (root port, switch port). */
export interface PortOptions extends FunctionOptions {
  /** Device number (or `dd.f` / `bb:dd.f` text); default: the next free one on the bus. */
  slot?: number | string;
}

/** Options of a switch; they describe its upstream port. */
export interface SwitchOptions extends FunctionOptions {
  /** Defaults for every downstream port (vendor, device, link, ACS...); per-port options win. */
  ports?: FunctionOptions;
}

/** SR-IOV virtual functions of a physical function, as its SR-IOV capability numbers them. */
export interface SriovOptions {
  /** Number of enabled VFs. */
  vfs: number;
  /** First VF Offset (routing-ID distance from the PF to VF 0); default 1. */
  offset?: number;
  /** VF Stride; default 1. */
  stride?: number;
  /** VF Device ID; default the PF's. */
  vfDevice?: number;
  /** BARs of each VF; default none. */
  vfBars?: BarSpec[];
}

/** Options of an endpoint function. */
export interface EndpointOptions extends FunctionOptions {
  /** Device number on a root bus (default: the next free one); below a port it is always 0. */
  slot?: number | string;
  /** Function number (default: the next free function of the device). */
  fn?: number;
  role?: DeviceRole;
  p2pmem?: P2pmemSpec;
  nvme?: NvmeSpec;
  /** Express port type (default `endpoint`, or `rc-endpoint` on a root bus). */
  portType?: Extract<PciePortType, 'endpoint' | 'legacy-endpoint' | 'rc-endpoint' | 'rc-event-collector'>;
  /** A conventional PCI function: no Express capability. */
  conventional?: boolean;
  sriov?: SriovOptions;
}

/** Options of a host bridge. */
export interface HostBridgeOptions {
  /** PCI domain; default 0. */
  domain?: number;
  /** Root bus number; default 0. */
  bus?: number;
  /** Highest bus below it; default: just below the next host bridge's root bus in the domain, else 0xff. */
  busEnd?: number;
  /** Vendor ID of the host bridge function at devfn 00.0; with `device`, that function is created. */
  vendor?: number;
  /** Device ID of the host bridge function at devfn 00.0. */
  device?: number;
  /** Revision of the host bridge function. */
  revision?: number;
  /** Label of the host bridge (and of its 00.0 function). */
  label?: string;
  memWindow?: HostBridgeSpec['memWindow'];
  peerForwarding?: PeerForwarding;
}

type Kind = 'host' | 'root-port' | 'upstream' | 'downstream' | 'endpoint';

interface FnNode {
  kind: Kind;
  slot: number;
  fn: number;
  opts: EndpointOptions;
  /** The bus behind a bridge. */
  below?: BusNode;
  ref: RefImpl;
  /** Where it was declared, for messages. */
  where: string;
}

interface BusNode {
  fns: FnNode[];
  /** Root bus, a port's link (one device, number 0), or a switch's internal bus. */
  kind: 'root' | 'link' | 'switch';
}

class RefImpl implements NodeRef {
  addr: Bdf | null = null;
  vfs: string[] = [];
  range: [number, number] | null = null;
  constructor(private readonly what: string) {}
  get bdf(): string {
    if (!this.addr) throw new TopologyBuildError(`${this.what}: BDF requested before build()`);
    return formatBdf(this.addr);
  }
  get vfBdfs(): readonly string[] {
    if (!this.addr) throw new TopologyBuildError(`${this.what}: VFs requested before build()`);
    return this.vfs;
  }
  get busRange(): readonly [number, number] | null {
    if (!this.addr) throw new TopologyBuildError(`${this.what}: bus range requested before build()`);
    return this.range;
  }
}

const SLOT_RE = /^(?:(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):)?([0-9a-fA-F]{1,2})(?:\.([0-7]))?$/;

interface SlotSpec {
  slot: number;
  fn?: number;
  bus?: number;
  domain?: number;
}

function parseSlot(where: string, s: number | string): SlotSpec {
  if (typeof s === 'number') {
    if (!Number.isInteger(s) || s < 0 || s > PCI_MAX_SLOT) throw new TopologyBuildError(`${where}: slot ${s} is not 0-31`);
    return { slot: s };
  }
  const m = SLOT_RE.exec(s);
  const slot = m ? Number.parseInt(m[3]!, 16) : Number.NaN;
  if (!m || slot > PCI_MAX_SLOT) throw new TopologyBuildError(`${where}: '${s}' is not a slot (dd, dd.f, bb:dd.f or dddd:bb:dd.f)`);
  const out: SlotSpec = { slot };
  if (m[4] !== undefined) out.fn = Number(m[4]);
  if (m[2] !== undefined) out.bus = Number.parseInt(m[2], 16);
  if (m[1] !== undefined) out.domain = Number.parseInt(m[1], 16);
  return out;
}

/** Shared logic of the bus builders: placing functions at free addresses. */
class BusBase {
  constructor(
    protected readonly topo: string,
    protected readonly bus: BusNode,
    protected readonly where: string,
    protected readonly hb: { domain: number; bus: number },
  ) {}

  protected used(slot: number, fn: number): FnNode | undefined {
    return this.bus.fns.find((f) => f.slot === slot && f.fn === fn);
  }

  protected nextSlot(from: number): number {
    for (let s = from; s <= PCI_MAX_SLOT; s++) if (!this.bus.fns.some((f) => f.slot === s)) return s;
    throw new TopologyBuildError(`${this.topo}: ${this.where} has no free device number left`);
  }

  protected nextFn(slot: number): number {
    for (let f = 0; f <= PCI_MAX_FN; f++) if (!this.used(slot, f)) return f;
    throw new TopologyBuildError(`${this.topo}: device ${slot.toString(16)} on ${this.where} has no free function left`);
  }

  protected add(kind: Kind, slot: number, fn: number, opts: EndpointOptions, what: string): FnNode {
    const taken = this.used(slot, fn);
    if (taken) {
      throw new TopologyBuildError(`${this.topo}: ${what} at ${hex2(slot)}.${fn} on ${this.where} collides with ${taken.where}`);
    }
    const node: FnNode = { kind, slot, fn, opts, ref: new RefImpl(`${this.topo}: ${what}`), where: `${what} at ${hex2(slot)}.${fn}` };
    this.bus.fns.push(node);
    return node;
  }

  protected placeExplicit(s: SlotSpec, what: string): { slot: number; fn: number } {
    if (s.domain !== undefined && s.domain !== this.hb.domain) {
      throw new TopologyBuildError(`${this.topo}: ${what} names domain ${s.domain.toString(16)} on ${this.where}`);
    }
    if (s.bus !== undefined && this.bus.kind === 'root' && s.bus !== this.hb.bus) {
      throw new TopologyBuildError(`${this.topo}: ${what} names bus ${hex2(s.bus)} but the root bus is ${hex2(this.hb.bus)}`);
    }
    return { slot: s.slot, fn: s.fn ?? this.nextFn(s.slot) };
  }

  protected endpointAt(opts: EndpointOptions, defaultSlotFrom: number): NodeRef {
    const what = `endpoint${opts.label ? ` '${opts.label}'` : ''}`;
    let slot: number;
    let fn: number;
    if (this.bus.kind === 'link') {
      if (opts.slot !== undefined && parseSlot(`${this.topo}: ${what}`, opts.slot).slot !== 0) {
        throw new TopologyBuildError(`${this.topo}: ${what} below a port must be device 0 (a PCIe link has one device)`);
      }
      slot = 0;
      fn = opts.fn ?? this.nextFn(0);
    } else if (opts.slot !== undefined) {
      ({ slot, fn } = this.placeExplicit(parseSlot(`${this.topo}: ${what}`, opts.slot), what));
      if (opts.fn !== undefined) fn = opts.fn;
    } else {
      slot = this.nextSlot(defaultSlotFrom);
      fn = opts.fn ?? 0;
    }
    if (!Number.isInteger(fn) || fn < 0 || fn > PCI_MAX_FN) throw new TopologyBuildError(`${this.topo}: ${what}: function ${fn} is not 0-7`);
    return this.add('endpoint', slot, fn, opts, what).ref;
  }
}

/** The body of a port: what hangs below a root port or a switch downstream port. */
export type PortBody = (link: LinkBuilder) => void;

/** Builds what sits below a port: one device (an endpoint, possibly multi-function, or a switch). */
export class LinkBuilder extends BusBase {
  /**
   * Add an endpoint function at device 0 of the link (call again for more functions).
   * @param opts IDs, BARs, role, hints; `fn` picks the function number (default the next free).
   * @returns a reference to the function.
   */
  endpoint(opts: EndpointOptions = {}): NodeRef {
    return this.endpointAt(opts, 0);
  }

  /**
   * Add a switch: its upstream port at 00.0 of this link, and the switch's internal bus on which
   * `body` adds downstream ports.
   * @param opts the upstream port's fields; `ports` gives defaults for the downstream ports.
   * @param body adds the downstream ports.
   * @returns a reference to the upstream port.
   */
  switch(opts: SwitchOptions, body: (sw: SwitchBuilder) => void): NodeRef {
    if (this.bus.fns.length > 0) {
      throw new TopologyBuildError(`${this.topo}: a switch on ${this.where} needs the link to itself, but ${this.bus.fns[0]!.where} is there`);
    }
    const { ports, ...upstream } = opts;
    const node = this.add('upstream', 0, 0, upstream, `switch upstream port${opts.label ? ` '${opts.label}'` : ''}`);
    node.below = { fns: [], kind: 'switch' };
    const inherited: FunctionOptions = { ...pick(upstream, ['vendor', 'device', 'subsystemVendor', 'subsystemDevice', 'revision', 'link', 'maxLink', 'mps']), ...ports };
    body(new SwitchBuilder(this.topo, node.below, `the internal bus of ${node.where}`, this.hb, inherited));
    return node.ref;
  }
}

/** Builds the downstream ports of a switch. */
export class SwitchBuilder extends BusBase {
  /** @internal */
  constructor(topo: string, bus: BusNode, where: string, hb: { domain: number; bus: number }, private readonly defaults: FunctionOptions) {
    super(topo, bus, where, hb);
  }

  /**
   * Add a downstream port.
   * @param optsOrBody the port's options (slot, ACS, link...) or directly its body.
   * @param body adds what sits below the port.
   * @returns a reference to the downstream port.
   */
  port(optsOrBody?: PortOptions | PortBody, body?: PortBody): NodeRef {
    const opts: PortOptions = typeof optsOrBody === 'function' ? {} : (optsOrBody ?? {});
    const fnBody = typeof optsOrBody === 'function' ? optsOrBody : body;
    const what = `downstream port${opts.label ? ` '${opts.label}'` : ''}`;
    const at = opts.slot === undefined ? { slot: this.nextSlot(0), fn: 0 } : this.placeExplicit(parseSlot(`${this.topo}: ${what}`, opts.slot), what);
    const { slot: _slot, ...fields } = opts;
    const node = this.add('downstream', at.slot, at.fn, { ...this.defaults, ...fields }, what);
    node.below = { fns: [], kind: 'link' };
    fnBody?.(new LinkBuilder(this.topo, node.below, `the link below ${node.where}`, this.hb));
    return node.ref;
  }
}

/** Builds the functions on a host bridge's root bus. */
export class RootBusBuilder extends BusBase {
  /**
   * Add a root port.
   * @param slotOrOpts its address on the root bus (`'00:03.0'`, `'03.0'`, `3`), its options, or
   *   directly its body.
   * @param optsOrBody its options (link, ACS...) or its body.
   * @param body adds what sits below the port.
   * @returns a reference to the root port.
   */
  rootPort(slotOrOpts?: number | string | PortOptions | PortBody, optsOrBody?: PortOptions | PortBody, body?: PortBody): NodeRef {
    let opts: PortOptions = {};
    let fnBody: PortBody | undefined;
    if (typeof slotOrOpts === 'function') {
      fnBody = slotOrOpts;
    } else if (typeof slotOrOpts === 'object') {
      opts = slotOrOpts;
      fnBody = typeof optsOrBody === 'function' ? optsOrBody : body;
    } else {
      if (typeof optsOrBody === 'function') fnBody = optsOrBody;
      else {
        opts = { ...(optsOrBody ?? {}) };
        fnBody = body;
      }
      if (slotOrOpts !== undefined) opts = { ...opts, slot: slotOrOpts };
    }
    const what = `root port${opts.label ? ` '${opts.label}'` : ''}`;
    const at = opts.slot === undefined ? { slot: this.nextSlot(1), fn: 0 } : this.placeExplicit(parseSlot(`${this.topo}: ${what}`, opts.slot), what);
    const { slot: _slot, ...fields } = opts;
    const node = this.add('root-port', at.slot, at.fn, fields, what);
    node.below = { fns: [], kind: 'link' };
    fnBody?.(new LinkBuilder(this.topo, node.below, `the link below ${node.where}`, this.hb));
    return node.ref;
  }

  /**
   * Add a function directly on the root bus (a root-complex integrated endpoint by default).
   * @param opts as for any endpoint; `slot` picks the device (default the next free one).
   * @returns a reference to the function.
   */
  endpoint(opts: EndpointOptions = {}): NodeRef {
    return this.endpointAt(opts, 1);
  }

  /** @internal */
  addHostDevice(opts: EndpointOptions): void {
    this.add('host', 0, 0, opts, 'host bridge function');
  }
}

interface HostBridgeDecl {
  opts: HostBridgeOptions;
  root: BusNode;
}

/** Builds a whole topology; start it with {@link topology}. */
export class TopologyBuilder {
  private readonly hbs: HostBridgeDecl[] = [];
  private desc: string | undefined;
  private cpuSpec: CpuSpec | undefined;
  private iommuOn: boolean | undefined;
  private ram: Array<{ base: number; size: number }> | undefined;

  /** @internal use {@link topology}. */
  constructor(private readonly name: string) {}

  /** Set the topology's description sentence. */
  description(text: string): this {
    this.desc = text;
    return this;
  }

  /** Set the CPU (vendor and optionally family). */
  cpu(cpu: CpuSpec): this {
    this.cpuSpec = { ...cpu };
    return this;
  }

  /** Turn DMA remapping by an IOMMU on or off. */
  iommu(on: boolean): this {
    this.iommuOn = on;
    return this;
  }

  /** Set the System RAM ranges (CPU physical). */
  systemRam(ranges: Array<{ base: number; size: number }>): this {
    this.ram = ranges.map((r) => ({ ...r }));
    return this;
  }

  /**
   * Add a host bridge and describe its root bus.
   * @param opts domain, root bus, the 00.0 host bridge function's IDs, window.
   * @param body adds root ports and integrated functions.
   */
  hostBridge(opts: HostBridgeOptions, body: (hb: RootBusBuilder) => void): this {
    const domain = opts.domain ?? 0;
    const bus = opts.bus ?? 0;
    const where = `host bridge ${domain.toString(16).padStart(4, '0')}:${hex2(bus)}`;
    if (this.hbs.some((h) => (h.opts.domain ?? 0) === domain && (h.opts.bus ?? 0) === bus)) {
      throw new TopologyBuildError(`${this.name}: ${where} declared twice`);
    }
    const root: BusNode = { fns: [], kind: 'root' };
    const rb = new RootBusBuilder(this.name, root, `the root bus of ${where}`, { domain, bus });
    if (opts.vendor !== undefined || opts.device !== undefined) {
      if (opts.vendor === undefined || opts.device === undefined) {
        throw new TopologyBuildError(`${this.name}: ${where}: give both vendor and device for its 00.0 function`);
      }
      const hostFn: EndpointOptions = { vendor: opts.vendor, device: opts.device, classCode: PCI_CLASS_HOST_BRIDGE, conventional: true };
      if (opts.revision !== undefined) hostFn.revision = opts.revision;
      if (opts.label !== undefined) hostFn.label = opts.label;
      rb.addHostDevice(hostFn);
    }
    body(rb);
    this.hbs.push({ opts, root });
    return this;
  }

  /**
   * Number the buses, emit the spec and validate it.
   * @returns a valid topology (a fresh object each call).
   * @throws TopologyBuildError when the description is inconsistent (a builder-usage bug), with
   *   the validation errors listed.
   * @kernel pci_scan_bridge_extend (the depth-first numbering it applies when firmware did not)
   */
  build(): TopologySpec {
    if (this.hbs.length === 0) throw new TopologyBuildError(`${this.name}: no host bridge declared`);
    const sorted = [...this.hbs].sort((a, b) => (a.opts.domain ?? 0) - (b.opts.domain ?? 0) || (a.opts.bus ?? 0) - (b.opts.bus ?? 0));
    const hostBridges: HostBridgeSpec[] = [];
    const devices: DeviceSpec[] = [];
    sorted.forEach((decl, i) => {
      const domain = decl.opts.domain ?? 0;
      const bus = decl.opts.bus ?? 0;
      const next = sorted[i + 1];
      const busEnd =
        decl.opts.busEnd ?? (next && (next.opts.domain ?? 0) === domain ? (next.opts.bus ?? 0) - 1 : PCI_MAX_BUS);
      const hb: HostBridgeSpec = { domain, bus, busEnd };
      if (decl.opts.memWindow) hb.memWindow = { ...decl.opts.memWindow };
      if (decl.opts.peerForwarding) hb.peerForwarding = decl.opts.peerForwarding;
      if (decl.opts.label !== undefined) hb.label = decl.opts.label;
      hostBridges.push(hb);
      const counter = { next: bus };
      this.numberBus(decl.root, domain, bus, busEnd, counter, devices);
    });
    // Each address parsed once, not once per comparison.
    const keyed = devices.map((d) => ({ d, addr: bdfOf(d) }));
    keyed.sort((a, b) => compareBdf(a.addr, b.addr));
    const spec: TopologySpec = { schema: TOPOLOGY_SCHEMA_V1, name: this.name, hostBridges, devices: keyed.map((k) => k.d) };
    if (this.desc !== undefined) spec.description = this.desc;
    if (this.cpuSpec) spec.cpu = { ...this.cpuSpec };
    if (this.iommuOn !== undefined) spec.iommu = this.iommuOn;
    if (this.ram) spec.systemRam = this.ram.map((r) => ({ ...r }));
    const result = validateTopologySpec(spec);
    if (!result.ok) throw new TopologyBuildError(formatTopologyErrors(result.errors, `topology '${this.name}' (builder)`));
    return result.spec;
  }

  /** Assign addresses on one bus, then number each bridge's subtree depth first, in devfn order. */
  private numberBus(
    node: BusNode,
    domain: number,
    bus: number,
    busEnd: number,
    counter: { next: number },
    out: DeviceSpec[],
  ): void {
    const fns = [...node.fns].sort((a, b) => devfn(a.slot, a.fn) - devfn(b.slot, b.fn));
    const taken = new Map<number, FnNode>(fns.map((f) => [devfn(f.slot, f.fn), f]));
    for (const f of fns) {
      f.ref.addr = { domain, bus, slot: f.slot, fn: f.fn };
      f.ref.vfs = [];
      f.ref.range = null;
      const spec = this.functionSpec(f, node.kind);
      if (f.below) {
        counter.next++;
        if (counter.next > busEnd) {
          throw new TopologyBuildError(`${this.name}: out of bus numbers at ${formatBdf(f.ref.addr)} (the host bridge ends at bus ${hex2(busEnd)})`);
        }
        const sec = counter.next;
        this.numberBus(f.below, domain, sec, busEnd, counter, out);
        spec.secondaryBus = sec;
        spec.subordinateBus = counter.next;
        f.ref.range = [sec, counter.next];
      }
      out.push(spec);
      const sriov = f.opts.sriov;
      if (sriov && sriov.vfs > 0) this.addVfs(f, spec, sriov, taken, out);
    }
  }

  private addVfs(pf: FnNode, pfSpec: DeviceSpec, sriov: SriovOptions, taken: Map<number, FnNode>, out: DeviceSpec[]): void {
    const offset = sriov.offset ?? 1;
    const stride = sriov.stride ?? 1;
    const base = devfn(pf.slot, pf.fn);
    const addr = pf.ref.addr!;
    for (let i = 0; i < sriov.vfs; i++) {
      const vfDevfn = base + offset + i * stride;
      if (vfDevfn > 0xff) {
        throw new TopologyBuildError(`${this.name}: VF ${i} of ${formatBdf(addr)} would be beyond devfn ff of its bus (offset ${offset}, stride ${stride})`);
      }
      const clash = taken.get(vfDevfn);
      if (clash) throw new TopologyBuildError(`${this.name}: VF ${i} of ${formatBdf(addr)} collides with ${clash.where}`);
      const vfAddr: Bdf = { domain: addr.domain, bus: addr.bus, slot: vfDevfn >> 3, fn: vfDevfn & PCI_MAX_FN };
      const vf: DeviceSpec = { bdf: formatBdf(vfAddr), headerType: 0, physfn: pfSpec.bdf };
      copyDefined(vf, pfSpec, ['vendor', 'subsystemVendor', 'subsystemDevice', 'classCode', 'revision', 'role', 'driver']);
      const device = sriov.vfDevice ?? pfSpec.device;
      if (device !== undefined) vf.device = device;
      if (pfSpec.label !== undefined) vf.label = `${pfSpec.label} (VF ${i})`;
      if (pfSpec.pcie) vf.pcie = { ...pfSpec.pcie };
      if (sriov.vfBars) vf.bars = sriov.vfBars.map((b) => ({ ...b }));
      out.push(vf);
      pf.ref.vfs.push(vf.bdf);
    }
  }

  private functionSpec(f: FnNode, busKind: BusNode['kind']): DeviceSpec {
    const o = f.opts;
    const d: DeviceSpec = { bdf: formatBdf(f.ref.addr!) };
    copyDefined(d, o, ['vendor', 'device', 'subsystemVendor', 'subsystemDevice', 'revision', 'label', 'driver', 'role']);
    const isBridge = f.below !== undefined;
    d.headerType = isBridge ? 1 : 0;
    const classCode = o.classCode ?? (isBridge ? PCI_CLASS_BRIDGE_PCI : o.role ? ROLE_CLASS_CODES[o.role] : undefined);
    if (classCode !== undefined) d.classCode = classCode;
    const portType = PORT_TYPE_OF_KIND[f.kind] ?? o.portType ?? (busKind === 'root' ? 'rc-endpoint' : 'endpoint');
    if (f.kind !== 'host' && !o.conventional) {
      const pcie: PcieSpec = { portType };
      if (o.link) [pcie.linkGen, pcie.linkWidth] = o.link;
      if (o.maxLink) [pcie.maxLinkGen, pcie.maxLinkWidth] = o.maxLink;
      if (o.mps !== undefined) pcie.mps = o.mps;
      d.pcie = pcie;
    }
    if (o.acs) {
      const acs: AcsSpec = { cap: copyBits(o.acs.cap), ctrl: copyBits(o.acs.ctrl ?? []) };
      d.acs = acs;
    }
    if (o.bars) d.bars = o.bars.map((b) => ({ ...b }));
    if (o.p2pmem) d.p2pmem = { ...o.p2pmem };
    if (o.nvme) d.nvme = o.nvme.cmb ? { cmb: { ...o.nvme.cmb, flags: [...o.nvme.cmb.flags] } } : {};
    return d;
  }
}

/** Port type of each builder kind (endpoints take theirs from options). */
const PORT_TYPE_OF_KIND: Readonly<Record<Kind, PciePortType | undefined>> = {
  host: undefined,
  'root-port': 'root-port',
  upstream: 'upstream-port',
  downstream: 'downstream-port',
  endpoint: undefined,
};

function copyBits(bits: AcsBitName[] | 'unknown'): AcsBitName[] | 'unknown' {
  return bits === 'unknown' ? 'unknown' : [...bits];
}

/** Copy the listed fields that are defined (same-named fields of two option/spec shapes). */
function copyDefined<K extends string>(to: { [P in K]?: unknown }, from: { [P in K]?: unknown }, keys: readonly K[]): void {
  for (const k of keys) if (from[k] !== undefined) to[k] = from[k];
}

function pick<T extends object, K extends keyof T & string>(from: T, keys: readonly K[]): Partial<T> {
  const out: Partial<T> = {};
  copyDefined(out as { [P in K]?: unknown }, from as { [P in K]?: unknown }, keys);
  return out;
}

function bdfOf(d: DeviceSpec): Bdf {
  const [dom, bus, rest] = d.bdf.split(':') as [string, string, string];
  const [slot, fn] = rest.split('.') as [string, string];
  return { domain: Number.parseInt(dom, 16), bus: Number.parseInt(bus, 16), slot: Number.parseInt(slot, 16), fn: Number(fn) };
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/**
 * Start describing a topology.
 * @param name the topology's name (also used in builder error messages).
 * @returns a builder; add host bridges, then call `build()`.
 */
export function topology(name: string): TopologyBuilder {
  return new TopologyBuilder(name);
}

/** Convenience BAR constructors for built-ins and tests. */
export const bar = {
  /** A 64-bit memory BAR at `index` (occupying `index` and `index + 1`). */
  mem64(index: number, size: number, prefetchable = false): BarSpec {
    return { index, size, kind: 'mem', is64: true, prefetchable };
  },
  /** A 32-bit memory BAR. */
  mem32(index: number, size: number, prefetchable = false): BarSpec {
    return { index, size, kind: 'mem', is64: false, prefetchable };
  },
  /** An I/O BAR. */
  io(index: number, size: number): BarSpec {
    return { index, size, kind: 'io' };
  },
} as const;
