/**
 * Subsystems and hosts: an NVM subsystem (identified by its NQN) holds namespaces and the
 * controllers hosts create on it; `allow_any_host` or the `allowed_hosts` links decide which
 * host NQNs may connect.
 *
 * @kernel drivers/nvme/target/nvmet.h (struct nvmet_subsys, struct nvmet_host), core.c
 *   (nvmet_subsys_alloc, nvmet_subsys_del_ctrls, nvmet_host_allowed, nvmet_find_get_subsys)
 */
import type { NvmetCtrl } from './ctrl';
import type { NvmetNs } from './ns';
import type { NvmetPort } from './port';
import type { NvmetTarget } from './target';

/** Subsystem type: discovery. @kernel NVME_NQN_DISC */
export const NVME_NQN_DISC = 1;
/** Subsystem type: NVM. @kernel NVME_NQN_NVME */
export const NVME_NQN_NVME = 2;

/**
 * An NVMe version value.
 * @param major major version.
 * @param minor minor version.
 * @param tertiary tertiary version.
 * @returns `major << 16 | minor << 8 | tertiary`.
 * @kernel NVME_VS
 */
export function nvmeVs(major: number, minor: number, tertiary = 0): number {
  return (major << 16) | (minor << 8) | tertiary;
}

/** The version a new subsystem reports. @kernel NVMET_DEFAULT_VS */
export const NVMET_DEFAULT_VS = nvmeVs(1, 3, 0);

/**
 * A host NQN known to the target (configfs `hosts/<nqn>`).
 * @kernel struct nvmet_host
 */
export class NvmetHost {
  /** @param hostnqn the host NQN. */
  constructor(readonly hostnqn: string) {}
}

/**
 * A subsystem.
 * @kernel struct nvmet_subsys
 */
export class NvmetSubsys {
  /** The target. */
  readonly target: NvmetTarget;
  /** The NQN. @kernel subsysnqn */
  readonly subsysnqn: string;
  /** `NVME_NQN_NVME` (discovery subsystems are not modelled). */
  readonly type = NVME_NQN_NVME;
  /** Whether any host may connect. @kernel allow_any_host */
  allowAnyHost = false;
  /** Reported version. @kernel ver */
  ver = NVMET_DEFAULT_VS;
  /** 4.16: the serial number as a u64. @kernel nvmet_subsys.serial (u64) */
  serialU64 = 0n;
  /** 6.6: the serial number string (up to 20 characters). @kernel nvmet_subsys.serial (char[]) */
  serial = '';
  /** 6.6: a host has read Identify Controller; version and serial are then fixed. @kernel subsys_discovered */
  discovered = false;
  /** Highest I/O queue ID. @kernel max_qid */
  readonly maxQid: number;
  /** Highest NSID ever enabled (4.16 never lowers it; 6.6 recomputes on disable). @kernel max_nsid */
  maxNsid = 0;
  /** Enabled namespaces, sorted by NSID. @kernel subsys->namespaces */
  readonly namespaces: NvmetNs[] = [];
  /** Every namespace item (enabled or not) by NSID (configfs `namespaces/`). */
  readonly nsItems = new Map<number, NvmetNs>();
  /** Live controllers, in creation order. @kernel subsys->ctrls */
  readonly ctrls: NvmetCtrl[] = [];
  /** Allowed hosts (the `allowed_hosts/` links). @kernel subsys->hosts */
  readonly hosts: NvmetHost[] = [];

  /**
   * @param target the target.
   * @param subsysnqn the NQN.
   * @internal use `nvmetSubsysAlloc`.
   */
  constructor(target: NvmetTarget, subsysnqn: string) {
    this.target = target;
    this.subsysnqn = subsysnqn;
    this.maxQid = target.rules.maxQid;
  }
}

/**
 * Creates a subsystem with a random serial number (from the kernel's seeded RNG).
 * @param target the target.
 * @param subsysnqn the NQN.
 * @returns the subsystem (not yet registered with the target).
 * @kernel nvmet_subsys_alloc
 */
export function nvmetSubsysAlloc(target: NvmetTarget, subsysnqn: string): NvmetSubsys {
  const s = new NvmetSubsys(target, subsysnqn);
  const rng = target.kernel.rng;
  const lo = rng.u32();
  const hi = rng.u32();
  s.serialU64 = (BigInt(hi) << 32n) | BigInt(lo);
  s.serial = leHex(s.serialU64);
  return s;
}

/**
 * The bytes of a u64 in memory order (little endian), as lowercase hex: what `bin2hex` makes of
 * the serial number.
 * @param v the value.
 * @returns 16 hex digits.
 * @kernel bin2hex(&serial, sizeof(u64))
 */
export function leHex(v: bigint): string {
  let out = '';
  for (let i = 0; i < 8; i++) out += Number((v >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0');
  return out;
}

/**
 * Deletes every controller of a subsystem (the subsystem is going away).
 * @param subsys the subsystem.
 * @kernel nvmet_subsys_del_ctrls
 */
export function nvmetSubsysDelCtrls(subsys: NvmetSubsys): void {
  for (const ctrl of [...subsys.ctrls]) ctrl.ops.deleteCtrl(ctrl);
}

/**
 * Whether a host may connect to a subsystem.
 * @param subsys the subsystem.
 * @param hostnqn the connecting host's NQN.
 * @returns `true` when `allow_any_host` is set or the host is linked in `allowed_hosts/`.
 * @kernel nvmet_host_allowed
 */
export function nvmetHostAllowed(subsys: NvmetSubsys, hostnqn: string): boolean {
  if (subsys.allowAnyHost) return true;
  return subsys.hosts.some((h) => h.hostnqn === hostnqn);
}

/**
 * Finds the subsystem a Connect names, among those linked to the port it arrived on.
 * @param port the port (`null` when the queue has none).
 * @param subsysnqn the NQN from the Connect data.
 * @returns the subsystem, or `null` (not linked to this port, unknown, or the discovery NQN,
 *   which the model does not serve).
 * @kernel nvmet_find_get_subsys
 */
export function nvmetFindGetSubsys(port: NvmetPort | null, subsysnqn: string): NvmetSubsys | null {
  if (port === null) return null;
  return port.subsystems.find((s) => s.subsysnqn === subsysnqn) ?? null;
}
