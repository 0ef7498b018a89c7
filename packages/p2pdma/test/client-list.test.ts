import { Device, deviceAdd, err, KernelBug } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import {
  P2pdmaClientList,
  pciP2pdmaAddClient,
  pciP2pdmaClientListFree,
  pciP2pdmaRemoveClient,
  pciP2pmemFind,
  upstreamBridgesMatch,
  v2SwitchMatch,
} from '../src/client-list';
import { pciP2pdmaAddResource, pciP2pmemPublish } from '../src/provider';
import { boot, lines } from './helpers';

/** A published provider on `bdf` (BAR `bar`) of a v2 kernel. */
function publish(b: ReturnType<typeof boot>, bdf: string, bar: number): void {
  expect(pciP2pdmaAddResource(b.dev(bdf), bar, 0, 0)).toBe(0);
  pciP2pmemPublish(b.dev(bdf), true);
}

describe('seed v2 client lists (patch 01)', () => {
  it('rejects a device using dma_virt_ops and a device with no PCI ancestor with -ENODEV and the seed warnings', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    const rxe = new Device(b.kernel, 'rxe0', { parent: b.dev('0000:03:00.0'), className: 'infiniband', dmaOps: 'virt' });
    deviceAdd(rxe);
    const nullb = new Device(b.kernel, 'nullb0', { className: 'block' });
    deviceAdd(nullb);
    const list = new P2pdmaClientList(b.kernel);
    expect(pciP2pdmaAddClient(list, rxe)).toBe(err('ENODEV'));
    expect(pciP2pdmaAddClient(list, nullb)).toBe(err('ENODEV'));
    expect(list.items).toEqual([]);
    expect(lines(b.kernel, 'cannot be used')).toEqual([
      'infiniband rxe0: cannot be used for peer-to-peer DMA because the driver makes use of dma_virt_ops',
      'block nullb0: cannot be used for peer-to-peer DMA as it is not a PCI device',
    ]);
  });

  it('a device below a PCI function (a namespace block device) is added as that function', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    const ns = new Device(b.kernel, 'nvme0n1', { parent: b.dev('0000:05:00.0'), className: 'block' });
    deviceAdd(ns);
    const list = new P2pdmaClientList(b.kernel);
    expect(pciP2pdmaAddClient(list, ns)).toBe(0);
    expect(list.clients()).toEqual([b.dev('0000:05:00.0')]);
  });

  it('pci_p2pmem_find: the first published provider in pci_get_device order below the same switch; binds the list', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    publish(b, '0000:06:00.0', 4);
    publish(b, '0000:04:00.0', 2);
    const list = new P2pdmaClientList(b.kernel);
    expect(pciP2pdmaAddClient(list, b.dev('0000:03:00.0'))).toBe(0);
    expect(pciP2pdmaAddClient(list, b.dev('0000:05:00.0'))).toBe(0);
    expect(list.provider).toBeNull();
    expect(pciP2pmemFind(list)).toBe(b.dev('0000:04:00.0'));
    expect(list.items.map((i) => i.p2pdma)).toEqual([b.dev('0000:04:00.0'), b.dev('0000:04:00.0')]);
    // A client added to a bound list is checked against the provider and bound too.
    expect(pciP2pdmaAddClient(list, b.dev('0000:06:00.0'))).toBe(0);
    expect(list.items[2]!.p2pdma).toBe(b.dev('0000:04:00.0'));
    pciP2pdmaRemoveClient(list, b.dev('0000:05:00.0'));
    expect(list.clients().map((d) => d.name)).toEqual(['0000:03:00.0', '0000:06:00.0']);
    pciP2pdmaClientListFree(list);
    expect(list.items).toEqual([]);
  });

  it('cascaded switches: a bound list rejects a client below another switch with -EXDEV (debug line), unchanged', () => {
    const b = boot('cascade', { policy: 'v2' });
    publish(b, '0000:08:00.0', 4); // p2pmem card below the lower PEX 8733
    const list = new P2pdmaClientList(b.kernel);
    expect(pciP2pdmaAddClient(list, b.dev('0000:07:00.0'))).toBe(0); // NVMe, same lower switch
    expect(pciP2pmemFind(list)).toBe(b.dev('0000:08:00.0'));
    expect(pciP2pdmaAddClient(list, b.dev('0000:03:00.0'))).toBe(err('EXDEV')); // RNIC, upper switch
    expect(list.clients().map((d) => d.name)).toEqual(['0000:07:00.0']);
    expect(lines(b.kernel, 'does not reside')).toEqual(['pci 0000:03:00.0: does not reside on the same upstream bridge']);
    expect(v2SwitchMatch(b.dev('0000:08:00.0'), b.dev('0000:03:00.0'))).toBe('different-switch');
    // Unbound list with the RNIC: no provider below both switches' upstream port.
    const l2 = new P2pdmaClientList(b.kernel);
    pciP2pdmaAddClient(l2, b.dev('0000:03:00.0'));
    expect(pciP2pmemFind(l2)).toBeNull();
  });

  it('devices on root ports are rejected: "not behind a PCI bridge" on the provider, debug line on a client', () => {
    const b = boot('root-ports', { policy: 'v2' });
    publish(b, '0000:04:00.0', 4);
    const list = new P2pdmaClientList(b.kernel);
    pciP2pdmaAddClient(list, b.dev('0000:01:00.0'));
    expect(pciP2pmemFind(list)).toBeNull();
    expect(lines(b.kernel, 'not behind')).toEqual(['pci 0000:04:00.0: not behind a PCI bridge']);
    const sw = boot('seed-switch', { policy: 'v2' });
    expect(upstreamBridgesMatch(sw.dev('0000:06:00.0'), sw.dev('0000:00:03.0'))).toBe(false);
    expect(lines(sw.kernel, 'behind a bridge')).toEqual(['pci 0000:00:03.0: not a PCI device behind a bridge']);
  });

  it('two functions of one device and the same function count as the same switch', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    expect(v2SwitchMatch(b.dev('0000:06:00.0'), b.dev('0000:06:00.0'))).toBe('same-switch');
    expect(v2SwitchMatch(b.dev('0000:06:00.0'), b.dev('0000:03:00.0'))).toBe('same-switch');
  });

  it('an empty list (the seed reads an uninitialized bool): the first published provider behind a switch', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    publish(b, '0000:06:00.0', 4);
    const list = new P2pdmaClientList(b.kernel);
    expect(pciP2pmemFind(list)).toBe(b.dev('0000:06:00.0'));
  });

  it('client lists exist only under the v2 policy', () => {
    const b = boot('seed-switch');
    const list = new P2pdmaClientList(b.kernel);
    expect(() => pciP2pdmaAddClient(list, b.dev('0000:03:00.0'))).toThrow(KernelBug);
    expect(() => pciP2pmemFind(list)).toThrow(/only under the 'v2' P2PDMA policy/);
  });
});
