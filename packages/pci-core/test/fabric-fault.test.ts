import { describe, expect, it } from 'vitest';
import { PCIBIOS_DEVICE_NOT_FOUND, PCIBIOS_SUCCESSFUL, pciReadConfigDword, pciReadConfigWord, pciWriteConfigWord } from '../src/access';
import { pciBusAddress, pciResourceStart } from '../src/bar';
import { FABRIC_FAULT_DMA_ERROR, FABRIC_FAULT_KINDS, FABRIC_FAULT_LINK_DOWN, FABRIC_FAULT_UR } from '../src/fabric-fault';
import { boot, pattern, readBar } from './helpers';

// seed-switch: RP 00:03.0 -> USP 01:00.0 -> DSPs 02:08.0 (RNIC 03:00.0), 02:09.0 (NoLoad 04:00.0),
// 02:10.0 (P3700 05:00.0), 02:11.0 (p2pmem card 06:00.0, BAR 4 = 256 MiB).
function machine() {
  const m = boot('seed-switch');
  const rnic = m.dev('0000:03:00.0');
  const card = m.dev('0000:06:00.0');
  const ram = m.kernel.memory.ramRanges()[0]!.base + 0x100000;
  return { m, rnic, card, ram, fabric: m.sys.fabric };
}

describe('fabric fault injection: the kinds are data', () => {
  it('lists dma-error, link-down and unsupported-request with what each is armed on', () => {
    expect(FABRIC_FAULT_KINDS.map((k) => `${k.kind}:${k.on}:${k.status}`)).toEqual(['dma-error:device:poisoned', 'link-down:link:dropped', 'unsupported-request:address:ur']);
  });

  it('rejects bad specs with the field named and arms nothing', () => {
    const { fabric, rnic } = machine();
    expect(() => fabric.injectFault({ kind: FABRIC_FAULT_LINK_DOWN, link: 'nope' })).toThrow(/no link 'nope'/);
    expect(() => fabric.injectFault({ kind: FABRIC_FAULT_DMA_ERROR, device: rnic, nth: 0 })).toThrow('fabric.injectFault(dma-error): nth 0 must be a positive integer');
    expect(() => fabric.injectFault({ kind: FABRIC_FAULT_UR, addr: -1, len: 4 })).toThrow('range -1 +4 is not an address range');
    expect(() => fabric.injectFault({ kind: 'melt' } as never)).toThrow("kind 'melt' is not one of dma-error, link-down, unsupported-request");
    expect(fabric.faults?.armed ?? 0).toBe(0);
  });
});

describe('fabric fault injection: DMA errors on a device (poisoned TLP / CA / UR completion)', () => {
  it('fails the nth DMA of the device for `times` transfers, moves nothing, records it, then clears', () => {
    const { fabric, rnic, card, ram } = machine();
    const at = pciBusAddress(card, 4);
    fabric.injectFault({ kind: FABRIC_FAULT_DMA_ERROR, device: rnic, nth: 2, times: 2 });
    const data = pattern(4096, 3);
    expect(fabric.dmaWrite(rnic, at, data)).toEqual({ status: 'ok' });
    const before = fabric.counters().links['0000:03:00.0']!.up;
    expect(fabric.dmaWrite(rnic, at + 4096, data)).toEqual({ status: 'poisoned', at: '0000:03:00.0' });
    const out = new Uint8Array(16).fill(0x5a);
    expect(fabric.dmaRead(rnic, ram, out)).toEqual({ status: 'poisoned', at: '0000:03:00.0' });
    expect(out.every((b) => b === 0x5a)).toBe(true);
    expect(fabric.counters().links['0000:03:00.0']!.up).toBe(before);
    expect(readBar(card, 4, 4096, 8)).toEqual(new Uint8Array(8));
    expect(fabric.dmaWrite(rnic, at + 4096, data)).toEqual({ status: 'ok' });
    const e = fabric.errors();
    expect(e.map((x) => `${x.status} ${x.at} ${x.dir} ${x.reason}`)).toEqual([
      'poisoned 0000:03:00.0 write injected DMA error on 0000:03:00.0 (poisoned TLP)',
      'poisoned 0000:03:00.0 read injected DMA error on 0000:03:00.0 (poisoned TLP)',
    ]);
    expect(fabric.faultCounts()).toEqual({ 'dma-error': 2, 'link-down': 0, 'unsupported-request': 0 });
    expect(fabric.faults!.armed).toBe(0);
  });

  it('only the chosen direction and status; other devices are untouched', () => {
    const { m, fabric, rnic, card, ram } = machine();
    const nvme = m.dev('0000:05:00.0');
    const id = fabric.injectFault({ kind: FABRIC_FAULT_DMA_ERROR, device: rnic, dir: 'read', status: 'ca' });
    expect(fabric.dmaWrite(rnic, ram, pattern(64, 1))).toEqual({ status: 'ok' });
    expect(fabric.dmaRead(rnic, ram, new Uint8Array(64))).toEqual({ status: 'ca', at: '0000:03:00.0' });
    expect(fabric.dmaRead(nvme, pciBusAddress(card, 4), new Uint8Array(64))).toEqual({ status: 'ok' });
    expect(fabric.clearFault(id)).toBe(true);
    expect(fabric.clearFault(id)).toBe(false);
    expect(fabric.dmaRead(rnic, ram, new Uint8Array(64))).toEqual({ status: 'ok' });
  });
});

describe('fabric fault injection: link down (devices below unreachable)', () => {
  it("drops DMA over the link and from below it, reads BARs below as all-ones, and config space as a disconnected device's", () => {
    const { m, fabric, rnic, card, ram } = machine();
    const nvme = m.dev('0000:05:00.0');
    const link = fabric.linkOf(card)!;
    expect(link).toBe('0000:06:00.0');
    fabric.injectFault({ kind: FABRIC_FAULT_LINK_DOWN, link });
    // Peer DMA into the card crosses its link: dropped at the link, nothing lands.
    expect(fabric.dmaWrite(rnic, pciBusAddress(card, 4), pattern(512, 9))).toEqual({ status: 'dropped', at: 'link 0000:06:00.0' });
    expect(readBar(card, 4, 0, 4)).toEqual(new Uint8Array(4));
    // The card's own DMA: it is unreachable.
    expect(fabric.dmaWrite(card, ram, pattern(64, 2))).toEqual({ status: 'dropped', at: 'link 0000:06:00.0' });
    // Traffic not over the link still flows.
    expect(fabric.dmaWrite(rnic, pciBusAddress(nvme, 0) + 0x1000, new Uint8Array(4))).not.toEqual({ status: 'dropped', at: 'link 0000:06:00.0' });
    // CPU MMIO: reads ~0, writes lost.
    const cpu = pciResourceStart(card, 4);
    expect(m.kernel.memory.cpuWrite(cpu, pattern(4, 5))).toBe(0);
    expect(m.kernel.memory.cpuRead(cpu, 4)).toEqual(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    // Config space: all-ones, writes refused.
    expect(pciReadConfigDword(card, 0)).toBe(0xffffffff);
    expect(pciReadConfigWord(card, 4)).toBe(0xffff);
    expect(pciWriteConfigWord(card, 4, 0)).toBe(PCIBIOS_DEVICE_NOT_FOUND);
    expect(pciReadConfigDword(rnic, 0)).not.toBe(0xffffffff);
    expect(fabric.errors().map((e) => `${e.status} ${e.initiator} ${e.at} ${e.reason}`)).toEqual([
      'dropped 0000:03:00.0 link 0000:06:00.0 link 0000:06:00.0 is down',
      'dropped 0000:06:00.0 link 0000:06:00.0 link 0000:06:00.0 is down: 0000:06:00.0 is unreachable',
      'dropped cpu link 0000:06:00.0 link 0000:06:00.0 is down',
      'dropped cpu link 0000:06:00.0 link 0000:06:00.0 is down',
    ]);
    // Link back up: everything works again.
    fabric.clearFault();
    expect(pciReadConfigDword(card, 0)).not.toBe(0xffffffff);
    expect(pciWriteConfigWord(card, 4, pciReadConfigWord(card, 4))).toBe(PCIBIOS_SUCCESSFUL);
    const data = pattern(512, 9);
    expect(fabric.dmaWrite(rnic, pciBusAddress(card, 4), data)).toEqual({ status: 'ok' });
    expect(readBar(card, 4, 0, 512)).toEqual(data);
    expect(fabric.faultCounts()['link-down']).toBe(4);
  });

  it('the switch upstream link down cuts off every device below the switch', () => {
    const { m, fabric, rnic, card, ram } = machine();
    const usp = m.dev('0000:01:00.0');
    fabric.injectFault({ kind: FABRIC_FAULT_LINK_DOWN, link: fabric.linkOf(usp)! });
    expect(fabric.dmaWrite(rnic, ram, new Uint8Array(8)).status).toBe('dropped');
    expect(fabric.dmaWrite(rnic, pciBusAddress(card, 4), new Uint8Array(8)).status).toBe('dropped');
    expect(pciReadConfigWord(card, 0)).toBe(0xffff);
  });
});

describe('fabric fault injection: Unsupported Request on an address range', () => {
  it('DMA overlapping the range completes UR at its target; the rest of the address space works', () => {
    const { fabric, rnic, card, ram, m } = machine();
    const nvme = m.dev('0000:05:00.0');
    const at = pciBusAddress(card, 4) + 0x2000;
    fabric.injectFault({ kind: FABRIC_FAULT_UR, addr: at, len: 0x1000, initiator: rnic });
    expect(fabric.dmaWrite(rnic, at - 16, new Uint8Array(32))).toEqual({ status: 'ur', at: '0000:06:00.0 BAR 4' });
    expect(fabric.dmaWrite(rnic, at + 0x1000, new Uint8Array(32))).toEqual({ status: 'ok' });
    expect(fabric.dmaWrite(nvme, at, new Uint8Array(32))).toEqual({ status: 'ok' });
    expect(fabric.dmaRead(rnic, ram, new Uint8Array(32))).toEqual({ status: 'ok' });
    expect(fabric.errors().at(-1)?.reason).toBe(`injected Unsupported Request for 0x${at.toString(16)}..0x${(at + 0xfff).toString(16)}`);
    expect(fabric.faultCounts()['unsupported-request']).toBe(1);
  });
});
