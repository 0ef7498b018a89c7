/**
 * The target's configfs tree, `/sys/kernel/config/nvmet/`, with the kernel's directory and
 * attribute names and store rules:
 *
 * ```
 * nvmet/
 *   hosts/<hostnqn>/
 *   ports/<portid>/  addr_adrfam addr_traddr addr_treq addr_trsvcid addr_trtype
 *                    allow_p2pmem            (v2 = seed patch 10, with CONFIG_PCI_P2PDMA)
 *                    param_inline_data_size  (upstream)
 *                    subsystems/<nqn> -> ../../../subsystems/<nqn>   referrals/
 *   subsystems/<nqn>/ attr_allow_any_host attr_serial attr_version
 *                     allowed_hosts/<hostnqn> -> ../../../hosts/<hostnqn>
 *                     namespaces/<nsid>/ device_path device_nguid device_uuid enable
 *                                        p2pmem  (upstream, with CONFIG_PCI_P2PDMA)
 * ```
 *
 * Stores return the kernel's errnos and print its lines (`nvmet: Invalid value '…' for trtype`,
 * `Cannot modify address while enabled`, `Can't set allow_any_host when explicit hosts are
 * set!`, ...). Values written keep their newline, as `echo` sends them; messages that print the
 * written value print it with its newline, as the kernel does. Booleans use the generation's
 * parser (`strtobool` of 4.16 for `v2`: `y Y 1 n N 0 on off`; `kstrtobool` of 6.6 also takes
 * `t T f F`).
 *
 * Not modelled: referrals (`mkdir` in `referrals/` is refused with `-EPERM`), ANA groups, the
 * discovery subsystem, 6.6's `attr_model`, `attr_cntlid_min/max`, `attr_qid_max`, `addr_tsas`,
 * `buffered_io`, `revalidate_size`, authentication attributes.
 *
 * @kernel drivers/nvme/target/configfs.c
 */
import type { ConfigAttribute, ConfigItemType, KResult, NegErrno } from '@p2pdma/kernel';
import { ConfigGroup, type ConfigItem, err, isErr, kstrtoll, kstrtoull } from '@p2pdma/kernel';
import { nvmetNsAlloc, nvmetNsDisable, nvmetNsEnable, nvmetNsFree, type NvmetNs } from './ns';
import { NVMF_TRADDR_SIZE, NVMF_TRSVCID_SIZE, NVMF_TREQ_NOT_REQUIRED, NVMF_TREQ_NOT_SPECIFIED, NVMF_TREQ_REQUIRED, NVME_DISC_SUBSYS_NAME } from './nvme-fabrics';
import { pciP2pdmaEnableShow, pciP2pdmaEnableStore } from './pci-p2pdma-enable';
import { NvmetPort, nvmetDisablePort, nvmetEnablePort, nvmetPortDelCtrls } from './port';
import { NvmetHost, type NvmetSubsys, nvmetSubsysAlloc, nvmetSubsysDelCtrls, nvmeVs } from './subsys';
import type { NamedCode, NvmetTarget } from './target';

const INT_MAX = 0x7fffffffn;
const INT_MIN = -0x80000000n;

/** The name of the target's configfs subsystem. */
export const NVMET_CONFIGFS_NAME = 'nvmet';
/** Longest serial number (6.6). @kernel NVMET_SN_MAX_SIZE */
export const NVMET_SN_MAX_SIZE = 20;

/** `addr_treq` values. @kernel nvmet_addr_treq[] */
export const NVMET_TREQ_NAMES: readonly NamedCode[] = [
  { code: NVMF_TREQ_NOT_SPECIFIED, name: 'not specified' },
  { code: NVMF_TREQ_REQUIRED, name: 'required' },
  { code: NVMF_TREQ_NOT_REQUIRED, name: 'not required' },
];

/** The item types of one target's tree (built from its rules). */
export interface NvmetConfigfsTypes {
  /** `nvmet/` */
  readonly root: ConfigItemType;
  /** `subsystems/` */
  readonly subsystems: ConfigItemType;
  /** `subsystems/<nqn>/` */
  readonly subsys: ConfigItemType;
  /** `subsystems/<nqn>/namespaces/` */
  readonly namespaces: ConfigItemType;
  /** `subsystems/<nqn>/namespaces/<nsid>/` */
  readonly ns: ConfigItemType;
  /** `subsystems/<nqn>/allowed_hosts/` */
  readonly allowedHosts: ConfigItemType;
  /** `ports/` */
  readonly ports: ConfigItemType;
  /** `ports/<id>/` */
  readonly port: ConfigItemType;
  /** `ports/<id>/subsystems/` */
  readonly portSubsystems: ConfigItemType;
  /** `ports/<id>/referrals/` */
  readonly referrals: ConfigItemType;
  /** `hosts/` */
  readonly hosts: ConfigItemType;
  /** `hosts/<nqn>/` */
  readonly host: ConfigItemType;
}

interface TreeState {
  readonly types: NvmetConfigfsTypes;
  readonly root: ConfigGroup;
}

const trees = new WeakMap<NvmetTarget, TreeState>();

/** `sysfs_streq`. */
function streq(a: string, b: string): boolean {
  const strip = (s: string) => (s.endsWith('\n') ? s.slice(0, -1) : s);
  return strip(a) === strip(b);
}

/** The first whitespace-delimited token, as `sscanf(page, "%s\n", buf)` takes it. */
function firstToken(page: string): string | null {
  const m = /^\s*(\S+)/.exec(page);
  return m === null ? null : m[1]!;
}

/** `%pUb`: 16 bytes as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
export function formatUuid(b: Uint8Array): string {
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Parses a UUID as `uuid_parse` does: 36 characters, dashes at 8, 13, 18, 23, hex elsewhere
 * (anything after the 36th character is ignored).
 * @param s the text.
 * @returns the 16 bytes, or `null`.
 * @kernel uuid_parse
 */
export function parseUuid(s: string): Uint8Array | null {
  if (s.length < 36) return null;
  for (let i = 0; i < 36; i++) {
    const c = s.charAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== '-') return null;
    } else if (!/[0-9a-fA-F]/.test(c)) return null;
  }
  const hex = s.slice(0, 36).replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The 4.16 NGUID store: 16 hex pairs, each optionally followed by `-` or `:`. */
function parseNguid(page: string): Uint8Array | null {
  const out = new Uint8Array(16);
  let p = 0;
  for (let i = 0; i < 16; i++) {
    if (p + 2 > page.length) return null;
    const pair = page.slice(p, p + 2);
    if (!/^[0-9a-fA-F]{2}$/.test(pair)) return null;
    out[i] = Number.parseInt(pair, 16);
    p += 2;
    if (page.charAt(p) === '-' || page.charAt(p) === ':') p++;
  }
  return out;
}

/** `sscanf(page, "%llx\n", &v)`: leading whitespace, optional `0x`, hex digits. */
function scanHex(page: string): bigint | null {
  const m = /^\s*(?:0[xX])?([0-9a-fA-F]+)/.exec(page);
  if (m === null) return null;
  return BigInt(`0x${m[1]!}`) & 0xffffffffffffffffn;
}

/** `sscanf(page, "%d.%d.%d\n", ...)`: the number of conversions and the values. */
function scanVersion(page: string): number[] {
  const m = /^\s*([+-]?\d+)(?:\.([+-]?\d+)(?:\.([+-]?\d+))?)?/.exec(page);
  if (m === null) return [];
  return [m[1], m[2], m[3]].filter((x): x is string => x !== undefined).map((x) => Number.parseInt(x, 10));
}

function portOf(item: ConfigItem): NvmetPort {
  return item.data as NvmetPort;
}
function subsysOf(item: ConfigItem): NvmetSubsys {
  return item.data as NvmetSubsys;
}
function nsOf(item: ConfigItem): NvmetNs {
  return item.data as NvmetNs;
}

/** The port-enabled refusal of an address store: the generation's lines and `-EACCES`. */
function portEnabled(port: NvmetPort, attr: string): NegErrno | null {
  if (!port.enabled) return null;
  const log = port.target.kernel.log;
  for (const line of port.target.rules.portEnabledRefusal(port.portid, attr)) log.prErr(line);
  return err('EACCES');
}

function namedAttr(name: string, table: (port: NvmetPort) => readonly NamedCode[], get: (p: NvmetPort) => number, set: (p: NvmetPort, v: number) => void, what: string): ConfigAttribute {
  return {
    name,
    show: (item) => {
      const p = portOf(item);
      const e = table(p).find((x) => x.code === get(p));
      return e === undefined ? '\n' : `${e.name}\n`;
    },
    store: (item, page) => {
      const p = portOf(item);
      const busy = portEnabled(p, name);
      if (busy !== null) return busy;
      const e = table(p).find((x) => streq(page, x.name));
      if (e === undefined) {
        p.target.kernel.log.prErr(`nvmet: Invalid value '${page}' for ${what}`);
        return err('EINVAL');
      }
      set(p, e.code);
      return page.length;
    },
  };
}

function stringAttr(name: string, max: number, get: (p: NvmetPort) => string, set: (p: NvmetPort, v: string) => void, what: string): ConfigAttribute {
  return {
    name,
    show: (item) => `${get(portOf(item))}\n`,
    store: (item, page) => {
      const p = portOf(item);
      if (page.length > max) {
        p.target.kernel.log.prErr(`nvmet: Invalid value '${page}' for ${what}`);
        return err('EINVAL');
      }
      const busy = portEnabled(p, name);
      if (busy !== null) return busy;
      const tok = firstToken(page);
      if (tok === null) return err('EINVAL');
      set(p, tok);
      return page.length;
    },
  };
}

function buildPortAttrs(t: NvmetTarget): ConfigAttribute[] {
  const attrs: ConfigAttribute[] = [
    namedAttr('addr_adrfam', (p) => p.target.rules.adrfams, (p) => p.adrfam, (p, v) => (p.adrfam = v), 'adrfam'),
    namedAttr('addr_treq', () => NVMET_TREQ_NAMES, (p) => p.treq, (p, v) => (p.treq = v), 'treq'),
    stringAttr('addr_traddr', NVMF_TRADDR_SIZE, (p) => p.traddr, (p, v) => (p.traddr = v), 'traddr'),
    stringAttr('addr_trsvcid', NVMF_TRSVCID_SIZE, (p) => p.trsvcid, (p, v) => (p.trsvcid = v), 'trsvcid'),
    namedAttr('addr_trtype', (p) => p.target.rules.trtypes, (p) => p.trtype, (p, v) => (p.trtype = v), 'trtype'),
  ];
  if (t.rules.p2pAttribute === 'port' && t.kernel.config.CONFIG_PCI_P2PDMA) {
    attrs.push({
      name: 'allow_p2pmem',
      show: (item) => `${portOf(item).allowP2pmem ? 1 : 0}\n`,
      store: (item, page) => {
        const p = portOf(item);
        const v = p.target.rules.parseBool(page);
        if (isErr(v)) return v;
        p.allowP2pmem = v;
        return page.length;
      },
    });
  }
  if (t.rules.inlineDataSizeParam) {
    attrs.push({
      name: 'param_inline_data_size',
      show: (item) => `${portOf(item).inlineDataSize}\n`,
      store: (item, page) => {
        const p = portOf(item);
        const busy = portEnabled(p, 'param_inline_data_size');
        if (busy !== null) return busy;
        // kstrtoint: the value is signed, so -1 (the transport's default) is a value, not -EPERM.
        const v = kstrtoll(page);
        if (typeof v !== 'bigint' || v > INT_MAX || v < INT_MIN) {
          p.target.kernel.log.prErr(`nvmet: Invalid value '${page}' for inline_data_size`);
          return err('EINVAL');
        }
        p.inlineDataSize = Number(v);
        return page.length;
      },
    });
  }
  return attrs.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function buildSubsysAttrs(): ConfigAttribute[] {
  return [
    {
      name: 'attr_allow_any_host',
      show: (item) => `${subsysOf(item).allowAnyHost ? 1 : 0}\n`,
      store: (item, page) => {
        const s = subsysOf(item);
        const v = s.target.rules.parseBool(page);
        if (isErr(v)) return err('EINVAL');
        if (v && s.hosts.length > 0) {
          s.target.kernel.log.prErr("nvmet: Can't set allow_any_host when explicit hosts are set!");
          return err('EINVAL');
        }
        s.allowAnyHost = v;
        return page.length;
      },
    },
    {
      name: 'attr_serial',
      show: (item) => {
        const s = subsysOf(item);
        return s.target.rules.serial === 'u64' ? `${s.serialU64.toString(16)}\n` : `${s.serial.slice(0, NVMET_SN_MAX_SIZE)}\n`;
      },
      store: (item, page) => {
        const s = subsysOf(item);
        const log = s.target.kernel.log;
        if (s.target.rules.serial === 'u64') {
          const v = scanHex(page);
          if (v === null) return err('EINVAL');
          s.serialU64 = v;
          return page.length;
        }
        if (s.discovered) {
          log.prErr(`nvmet: Can't set serial number. ${s.serial} is already assigned`);
          return err('EINVAL');
        }
        const nl = page.indexOf('\n');
        const sn = nl < 0 ? page : page.slice(0, nl);
        if (sn.length === 0 || sn.length > NVMET_SN_MAX_SIZE) {
          log.prErr(`nvmet: Serial Number can not be empty or exceed ${NVMET_SN_MAX_SIZE} Bytes`);
          return err('EINVAL');
        }
        if (!/^[\x20-\x7e]*$/.test(sn)) {
          log.prErr('nvmet: Serial Number must contain only ASCII strings');
          return err('EINVAL');
        }
        s.serial = sn;
        return page.length;
      },
    },
    {
      name: 'attr_version',
      show: (item) => {
        const v = subsysOf(item).ver;
        const [maj, min, ter] = [v >>> 16, (v >>> 8) & 0xff, v & 0xff];
        return ter !== 0 ? `${maj}.${min}.${ter}\n` : `${maj}.${min}\n`;
      },
      store: (item, page) => {
        const s = subsysOf(item);
        if (s.discovered) {
          const v = s.ver;
          const ter = v & 0xff;
          s.target.kernel.log.prErr(`nvmet: Can't set version number. ${v >>> 16}.${(v >>> 8) & 0xff}${ter !== 0 ? `.${ter}` : ''} is already assigned`);
          return err('EINVAL');
        }
        const n = scanVersion(page);
        if (n.length !== 2 && n.length !== 3) return err('EINVAL');
        s.ver = nvmeVs(n[0]! & 0xffff, n[1]! & 0xff, (n[2] ?? 0) & 0xff);
        return page.length;
      },
    },
  ];
}

function buildNsAttrs(t: NvmetTarget): ConfigAttribute[] {
  const attrs: ConfigAttribute[] = [
    {
      name: 'device_nguid',
      show: (item) => `${formatUuid(nsOf(item).nguid)}\n`,
      store: (item, page) => {
        const ns = nsOf(item);
        if (ns.enabled) return err('EBUSY');
        const v = parseNguid(page);
        if (v === null) return err('EINVAL');
        ns.nguid.set(v);
        return page.length;
      },
    },
    {
      name: 'device_path',
      show: (item) => `${nsOf(item).devicePath ?? '(null)'}\n`,
      store: (item, page) => {
        const ns = nsOf(item);
        if (ns.enabled) return err('EBUSY');
        const nl = page.indexOf('\n');
        const len = nl < 0 ? page.length : nl;
        if (len === 0) return err('EINVAL');
        ns.devicePath = page.slice(0, len);
        return page.length;
      },
    },
    {
      name: 'device_uuid',
      show: (item) => `${formatUuid(nsOf(item).uuid)}\n`,
      store: (item, page) => {
        const ns = nsOf(item);
        if (ns.enabled) return err('EBUSY');
        const v = parseUuid(page);
        if (v === null) return err('EINVAL');
        ns.uuid.set(v);
        return page.length;
      },
    },
    {
      name: 'enable',
      show: (item) => `${nsOf(item).enabled ? 1 : 0}\n`,
      store: (item, page) => {
        const ns = nsOf(item);
        const v = ns.subsys.target.rules.parseBool(page);
        if (isErr(v)) return err('EINVAL');
        if (v) {
          const r = nvmetNsEnable(ns);
          if (r !== 0) return r;
        } else nvmetNsDisable(ns);
        return page.length;
      },
    },
  ];
  if (t.rules.p2pAttribute === 'namespace' && t.kernel.config.CONFIG_PCI_P2PDMA) {
    attrs.push({
      name: 'p2pmem',
      show: (item) => {
        const ns = nsOf(item);
        return pciP2pdmaEnableShow(ns.p2pDev, ns.useP2pmem);
      },
      store: (item, page) => {
        const ns = nsOf(item);
        if (ns.enabled) return err('EBUSY');
        const c = pciP2pdmaEnableStore(ns.subsys.target.kernel, page);
        if (isErr(c)) return c;
        ns.useP2pmem = c.use;
        ns.p2pDev = c.dev;
        return page.length;
      },
    });
  }
  return attrs.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function buildTypes(t: NvmetTarget): NvmetConfigfsTypes {
  const log = t.kernel.log;
  const host: ConfigItemType = {
    name: 'nvmet_host_type',
    release: (item) => {
      t.hosts.delete((item.data as NvmetHost).hostnqn);
    },
  };
  const hosts: ConfigItemType = {
    name: 'nvmet_hosts_type',
    makeGroup: (_parent, name) => {
      const g = new ConfigGroup(name, host);
      g.data = new NvmetHost(name);
      t.hosts.set(name, g.data as NvmetHost);
      return g;
    },
  };
  const ns: ConfigItemType = {
    name: 'nvmet_ns_type',
    attrs: buildNsAttrs(t),
    release: (item) => nvmetNsFree(nsOf(item)),
  };
  const namespaces: ConfigItemType = {
    name: 'nvmet_namespaces_type',
    makeGroup: (parent, name) => {
      const subsys = parent.parent!.data as NvmetSubsys;
      const nsid = kstrtouint32(name);
      if (isErr(nsid)) return nsid;
      if (nsid === 0 || nsid === 0xffffffff) {
        if (t.rules.reportsInvalidNsid) log.prErr(`nvmet: invalid nsid 0x${nsid.toString(16)}`);
        return err('EINVAL');
      }
      const g = new ConfigGroup(name, ns);
      g.data = nvmetNsAlloc(subsys, nsid);
      log.prInfo(`nvmet: adding nsid ${nsid} to subsystem ${subsys.subsysnqn}`);
      return g;
    },
  };
  const allowedHosts: ConfigItemType = {
    name: 'nvmet_allowed_hosts_type',
    allowLink: (src, target) => {
      const subsys = src.parent!.data as NvmetSubsys;
      if (target.type !== host) {
        log.prErr('nvmet: can only link hosts into the allowed_hosts directory!');
        return err('EINVAL');
      }
      const h = target.data as NvmetHost;
      if (subsys.allowAnyHost) {
        log.prErr("nvmet: can't add hosts when allow_any_host is set!");
        return err('EINVAL');
      }
      if (subsys.hosts.some((x) => x.hostnqn === h.hostnqn)) return err('EEXIST');
      subsys.hosts.push(h);
      t.genctr++;
      return 0;
    },
    dropLink: (src, target) => {
      const subsys = src.parent!.data as NvmetSubsys;
      const i = subsys.hosts.indexOf(target.data as NvmetHost);
      if (i >= 0) subsys.hosts.splice(i, 1);
      t.genctr++;
    },
  };
  const subsys: ConfigItemType = {
    name: 'nvmet_subsys_type',
    attrs: buildSubsysAttrs(),
    release: (item) => {
      const s = subsysOf(item);
      if (t.rules.delCtrlsOnRemoval) nvmetSubsysDelCtrls(s);
      t.subsystems.delete(s.subsysnqn);
    },
  };
  const subsystems: ConfigItemType = {
    name: 'nvmet_subsystems_type',
    makeGroup: (_parent, name) => {
      if (streq(name, NVME_DISC_SUBSYS_NAME)) {
        log.prErr("nvmet: can't create discovery subsystem through configfs");
        return err('EINVAL');
      }
      const g = new ConfigGroup(name, subsys);
      const s = nvmetSubsysAlloc(t, name);
      g.data = s;
      g.addDefaultGroup(new ConfigGroup('namespaces', namespaces));
      g.addDefaultGroup(new ConfigGroup('allowed_hosts', allowedHosts));
      t.subsystems.set(name, s);
      return g;
    },
  };
  const portSubsystems: ConfigItemType = {
    name: 'nvmet_port_subsys_type',
    allowLink: (src, target) => {
      const port = src.parent!.data as NvmetPort;
      if (target.type !== subsys) {
        log.prErr('nvmet: can only link subsystems into the subsystems dir.!');
        return err('EINVAL');
      }
      const s = subsysOf(target);
      if (port.subsystems.includes(s)) return err('EEXIST');
      if (port.subsystems.length === 0) {
        const r: KResult = nvmetEnablePort(port);
        if (r !== 0) return r;
      }
      port.subsystems.push(s);
      t.genctr++;
      return 0;
    },
    dropLink: (src, target) => {
      const port = src.parent!.data as NvmetPort;
      const s = subsysOf(target);
      const i = port.subsystems.indexOf(s);
      if (i < 0) return;
      port.subsystems.splice(i, 1);
      t.genctr++;
      if (t.rules.delCtrlsOnRemoval) nvmetPortDelCtrls(port, s);
      if (port.subsystems.length === 0) nvmetDisablePort(port);
    },
  };
  const referrals: ConfigItemType = { name: 'nvmet_referrals_type' };
  const port: ConfigItemType = {
    name: 'nvmet_port_type',
    attrs: buildPortAttrs(t),
    release: (item) => {
      t.ports.delete(portOf(item).portid);
    },
  };
  const ports: ConfigItemType = {
    name: 'nvmet_ports_type',
    makeGroup: (_parent, name) => {
      const id = kstrtouint32(name);
      if (isErr(id) || id > 0xffff) return err('EINVAL');
      const g = new ConfigGroup(name, port);
      const p = new NvmetPort(t, id);
      g.data = p;
      g.addDefaultGroup(new ConfigGroup('subsystems', portSubsystems));
      g.addDefaultGroup(new ConfigGroup('referrals', referrals));
      t.ports.set(id, p);
      return g;
    },
  };
  const root: ConfigItemType = { name: 'nvmet_root_type' };
  return { root, subsystems, subsys, namespaces, ns, allowedHosts, ports, port, portSubsystems, referrals, hosts, host };
}

/** `kstrtou32(name, 0, ...)`. */
function kstrtouint32(s: string): number | NegErrno {
  const v = kstrtoull(s, 0);
  if (typeof v === 'number') return v;
  return v > 0xffffffffn ? err('ERANGE') : Number(v);
}

/**
 * Registers the target's configfs subsystem (`nvmet/` with `subsystems/`, `ports/`, `hosts/`).
 * @param t the target.
 * @returns `0`, or configfs's errno (`-EEXIST`).
 * @kernel nvmet_init_configfs
 */
export function nvmetInitConfigfs(t: NvmetTarget): KResult {
  const types = buildTypes(t);
  const root = new ConfigGroup(NVMET_CONFIGFS_NAME, types.root);
  root.data = t;
  root.addDefaultGroup(new ConfigGroup('subsystems', types.subsystems));
  root.addDefaultGroup(new ConfigGroup('ports', types.ports));
  root.addDefaultGroup(new ConfigGroup('hosts', types.hosts));
  const rc = t.kernel.configfs.registerSubsystem(root);
  if (rc !== 0) return rc;
  trees.set(t, { types, root });
  return 0;
}

/**
 * Unregisters the target's configfs subsystem.
 * @param t the target.
 * @kernel nvmet_exit_configfs
 */
export function nvmetExitConfigfs(t: NvmetTarget): void {
  const tree = trees.get(t);
  if (tree === undefined) return;
  t.kernel.configfs.unregisterSubsystem(tree.root);
  trees.delete(t);
}

/**
 * The configfs path of the target's tree.
 * @param t the target.
 * @returns `/sys/kernel/config/nvmet`.
 */
export function nvmetConfigfsPath(t: NvmetTarget): string {
  return trees.get(t)?.root.path() ?? `/sys/kernel/config/${NVMET_CONFIGFS_NAME}`;
}
