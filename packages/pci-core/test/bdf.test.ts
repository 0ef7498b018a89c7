// BDF helpers: the kernel's pci_name() format (`%04x:%02x:%02x.%d`, domain wider when needed).
import { describe, expect, it } from 'vitest';
import { bdfKey, compareBdf, devfn, formatBdf, formatBus, normalizeBdf, parseBdf, routingId } from '../src/bdf';

describe('parseBdf (pci_name format)', () => {
  it('parses a full BDF', () => {
    expect(parseBdf('0000:03:00.0')).toEqual({ domain: 0, bus: 3, slot: 0, fn: 0 });
  });

  it('defaults the domain to 0 when lspci prints none', () => {
    expect(parseBdf('03:00.0')).toEqual({ domain: 0, bus: 3, slot: 0, fn: 0 });
  });

  it('parses a 5-digit Intel VMD domain', () => {
    expect(parseBdf('10000:e0:06.0')).toEqual({ domain: 0x10000, bus: 0xe0, slot: 6, fn: 0 });
  });

  it('accepts upper-case hex and surrounding blanks', () => {
    expect(parseBdf(' 0000:AF:1F.7 ')).toEqual({ domain: 0, bus: 0xaf, slot: 0x1f, fn: 7 });
  });

  it.each(['', '03:00', '03:00.8', '0000:03:20.0', '0000:100:00.0', 'zz:00.0', '0000:03:00.0.1', '123456789:00:00.0'])(
    'rejects %j',
    (text) => {
      expect(parseBdf(text)).toBeNull();
    },
  );
});

describe('formatBdf / normalizeBdf', () => {
  it('prints 4 domain digits, lowercase', () => {
    expect(formatBdf({ domain: 0, bus: 0xaf, slot: 0x1f, fn: 7 })).toBe('0000:af:1f.7');
  });

  it('prints more domain digits above 0xffff (VMD)', () => {
    expect(formatBdf({ domain: 0x10000, bus: 0xe1, slot: 0, fn: 0 })).toBe('10000:e1:00.0');
  });

  it('round-trips through parseBdf', () => {
    for (const s of ['0000:00:00.0', '0030:02:01.0', '10000:e0:06.0', '0000:ff:1f.2']) {
      expect(formatBdf(parseBdf(s)!)).toBe(s);
    }
  });

  it('normalizeBdf adds the domain and lowercases', () => {
    expect(normalizeBdf('3B:00.1')).toBe('0000:3b:00.1');
    expect(normalizeBdf('not a bdf')).toBeNull();
  });

  it('formatBus names a bus like the kernel (pci_bus dddd:bb)', () => {
    expect(formatBus(0, 3)).toBe('0000:03');
    expect(formatBus(0x10000, 0xe0)).toBe('10000:e0');
  });
});

describe('devfn and routing IDs (PCI_DEVFN)', () => {
  it('packs slot and function', () => {
    expect(devfn(0x1f, 7)).toBe(0xff);
    expect(devfn(3, 2)).toBe(0x1a);
  });

  it('routing ID is bus << 8 | devfn; bdfKey adds the domain', () => {
    const b = { domain: 2, bus: 0x83, slot: 0x10, fn: 1 };
    expect(routingId(b)).toBe(0x8381);
    expect(bdfKey(b)).toBe(2 * 0x10000 + 0x8381);
  });

  it('compareBdf orders by domain, bus, slot, function', () => {
    const list = ['0001:00:00.0', '0000:03:00.1', '0000:03:00.0', '0000:02:1f.0'].map((s) => parseBdf(s)!);
    expect(list.sort(compareBdf).map(formatBdf)).toEqual(['0000:02:1f.0', '0000:03:00.0', '0000:03:00.1', '0001:00:00.0']);
  });
});
