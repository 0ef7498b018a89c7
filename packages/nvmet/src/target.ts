/**
 * The NVMe target module of one kernel (`nvmet.ko`): its subsystems, ports, hosts, registered
 * transports, controller ID allocator, and the rules of the kernel generation it models.
 *
 * `nvmetInit(kernel)` loads it: the configfs tree `/sys/kernel/config/nvmet/` appears with its
 * `subsystems/`, `ports/` and `hosts/` groups; everything else is created through configfs (or
 * nvmetcli, which writes configfs). The generation follows the kernel's P2PDMA policy:
 * `v2` = Linux 4.16 with the seed series (patch 10: per-port `allow_p2pmem`, per-controller
 * p2pmem and client lists), `upstream` = Linux 6.6 (per-namespace `p2pmem`, per-namespace P2P
 * device per controller). `NVMET_RULES` holds the differences that are values rather than code.
 *
 * @kernel drivers/nvme/target/core.c (nvmet_init, nvmet_exit, cntlid_ida, nvmet_transports),
 *   drivers/nvme/target/nvmet.h
 */
import type { Kernel, KResult, LogLevel, NegErrno, P2pdmaPolicy } from '@p2pdma/kernel';
import { err, KERN_DEBUG, KERN_INFO, kstrtobool, strtobool2018 } from '@p2pdma/kernel';
import { nvmetInitConfigfs, nvmetExitConfigfs } from './configfs';
import { Ida } from './internal/ida';
import { NVME_CMD_SGL_METABUF, NVME_CMD_SGL_METASEG } from './nvme-command';
import {
  NVMF_ADDR_FAMILY_FC,
  NVMF_ADDR_FAMILY_IB,
  NVMF_ADDR_FAMILY_IP4,
  NVMF_ADDR_FAMILY_IP6,
  NVMF_ADDR_FAMILY_LOOP,
  NVMF_ADDR_FAMILY_PCI,
  NVMF_TRTYPE_FC,
  NVMF_TRTYPE_LOOP,
  NVMF_TRTYPE_RDMA,
  NVMF_TRTYPE_TCP,
} from './nvme-fabrics';
import type { NvmetPort } from './port';
import type { NvmetHost, NvmetSubsys } from './subsys';
import type { NvmetFabricsOps } from './transport';

/** A code with its configfs name (`{ code: 1, name: 'rdma' }`). */
export interface NamedCode {
  /** The protocol value. */
  readonly code: number;
  /** The text configfs shows and accepts. */
  readonly name: string;
}

/** What differs between the two kernel generations, as values. */
export interface NvmetRules {
  /** The kernel the rules describe. */
  readonly kernel: string;
  /** Identify Controller firmware revision (the kernel's `UTS_RELEASE`). */
  readonly firmwareRevision: string;
  /** I/O queues a controller may have (`NVMET_NR_QUEUES`). */
  readonly maxQid: number;
  /** The boolean parser of configfs stores (`strtobool` of 4.16, `kstrtobool` of 6.6). */
  readonly parseBool: (s: string) => boolean | NegErrno;
  /** `addr_trtype` values. @kernel nvmet_transport_names / nvmet_transport[] */
  readonly trtypes: readonly NamedCode[];
  /** `addr_adrfam` values. @kernel nvmet_addr_family[] */
  readonly adrfams: readonly NamedCode[];
  /** Namespace changes are reported through the Changed Namespace List log page (4.18+). */
  readonly changedNsLog: boolean;
  /** Completions carry the real SQ head pointer (4.16 always sends 0). */
  readonly sqHeadTracking: boolean;
  /** A keep-alive timeout of 0 disables the timer (5.9+); in 4.16 it fires at once. */
  readonly katoZeroDisablesTimer: boolean;
  /** Identify Namespace of an inactive NSID: `INVALID_NS` (4.16) or zeroed data (6.6). */
  readonly identifyInactiveNs: 'invalid-ns' | 'zeroed';
  /** The port has `param_inline_data_size` (4.19+). */
  readonly inlineDataSizeParam: boolean;
  /** Subsystem serial: a u64 shown as `%llx` (4.16) or a 20-character string (6.6). */
  readonly serial: 'u64' | 'string';
  /** Any command received resets the keep-alive timer (traffic-based keep-alive, 5.x+). */
  readonly trafficBasedKeepAlive: boolean;
  /** The line a new controller is announced with. @kernel nvmet_execute_admin_connect (4.16) / nvmet_alloc_ctrl (6.6) */
  readonly creatingCtrlMessage: (cntlid: number, subsysnqn: string, hostnqn: string) => string;
  /** Level of the `adding queue %d to ctrl %d.` line (`pr_info` in 4.16, `pr_debug` in 6.6). */
  readonly addingQueueLevel: LogLevel;
  /** Unknown log pages and Identify CNS values: 4.16 ends in `unhandled cmd` (`INVALID_OPCODE`), 6.6 answers `INVALID_FIELD`. */
  readonly unknownAdminSelector: 'unhandled-cmd' | 'invalid-field';
  /** Identify Controller locks the subsystem's version and serial (6.6 `subsys_discovered`). */
  readonly identifyLocksIdentity: boolean;
  /** Set Features (Keep Alive Timer) re-arms the timer (6.6). */
  readonly setKatoRearmsTimer: boolean;
  /** Set/Get Features (Asynchronous Event Configuration) are served (4.18+). */
  readonly asyncEventConfig: boolean;
  /** The lines a store to an enabled port's address prints. */
  readonly portEnabledRefusal: (portid: number, attr: string) => readonly string[];
  /** Where the P2P switch lives in configfs (with `CONFIG_PCI_P2PDMA`): the seed's port `allow_p2pmem` or 6.6's namespace `p2pmem`. */
  readonly p2pAttribute: 'port' | 'namespace';
  /** `mkdir` of namespace 0 or 0xffffffff prints `invalid nsid` (6.6). */
  readonly reportsInvalidNsid: boolean;
  /** Most enabled namespaces per subsystem (`-EMFILE` beyond; 6.6), or `null` for no limit (4.16). */
  readonly maxNamespaces: number | null;
  /** When a disabled namespace's P2P state goes: after its I/O drained (4.16 + seed) or at once (6.6). */
  readonly nsDisableP2pDrop: 'after-drain' | 'at-once';
  /** Block status → NVMe status: every error `INTERNAL|DNR` (4.16) or `blk_to_nvme_status` (6.6). */
  readonly blkStatusMap: 'all-internal' | 'blk-to-nvme-status';
  /** Command PSDT values accepted (4.16: SGL with metadata buffer or segment; 6.6: buffer only). */
  readonly sglPsdt: readonly number[];
  /** Unlinking a subsystem from a port, or removing it, deletes its controllers (`nvmet_port_del_ctrls`, `nvmet_subsys_del_ctrls`, 5.x+); 4.16 leaves them until their host goes. */
  readonly delCtrlsOnRemoval: boolean;
}

/**
 * The rules per policy.
 * @kernel drivers/nvme/target of Linux 4.16 (+ seed patch 10) and of Linux 6.6
 */
export const NVMET_RULES: Readonly<Record<P2pdmaPolicy, NvmetRules>> = {
  v2: {
    kernel: 'Linux 4.16 + seed v2 patch 10',
    firmwareRevision: '4.16.0',
    maxQid: 64,
    parseBool: strtobool2018,
    trtypes: [
      { code: NVMF_TRTYPE_RDMA, name: 'rdma' },
      { code: NVMF_TRTYPE_FC, name: 'fc' },
      { code: NVMF_TRTYPE_LOOP, name: 'loop' },
    ],
    adrfams: [
      { code: NVMF_ADDR_FAMILY_IP4, name: 'ipv4' },
      { code: NVMF_ADDR_FAMILY_IP6, name: 'ipv6' },
      { code: NVMF_ADDR_FAMILY_IB, name: 'ib' },
      { code: NVMF_ADDR_FAMILY_FC, name: 'fc' },
    ],
    changedNsLog: false,
    sqHeadTracking: false,
    katoZeroDisablesTimer: false,
    identifyInactiveNs: 'invalid-ns',
    inlineDataSizeParam: false,
    serial: 'u64',
    unknownAdminSelector: 'unhandled-cmd',
    identifyLocksIdentity: false,
    setKatoRearmsTimer: false,
    asyncEventConfig: false,
    portEnabledRefusal: () => ['nvmet: Cannot modify address while enabled', 'nvmet: Disable the address before modifying'],
    p2pAttribute: 'port',
    reportsInvalidNsid: false,
    maxNamespaces: null,
    nsDisableP2pDrop: 'after-drain',
    blkStatusMap: 'all-internal',
    trafficBasedKeepAlive: false,
    creatingCtrlMessage: (cntlid, subsysnqn, hostnqn) => `nvmet: creating controller ${cntlid} for subsystem ${subsysnqn} for NQN ${hostnqn}.`,
    addingQueueLevel: KERN_INFO,
    sglPsdt: [NVME_CMD_SGL_METABUF, NVME_CMD_SGL_METASEG],
    delCtrlsOnRemoval: false,
  },
  upstream: {
    kernel: 'Linux 6.6',
    firmwareRevision: '6.6.0',
    maxQid: 128,
    parseBool: kstrtobool,
    trtypes: [
      { code: NVMF_TRTYPE_RDMA, name: 'rdma' },
      { code: NVMF_TRTYPE_FC, name: 'fc' },
      { code: NVMF_TRTYPE_TCP, name: 'tcp' },
      { code: NVMF_TRTYPE_LOOP, name: 'loop' },
    ],
    adrfams: [
      { code: NVMF_ADDR_FAMILY_PCI, name: 'pcie' },
      { code: NVMF_ADDR_FAMILY_IP4, name: 'ipv4' },
      { code: NVMF_ADDR_FAMILY_IP6, name: 'ipv6' },
      { code: NVMF_ADDR_FAMILY_IB, name: 'ib' },
      { code: NVMF_ADDR_FAMILY_FC, name: 'fc' },
      { code: NVMF_ADDR_FAMILY_LOOP, name: 'loop' },
    ],
    changedNsLog: true,
    sqHeadTracking: true,
    katoZeroDisablesTimer: true,
    identifyInactiveNs: 'zeroed',
    inlineDataSizeParam: true,
    serial: 'string',
    unknownAdminSelector: 'invalid-field',
    identifyLocksIdentity: true,
    setKatoRearmsTimer: true,
    asyncEventConfig: true,
    portEnabledRefusal: (portid, attr) => [`nvmet: Disable port '${portid}' before changing attribute in nvmet_${attr}_store`],
    p2pAttribute: 'namespace',
    reportsInvalidNsid: true,
    maxNamespaces: 1024,
    nsDisableP2pDrop: 'at-once',
    blkStatusMap: 'blk-to-nvme-status',
    trafficBasedKeepAlive: true,
    creatingCtrlMessage: (cntlid, subsysnqn, hostnqn) => `nvmet: creating nvm controller ${cntlid} for subsystem ${subsysnqn} for NQN ${hostnqn}.`,
    addingQueueLevel: KERN_DEBUG,
    sglPsdt: [NVME_CMD_SGL_METABUF],
    delCtrlsOnRemoval: true,
  },
};

/**
 * The target module of one kernel.
 * @kernel the nvmet module's globals
 */
export class NvmetTarget {
  /** The kernel. */
  readonly kernel: Kernel;
  /** The generation's rules (from the kernel's P2PDMA policy). */
  readonly rules: NvmetRules;
  /** Subsystems by NQN (configfs `subsystems/`). */
  readonly subsystems = new Map<string, NvmetSubsys>();
  /** Ports by port ID (configfs `ports/`). */
  readonly ports = new Map<number, NvmetPort>();
  /** Hosts by NQN (configfs `hosts/`). */
  readonly hosts = new Map<string, NvmetHost>();
  /** Registered transports by `NVMF_TRTYPE_*`. @kernel nvmet_transports[] */
  readonly transports = new Map<number, NvmetFabricsOps>();
  /** Controller IDs in use. @kernel cntlid_ida */
  readonly cntlidIda = new Ida();
  /** Bumped on every port/subsystem/host link change (discovery log generation). @kernel nvmet_genctr */
  genctr = 0;

  /** @param kernel the kernel. @internal use `nvmetInit`. */
  constructor(kernel: Kernel) {
    this.kernel = kernel;
    this.rules = NVMET_RULES[kernel.policy];
  }

  /** The kernel's P2PDMA policy (which generation the target runs). */
  get policy(): P2pdmaPolicy {
    return this.kernel.policy;
  }
}

const targets = new WeakMap<Kernel, NvmetTarget>();

/**
 * Loads the target module: creates its state and its configfs tree.
 * @param kernel the kernel.
 * @returns the target, or `-EEXIST` when it is loaded already.
 * @kernel nvmet_init / nvmet_init_configfs
 */
export function nvmetInit(kernel: Kernel): NvmetTarget | NegErrno {
  if (targets.has(kernel)) return err('EEXIST');
  const t = new NvmetTarget(kernel);
  const rc = nvmetInitConfigfs(t);
  if (rc !== 0) return rc;
  targets.set(kernel, t);
  return t;
}

/**
 * Unloads the target module. Every subsystem, port and host must be gone (as `rmmod` refuses a
 * busy module).
 * @param target the target.
 * @returns `0`, or `-EBUSY` while configuration remains.
 * @kernel nvmet_exit
 */
export function nvmetExit(target: NvmetTarget): KResult {
  if (target.subsystems.size + target.ports.size + target.hosts.size > 0) return err('EBUSY');
  nvmetExitConfigfs(target);
  targets.delete(target.kernel);
  return 0;
}

/**
 * The loaded target of a kernel.
 * @param kernel the kernel.
 * @returns the target, or `null` when the module is not loaded.
 */
export function nvmetTarget(kernel: Kernel): NvmetTarget | null {
  return targets.get(kernel) ?? null;
}
