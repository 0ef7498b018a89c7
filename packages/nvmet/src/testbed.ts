/**
 * One call for the headline setup: a machine (a built-in topology or a topology spec), its
 * ConnectX RNIC bound to the mlx5 model, its NVMe drives bound to the NVMe driver model, the
 * NVMe-oF target exporting one drive's namespace over RDMA with the P2P policy of the kernel,
 * and an initiator on a remote host connected to it.
 *
 * Placement of the I/O buffers:
 * - `'system'`: P2P off (`allow_p2pmem` 0 under v2, `p2pmem` 0 under upstream): System RAM.
 * - `'p2pmem'`: P2P on, with the p2pmem card registered and published (the drives' CMBs are
 *   switched off so the card is the only provider).
 * - `'cmb'`: P2P on, the exported drive's own CMB is the provider (its driver publishes it;
 *   the card stays unregistered).
 *
 * Everything is configured the way a user would: configfs writes for the target, the NVMe
 * driver for the drives, RDMA CM for the connection. Errors come back as `{ error }` naming the
 * step and the input.
 *
 * @kernel — (the model's builder for examples, the CLI and end-to-end tests)
 */
import type { Kconfig, P2pdmaPolicy } from '@p2pdma/kernel';
import { isErr, Kernel } from '@p2pdma/kernel';
import type { NvmeControllerConfig } from '@p2pdma/nvme-pci';
import { attachNvmeControllers, nvmeDevOf, nvmeInit } from '@p2pdma/nvme-pci';
import type { PciDev, PciSubsystem, TopologySpec } from '@p2pdma/pci-core';
import { enumerate, getBuiltin, kernelOptionsForTopology, pciRegisterDriver } from '@p2pdma/pci-core';
import { p2pdmaEnumerationHooks, pciP2pdmaAddResource, pciP2pmemPublish } from '@p2pdma/p2pdma';
import type { IbDevice } from '@p2pdma/rdma-rw';
import { mlx5CoreDriver, mlx5IbDevice, RemoteHost, rnicAttach, rxeAdd } from '@p2pdma/rdma-rw';
import { blkdevRegister } from './bdev';
import type { NvmetLeakCounts } from './leak-check';
import { nvmetLeakCountsRaw } from './leak-check';
import { nvmetConfigfsPath } from './configfs';
import { NvmfController, NvmfInitiator } from './initiator';
import { NVME_RDMA_IP_PORT, RdmaCmNetwork } from './rdma-cm';
import type { NvmetRdmaTransport } from './rdma';
import { nvmetRdmaInit } from './rdma';
import type { NvmetTarget } from './target';
import { nvmetInit } from './target';

/** Where the target's I/O buffers come from. */
export type NvmetPlacement = 'system' | 'p2pmem' | 'cmb';

/** The placements, in a fixed order. */
export const NVMET_PLACEMENTS: readonly NvmetPlacement[] = ['system', 'p2pmem', 'cmb'];

/** Options of `buildNvmetTestbed`. */
export interface NvmetTestbedOptions {
  /** A built-in topology name or a topology (default `seed-switch`). */
  readonly topology?: string | TopologySpec;
  /** The P2PDMA policy (default `upstream`). */
  readonly policy?: P2pdmaPolicy;
  /** Buffer placement (default `p2pmem`). */
  readonly placement?: NvmetPlacement;
  /** IOMMU on (default: as the kernel command line says, else off). */
  readonly iommu?: boolean;
  /** Kernel command line. */
  readonly cmdline?: string;
  /** Kconfig overrides. */
  readonly config?: Partial<Kconfig>;
  /** RNG seed. */
  readonly seed?: number;
  /** BDF of the RNIC (default: the first function with role `rnic`). */
  readonly rnic?: string;
  /**
   * The RDMA device: `'mlx5'` (default: the ConnectX model bound to the RNIC function) or
   * `'rxe'` (the software device with virtual DMA ops, on top of the RNIC function).
   */
  readonly rdmaDevice?: 'mlx5' | 'rxe';
  /** BDF of the exported NVMe drive (default: `cmb` the first with a CMB, else the first without). */
  readonly drive?: string;
  /** BDF of the p2pmem card (default: the first function with role `p2pmem`). */
  readonly card?: string;
  /** Namespace size in bytes (default 1 GiB). */
  readonly namespaceBytes?: number;
  /** Bytes of the card registered as p2pmem (default: its topology hint, else the whole BAR). */
  readonly p2pmemBytes?: number;
  /** Target address (default `192.168.0.1`). */
  readonly traddr?: string;
  /** Subsystem NQN (default `nqn.2018-02.org.p2pdma:testbed`). */
  readonly subsysnqn?: string;
  /** The remote host's memory in bytes (default 64 MiB). */
  readonly hostMemoryBytes?: number;
  /** I/O queues the initiator asks for (default 1). */
  readonly nrIoQueues?: number;
  /** I/O queue depth (default 128). */
  readonly queueSize?: number;
  /** Connect the initiator (default true). */
  readonly connect?: boolean;
  /** Virtual time the initiator waits for a command before reporting it lost (default 30 s). */
  readonly hostTimeoutNs?: number;
}

/** A built testbed. */
export interface NvmetTestbed {
  /** The target machine's kernel. */
  readonly kernel: Kernel;
  /** Its PCI subsystem (fabric counters: `sys.fabric.counters()`). */
  readonly sys: PciSubsystem;
  /** The target module. */
  readonly target: NvmetTarget;
  /** The RDMA transport. */
  readonly transport: NvmetRdmaTransport;
  /** The IP network. */
  readonly network: RdmaCmNetwork;
  /** The RNIC function. */
  readonly rnic: PciDev;
  /** The RDMA device (mlx5 or rxe). */
  readonly ibdev: IbDevice;
  /** The exported drive. */
  readonly drive: PciDev;
  /** The P2P provider the placement intends (`null` for `system`). */
  readonly provider: PciDev | null;
  /** The namespace's block device path. */
  readonly blockPath: string;
  /** The subsystem NQN. */
  readonly subsysnqn: string;
  /** Target address. */
  readonly traddr: string;
  /** The remote host. */
  readonly host: RemoteHost;
  /** The initiator. */
  readonly initiator: NvmfInitiator;
  /** The connected controller (`null` with `connect: false`). */
  readonly ctrl: NvmfController | null;
  /** The exported NSID (1). */
  readonly nsid: number;
  /** Outstanding resources before the initiator connected (`nvmetTestbedLeaks` subtracts them). */
  readonly leakBaseline: NvmetLeakCounts;
}

/** Why a testbed could not be built. */
export interface NvmetTestbedError {
  /** The step and the input at fault. */
  readonly error: string;
}

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function norm(bdf: string): string {
  return bdf.split(':').length === 2 ? `0000:${bdf}` : bdf;
}

/**
 * Builds and connects the headline setup.
 * @param opts machine, policy, placement and sizes.
 * @returns the testbed, or `{ error }` naming the step that failed.
 */
export function buildNvmetTestbed(opts: NvmetTestbedOptions = {}): NvmetTestbed | NvmetTestbedError {
  const placement = opts.placement ?? 'p2pmem';
  if (opts.hostTimeoutNs !== undefined && !(Number.isFinite(opts.hostTimeoutNs) && opts.hostTimeoutNs > 0)) {
    return { error: `hostTimeoutNs ${opts.hostTimeoutNs}: expected a positive number of nanoseconds` };
  }
  if (!(NVMET_PLACEMENTS as readonly string[]).includes(placement)) return { error: `placement '${placement}': expected one of ${NVMET_PLACEMENTS.join(', ')}` };
  const spec = typeof opts.topology === 'object' ? opts.topology : getBuiltin(opts.topology ?? 'seed-switch');
  if (spec === null) return { error: `topology '${String(opts.topology)}': no such built-in` };
  let kernel: Kernel;
  try {
    kernel = new Kernel({
      ...kernelOptionsForTopology(spec),
      policy: opts.policy ?? 'upstream',
      ...(opts.iommu !== undefined ? { iommu: opts.iommu } : {}),
      ...(opts.cmdline !== undefined ? { cmdline: opts.cmdline } : {}),
      ...(opts.config !== undefined ? { config: opts.config } : {}),
      ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    });
  } catch (e) {
    return { error: `kernel: ${(e as Error).message}` };
  }
  const sys = enumerate(kernel, spec, p2pdmaEnumerationHooks(kernel));
  if ('error' in sys) return { error: `topology: ${sys.error.message}` };
  const find = (bdf: string | undefined, pred: (d: PciDev) => boolean, what: string): PciDev | NvmetTestbedError => {
    const d = bdf !== undefined ? sys.findByBdf(norm(bdf)) : (sys.deviceList.find(pred) ?? null);
    return d ?? { error: `${what}: ${bdf === undefined ? 'none in the topology' : `no function ${bdf}`}` };
  };
  const rnic = find(opts.rnic, (d) => d.role === 'rnic', 'rnic');
  if ('error' in rnic) return rnic;
  const nvmes = sys.deviceList.filter((d) => d.role === 'nvme');
  const drive = find(opts.drive, (d) => d.role === 'nvme' && (placement === 'cmb') === (d.spec.nvme?.cmb !== undefined), 'drive');
  if ('error' in drive) return drive;
  if (!nvmes.includes(drive)) return { error: `drive: ${drive.name} is not an NVMe function` };

  let ibdev: IbDevice | null;
  if (opts.rdmaDevice === 'rxe') {
    const r = rxeAdd(kernel, { parent: rnic });
    if (isErr(r)) return { error: `rxe: rxeAdd failed (${r})` };
    ibdev = r;
  } else {
    if (isErr(rnicAttach(rnic))) return { error: `rnic: cannot attach the RNIC model to ${rnic.name}` };
    const mlx = pciRegisterDriver(kernel, mlx5CoreDriver());
    if (mlx !== 0) return { error: `rnic: mlx5_core registration failed (${mlx})` };
    ibdev = mlx5IbDevice(rnic);
    if (ibdev === null) return { error: `rnic: mlx5_core did not bind ${rnic.name} (see the kernel log)` };
  }

  const overrides: Record<string, NvmeControllerConfig> = {};
  for (const d of nvmes) {
    overrides[d.name] = {
      ...(d === drive ? { namespaces: [{ sizeBytes: opts.namespaceBytes ?? GiB }] } : {}),
      ...(placement === 'cmb' && d === drive ? {} : { cmb: null }),
    };
  }
  try {
    attachNvmeControllers(sys, overrides);
  } catch (e) {
    return { error: `drive: ${(e as Error).message}` };
  }
  const drv = nvmeInit(kernel);
  if (typeof drv === 'number') return { error: `drive: nvme driver registration failed (${drv})` };
  const ndev = nvmeDevOf(drive);
  const ns = ndev?.ctrl.namespaces.find((n) => n.nsid === 1);
  if (ndev === null || ns === undefined) return { error: `drive: the nvme driver did not bring up ${drive.name} namespace 1 (see the kernel log)` };
  const blockPath = `/dev/${ns.disk.diskName}`;
  if (blkdevRegister(kernel, ns.disk, ndev.ctrl.device, blockPath) !== 0) return { error: `drive: ${blockPath} exists already` };

  let provider: PciDev | null = null;
  if (placement !== 'cmb') {
    let card: PciDev | null = sys.deviceList.find((d) => d.role === 'p2pmem' && d.spec.p2pmem !== undefined) ?? null;
    if (opts.card !== undefined) {
      const c = find(opts.card, () => false, 'card');
      if ('error' in c) return c;
      card = c;
    }
    if (card === null && placement === 'p2pmem') return { error: 'card: no p2pmem card in the topology' };
    if (card !== null) {
      const hint = card.spec.p2pmem ?? { bar: 4 };
      const rc = pciP2pdmaAddResource(card, hint.bar, opts.p2pmemBytes ?? hint.size ?? 0, hint.offset ?? 0);
      if (rc !== 0) return { error: `card: pci_p2pdma_add_resource(${card.name}, BAR ${hint.bar}) failed (${rc})` };
      pciP2pmemPublish(card, true);
      if (placement === 'p2pmem') provider = card;
    }
  } else provider = drive;

  const target = nvmetInit(kernel);
  if (isErr(target)) return { error: `nvmet: module load failed (${target})` };
  const network = new RdmaCmNetwork();
  const traddr = opts.traddr ?? '192.168.0.1';
  if (network.addAddress(ibdev, traddr) !== 0) return { error: `traddr '${traddr}': cannot be configured on ${ibdev.name}` };
  const transport = nvmetRdmaInit(target, network);
  if (isErr(transport)) return { error: `nvmet-rdma: load failed (${transport})` };

  const nqn = opts.subsysnqn ?? 'nqn.2018-02.org.p2pdma:testbed';
  const root = nvmetConfigfsPath(target);
  const cfs = kernel.configfs;
  const p2pOn = placement !== 'system';
  const steps: [string, () => number][] = [
    [`mkdir subsystems/${nqn}`, () => cfs.mkdir(`${root}/subsystems/${nqn}`)],
    ['attr_allow_any_host', () => cfs.write(`${root}/subsystems/${nqn}/attr_allow_any_host`, '1\n')],
    ['mkdir namespaces/1', () => cfs.mkdir(`${root}/subsystems/${nqn}/namespaces/1`)],
    ['device_path', () => cfs.write(`${root}/subsystems/${nqn}/namespaces/1/device_path`, `${blockPath}\n`)],
  ];
  if (target.policy === 'upstream' && kernel.config.CONFIG_PCI_P2PDMA) {
    steps.push(['p2pmem', () => cfs.write(`${root}/subsystems/${nqn}/namespaces/1/p2pmem`, p2pOn ? '1\n' : '0\n')]);
  }
  steps.push(
    ['enable', () => cfs.write(`${root}/subsystems/${nqn}/namespaces/1/enable`, '1\n')],
    ['mkdir ports/1', () => cfs.mkdir(`${root}/ports/1`)],
    ['addr_trtype', () => cfs.write(`${root}/ports/1/addr_trtype`, 'rdma\n')],
    ['addr_adrfam', () => cfs.write(`${root}/ports/1/addr_adrfam`, 'ipv4\n')],
    ['addr_traddr', () => cfs.write(`${root}/ports/1/addr_traddr`, `${traddr}\n`)],
    ['addr_trsvcid', () => cfs.write(`${root}/ports/1/addr_trsvcid`, `${NVME_RDMA_IP_PORT}\n`)],
  );
  if (target.policy === 'v2' && kernel.config.CONFIG_PCI_P2PDMA) {
    steps.push(['allow_p2pmem', () => cfs.write(`${root}/ports/1/allow_p2pmem`, p2pOn ? '1\n' : '0\n')]);
  }
  steps.push(['link subsystem to port 1', () => cfs.symlink(`${root}/subsystems/${nqn}`, `${root}/ports/1/subsystems/${nqn}`)]);
  for (const [what, fn] of steps) {
    const r = fn();
    if (r < 0) return { error: `configfs ${what}: failed (${r})` };
  }

  const leakBaseline = nvmetLeakCountsRaw(kernel, transport, drive, provider, null);
  const host = new RemoteHost({ name: 'initiator', memoryBytes: opts.hostMemoryBytes ?? 64 * MiB });
  const initiator = new NvmfInitiator({ host, network, clock: kernel.clock, ...(opts.hostTimeoutNs !== undefined ? { timeoutNs: opts.hostTimeoutNs } : {}) });
  let ctrl: NvmfController | null = null;
  if (opts.connect !== false) {
    const c = initiator.connect({ traddr, subsysnqn: nqn, nrIoQueues: opts.nrIoQueues ?? 1, queueSize: opts.queueSize ?? 128 });
    if (!(c instanceof NvmfController)) return { error: `connect: ${c.error}` };
    ctrl = c;
  }
  return { kernel, sys, target, transport, network, rnic, ibdev, drive, provider, blockPath, subsysnqn: nqn, traddr, host, initiator, ctrl, nsid: 1, leakBaseline };
}
