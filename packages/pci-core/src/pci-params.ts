/**
 * The `pci=` kernel parameters the model uses, and the kernel's device-string matching
 * (`pci_dev_str_match`) that `disable_acs_redir=` and other per-device options share.
 *
 * Modelled options: `noats` (PCIe ATS disabled; 6.6 then also sets ACS Translation Blocking) and
 * `disable_acs_redir=<list>`. Linux 6.6 has no `pci=noacs`: ACS is enabled whenever an IOMMU
 * driver asks for it (`pci_request_acs`), and `config_acs=` arrived only in 6.11. Options the
 * model knows but does not model are accepted silently; anything else gets the kernel's
 * `PCI: Unknown option` error line.
 *
 * @kernel drivers/pci/pci.c (pci_setup, pci_dev_str_match, pci_dev_str_match_path)
 */
import type { Kernel, NegErrno } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import type { PciDev } from './pci-dev';
import { PCI_DEVFN, pciUpstreamBridge } from './pci-dev';

/** What the `pci=` options say, as far as the model uses them. */
export interface PciParams {
  /** `pci=noats`: ATS disabled (6.6 sets ACS TB on every port it enables ACS on). @kernel pcie_ats_disabled */
  readonly noats: boolean;
  /** The `disable_acs_redir=` device list, or `null` when absent. @kernel disable_acs_redir_param */
  readonly disableAcsRedir: string | null;
  /** Options the kernel would reject with `PCI: Unknown option`. */
  readonly unknown: readonly string[];
}

/**
 * `pci=` options of Linux 6.6 (`pci_setup` and x86 `pcibios_setup`) that the model accepts
 * without modelling them.
 */
export const PCI_OPTIONS_NOT_MODELLED: readonly string[] = [
  'nomsi',
  'noaer',
  'earlydump',
  'realloc',
  'nodomains',
  'noari',
  'pcie_bus_tune_off',
  'pcie_bus_safe',
  'pcie_bus_perf',
  'pcie_bus_peer2peer',
  'pcie_scan_all',
  'off',
  'bios',
  'nobios',
  'conf1',
  'conf2',
  'nommconf',
  'check_enable_amd_mmconf',
  'noacpi',
  'noearly',
  'usepirqmask',
  'nocrs',
  'use_crs',
  'use_e820',
  'no_e820',
  'routeirq',
  'skip_isa_align',
  'noioapicquirk',
  'ioapicreroute',
  'noioapicreroute',
  'assign-busses',
  'lastbus',
];

/** `pci=` options with a value (`name=...`) the model accepts without modelling them. */
const VALUE_OPTIONS_NOT_MODELLED: readonly string[] = [
  'realloc',
  'cbiosize',
  'cbmemsize',
  'resource_alignment',
  'ecrc',
  'hpiosize',
  'hpmmiosize',
  'hpmmioprefsize',
  'hpmemsize',
  'hpbussize',
  'irqmask',
  'pirqaddr',
  'lastbus',
];

/**
 * Parses the kernel's `pci=` options in command-line order (a later value wins).
 * @param kernel the kernel whose command line is read.
 * @returns the options the model uses and the unknown ones.
 * @kernel pci_setup
 */
export function pciParams(kernel: Kernel): PciParams {
  let noats = false;
  let disableAcsRedir: string | null = null;
  const unknown: string[] = [];
  for (const opt of kernel.cmdline.pciOptions()) {
    const eq = opt.indexOf('=');
    const name = eq < 0 ? opt : opt.slice(0, eq);
    if (opt === 'noats') noats = true;
    else if (name === 'disable_acs_redir' && eq >= 0) disableAcsRedir = opt.slice(eq + 1);
    else if (eq < 0 ? PCI_OPTIONS_NOT_MODELLED.includes(opt) : VALUE_OPTIONS_NOT_MODELLED.includes(name)) continue;
    else unknown.push(opt);
  }
  return { noats, disableAcsRedir, unknown };
}

/** Result of matching one device string. */
export interface PciDevStrMatchResult {
  /** `1` match, `0` no match, `-EINVAL` unparsable. */
  readonly ret: 1 | 0 | NegErrno;
  /** The text after the device string (starting at its `;`, or empty). */
  readonly rest: string;
}

const HEX = '(?:0[xX])?[0-9a-fA-F]+';
const PATH_STEP_RE = new RegExp(`^/(${HEX})\\.(${HEX})$`);
const BDF4_RE = new RegExp(`^(${HEX}):(${HEX}):(${HEX})\\.(${HEX})$`);
const BDF3_RE = new RegExp(`^(${HEX}):(${HEX})\\.(${HEX})$`);
const IDS4_RE = new RegExp(`^(${HEX}):(${HEX}):(${HEX}):(${HEX})`);
const IDS2_RE = new RegExp(`^(${HEX}):(${HEX})`);

function hex(s: string): number {
  return Number.parseInt(s.replace(/^0[xX]/, ''), 16);
}

/** `[<domain>:]<bus>:<dev>.<fn>[/<dev>.<fn>]*`: the device reached by walking the path down. */
function matchPath(dev: PciDev, path: string): 1 | 0 | NegErrno {
  let cur: PciDev | null = dev;
  let rest = path;
  for (let slash = rest.lastIndexOf('/'); slash >= 0; slash = rest.lastIndexOf('/')) {
    const m = PATH_STEP_RE.exec(rest.slice(slash));
    if (m === null) return err('EINVAL');
    if (cur.devfn !== PCI_DEVFN(hex(m[1]!), hex(m[2]!))) return 0;
    cur = pciUpstreamBridge(cur);
    if (cur === null) return 0;
    rest = rest.slice(0, slash);
  }
  let seg = 0;
  let bus: number;
  let slot: number;
  let fn: number;
  const m4 = BDF4_RE.exec(rest);
  if (m4 !== null) {
    seg = hex(m4[1]!);
    bus = hex(m4[2]!);
    slot = hex(m4[3]!);
    fn = hex(m4[4]!);
  } else {
    const m3 = BDF3_RE.exec(rest);
    if (m3 === null) return err('EINVAL');
    bus = hex(m3[1]!);
    slot = hex(m3[2]!);
    fn = hex(m3[3]!);
  }
  return seg === cur.pciBus.domain && bus === cur.pciBus.number && cur.devfn === PCI_DEVFN(slot, fn) ? 1 : 0;
}

/**
 * Matches a function against the device string at the start of `text`: either
 * `pci:<vendor>:<device>[:<subvendor>:<subdevice>]` (0 is a wildcard; unknown IDs match only
 * wildcards) or a bus path `[<domain>:]<bus>:<dev>.<fn>[/<dev>.<fn>]*` (the path names the
 * bridges from the top: the last `/<dev>.<fn>` must be the function itself, each earlier element
 * its upstream bridge).
 * @param dev the function.
 * @param text the parameter text from the device string on.
 * @returns `ret` (1 match, 0 no match, `-EINVAL` unparsable) and the text after the device string.
 * @kernel pci_dev_str_match
 */
export function pciDevStrMatch(dev: PciDev, text: string): PciDevStrMatchResult {
  if (text.startsWith('pci:')) {
    const body = text.slice(4);
    let m = IDS4_RE.exec(body);
    let ids: number[];
    if (m !== null) ids = [hex(m[1]!), hex(m[2]!), hex(m[3]!), hex(m[4]!)].map((v) => v & 0xffff);
    else {
      m = IDS2_RE.exec(body);
      if (m === null) return { ret: err('EINVAL'), rest: text };
      ids = [hex(m[1]!) & 0xffff, hex(m[2]!) & 0xffff, 0, 0];
    }
    const rest = body.slice(m[0].length);
    const have = [dev.vendor, dev.device, dev.subsystemVendor, dev.subsystemDevice];
    const ok = ids.every((want, i) => want === 0 || want === have[i]);
    return { ret: ok ? 1 : 0, rest };
  }
  const semi = text.indexOf(';');
  const end = semi < 0 ? text.length : semi;
  return { ret: matchPath(dev, text.slice(0, end)), rest: text.slice(end) };
}

/**
 * Whether a function is named in a `;`-separated device list (`disable_acs_redir=`), scanning as
 * the kernel does: stop at the first match, at an unparsable entry, or at text that is not a
 * separator.
 * @param dev the function.
 * @param list the parameter value.
 * @returns `1` when named, `0` when not, `-EINVAL` when the scan hit an unparsable entry before
 *   a match (the kernel then prints `PCI: Can't parse disable_acs_redir parameter: <list>` once).
 * @kernel pci_disable_acs_redir (its parameter loop)
 */
export function pciDevListMatch(dev: PciDev, list: string): 1 | 0 | NegErrno {
  let p = list;
  let ret: 1 | 0 | NegErrno = 0;
  while (p.length > 0) {
    const r = pciDevStrMatch(dev, p);
    ret = r.ret;
    if (ret !== 0) return ret;
    p = r.rest;
    if (!p.startsWith(';') && !p.startsWith(',')) break;
    p = p.slice(1);
  }
  return ret;
}
