/**
 * The walk both policies' path reports and Linux 6.6's distance are built on: from the provider
 * up, looking for each of its upstream devices on the client's upstream chain; and the ACS
 * redirect test on each device passed.
 * @kernel drivers/pci/p2pdma.c (calc_map_type_and_dist's walk, pci_bridge_has_acs_redir,
 *   seq_buf_print_bus_devfn)
 */
import type { PciDev } from '@p2pdma/pci-core';
import { PCI_ACS_CR, PCI_ACS_CTRL, PCI_ACS_EC, PCI_ACS_RR, pciReadConfigWord } from '@p2pdma/pci-core';
import { meetIndex, upstreamChain } from './internal/upstream-chain';

/** ACS control bits that send peer-to-peer traffic upstream. */
export const P2PDMA_ACS_REDIR_BITS = PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC;

/** Bytes of the kernel's on-stack buffer for the `disable_acs_redir=` list. */
export const ACS_LIST_BUF_SIZE = 128;

/** What the walk found. */
export interface P2pWalk {
  /** The nearest device on both upstream chains, or `null`. */
  readonly common: PciDev | null;
  /** Hops from the provider up to `common` (with no common device: the provider chain's length). */
  readonly distProvider: number;
  /** Hops from the client up to `common` (with no common device: the client chain's length). */
  readonly distClient: number;
  /** The provider and its upstream devices, up to `common` inclusive (or to the top). */
  readonly providerChain: readonly PciDev[];
  /** The client and its upstream devices, up to `common` inclusive (or to the top). */
  readonly clientChain: readonly PciDev[];
  /**
   * Devices with ACS redirect on the path, in the kernel's order: the provider chain up to and
   * including `common`, then the client chain below it. Empty when there is no common device
   * (the kernel does not look at ACS then).
   */
  readonly acsRedirect: readonly PciDev[];
}

/**
 * Whether a function's ACS control redirects peer-to-peer requests or completions upstream.
 * @param pdev the function.
 * @returns `true` when RR, CR or EC is set; `false` without an ACS capability.
 * @kernel pci_bridge_has_acs_redir
 */
export function pciBridgeHasAcsRedir(pdev: PciDev): boolean {
  if (pdev.acsCap === 0) return false;
  return (pciReadConfigWord(pdev, pdev.acsCap + PCI_ACS_CTRL) & P2PDMA_ACS_REDIR_BITS) !== 0;
}

/**
 * Walks provider and client up to their nearest common upstream device.
 * @param provider the provider.
 * @param client the client.
 * @returns the walk (fresh arrays the caller owns).
 * @kernel calc_map_type_and_dist (the walk)
 */
export function p2pWalk(provider: PciDev, client: PciDev): P2pWalk {
  const up = upstreamChain(provider);
  const down = upstreamChain(client);
  const i = meetIndex(up, down);
  if (i < 0) return { common: null, distProvider: up.length, distClient: down.length, providerChain: up.slice(), clientChain: down.slice(), acsRedirect: [] };
  const j = i + down.length - up.length;
  const acsRedirect: PciDev[] = [];
  for (let k = 0; k <= i; k++) if (pciBridgeHasAcsRedir(up[k]!)) acsRedirect.push(up[k]!);
  for (let k = 0; k < j; k++) if (pciBridgeHasAcsRedir(down[k]!)) acsRedirect.push(down[k]!);
  return { common: up[i]!, distProvider: i, distClient: j, providerChain: up.slice(0, i + 1), clientChain: down.slice(0, j + 1), acsRedirect };
}

/**
 * The `pci=disable_acs_redir=` device list for the culprits, as the kernel builds it: names
 * joined by `;` in a 128-byte buffer, the final `;` dropped. With more names than fit (ten or
 * more), the kernel's buffer overflows and the list is cut at 127 characters.
 * @param culprits the devices with ACS redirect (non-empty).
 * @returns the list.
 * @kernel seq_buf_print_bus_devfn + the `acs_list.buffer[acs_list.len-1] = 0` trim
 */
export function acsRedirList(culprits: readonly PciDev[]): string {
  let buf = '';
  let overflow = false;
  for (const d of culprits) {
    if (overflow) break;
    const piece = `${d.name};`;
    if (buf.length + piece.length < ACS_LIST_BUF_SIZE) buf += piece;
    else {
      buf = (buf + piece).slice(0, ACS_LIST_BUF_SIZE - 1);
      overflow = true;
    }
  }
  return overflow ? buf : buf.slice(0, -1);
}
