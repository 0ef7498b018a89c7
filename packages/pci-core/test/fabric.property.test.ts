/**
 * Property test of the fabric router (DESIGN section 4, section 7 "property tests for the
 * router"): random DMAs on random builder trees land exactly (bytes compared with a shadow copy
 * of every BAR and of RAM), and every counter equals an oracle computed independently from the
 * tree (lowest common bus of initiator and target: below it the bytes go up the initiator's links
 * and down the target's; a root bus means through the root complex).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pciBusAddress, pciResourceLen } from '../src/bar';
import type { PciBus } from '../src/bus';
import type { LinkBuilder, SwitchBuilder } from '../src/builder';
import { bar, topology } from '../src/builder';
import { PCI_EXP_TYPE_UPSTREAM } from '../src/capability';
import type { PciDev } from '../src/pci-dev';
import type { BarSpec } from '../src/topology-spec';
import { bootSpec, pattern } from './helpers';

const GiB = 2 ** 30;
const RAM_BASE = 0x1000_0000;
const RAM_SPAN = 0x10_0000;

type Ep = { bars: Array<{ log2: number; kind: 'pref64' | 'mem64' | 'mem32' }> };
type Port = { ep: Ep } | { sw: Port[] };

const epArb: fc.Arbitrary<Ep> = fc.record({
  bars: fc.array(fc.record({ log2: fc.integer({ min: 12, max: 18 }), kind: fc.constantFrom('pref64' as const, 'mem64' as const, 'mem32' as const) }), {
    minLength: 1,
    maxLength: 2,
  }),
});
const leafPort: fc.Arbitrary<Port> = epArb.map((ep) => ({ ep }));
const switchOf = (inner: fc.Arbitrary<Port>): fc.Arbitrary<Port> => fc.array(inner, { minLength: 1, maxLength: 3 }).map((sw) => ({ sw }));
const portArb: fc.Arbitrary<Port> = fc.oneof(leafPort, switchOf(fc.oneof(leafPort, switchOf(leafPort))));
const treeArb = fc.array(portArb, { minLength: 1, maxLength: 3 });

function barsOf(ep: Ep): BarSpec[] {
  let idx = 0;
  return ep.bars.map((b) => {
    const size = 2 ** b.log2;
    const spec = b.kind === 'mem32' ? bar.mem32(idx, size) : bar.mem64(idx, size, b.kind === 'pref64');
    idx += b.kind === 'mem32' ? 1 : 2;
    return spec;
  });
}

function buildPort(link: LinkBuilder, p: Port): void {
  if ('ep' in p) link.endpoint({ bars: barsOf(p.ep) });
  else {
    link.switch({}, (sw: SwitchBuilder) => {
      for (const q of p.sw) sw.port((l) => buildPort(l, q));
    });
  }
}

const opArb = fc.record({
  i: fc.nat(),
  t: fc.nat(),
  toRam: fc.boolean(),
  off: fc.nat(),
  len: fc.integer({ min: 1, max: 6000 }),
  write: fc.boolean(),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

/** The oracle's link rule: a device's link exists unless it is on a root bus or a switch's internal bus. */
function linkName(d: PciDev): string | null {
  const self = d.pciBus.self;
  if (d.pciBus.parent === null || self === null || self.pcieType === PCI_EXP_TYPE_UPSTREAM) return null;
  return `${d.name.slice(0, -1)}0`;
}

/** The devices from `d` up to (and including) the one on `stop`, or to the root bus. */
function chainTo(d: PciDev, stop: PciBus | null): PciDev[] {
  const out: PciDev[] = [];
  for (let x: PciDev | null = d; x !== null; x = x.pciBus.self) {
    out.push(x);
    if (x.pciBus === stop || x.pciBus.parent === null) break;
  }
  return out;
}

/** Byte equality without vitest's element-wise deep diff (fast on megabytes). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function busChain(d: PciDev): PciBus[] {
  const out: PciBus[] = [];
  for (let b: PciBus | null = d.pciBus; b !== null; b = b.parent) out.push(b);
  return out;
}

describe('fabric property: random DMAs on random trees (IOMMU off, ACS control clear)', () => {
  it('every byte lands where the oracle says and every counter matches the oracle', () => {
    fc.assert(
      fc.property(treeArb, fc.array(opArb, { minLength: 1, maxLength: 12 }), (tree, ops) => {
        const spec = topology('random')
          .systemRam([
            { base: 0, size: 2 * GiB },
            { base: 4 * GiB, size: GiB },
          ])
          .hostBridge({ memWindow: { cpuBase: 2 * GiB, size: GiB } }, (hb) => {
            for (const p of tree) hb.rootPort((rp) => buildPort(rp, p));
          })
          .build();
        const m = bootSpec(spec);
        const eps = m.sys.devices().filter((d) => d.hdrType === 0 && d.spec.bars !== undefined);
        const bars: Array<{ dev: PciDev; bar: number; shadow: Uint8Array }> = [];
        for (const d of eps) for (const b of d.spec.bars!) bars.push({ dev: d, bar: b.index, shadow: new Uint8Array(b.size) });
        const ramShadow = new Uint8Array(RAM_SPAN);
        const links: Record<string, { up: number; down: number }> = {};
        const bump = (name: string | null, dir: 'up' | 'down', n: number): void => {
          if (name === null) return;
          links[name] ??= { up: 0, down: 0 };
          links[name][dir] += n;
        };
        const rc = { in: 0, out: 0, peerForwarded: 0 };
        const dram = { read: 0, write: 0 };
        let moved = 0;
        let accounted = 0;
        for (const op of ops) {
          const init = eps[op.i % eps.length]!;
          const data = pattern(op.len, op.seed);
          const dirUp = op.write ? 'up' : 'down';
          const dirDown = op.write ? 'down' : 'up';
          if (op.toRam) {
            const off = op.off % (RAM_SPAN - op.len);
            const addr = RAM_BASE + off;
            if (op.write) {
              expect(m.sys.fabric.dmaWrite(init, addr, data)).toEqual({ status: 'ok' });
              ramShadow.set(data, off);
              dram.write += op.len;
              rc.in += op.len;
            } else {
              const out = new Uint8Array(op.len);
              expect(m.sys.fabric.dmaRead(init, addr, out)).toEqual({ status: 'ok' });
              expect(same(out, ramShadow.subarray(off, off + op.len))).toBe(true);
              dram.read += op.len;
              rc.out += op.len;
            }
            for (const x of chainTo(init, null)) bump(linkName(x), dirUp, op.len);
            moved += op.len;
            accounted += op.len;
            continue;
          }
          const t = bars[op.t % bars.length]!;
          const len = Math.min(op.len, pciResourceLen(t.dev, t.bar));
          const off = op.off % (pciResourceLen(t.dev, t.bar) - len + 1);
          const addr = pciBusAddress(t.dev, t.bar) + off;
          const chunk = data.subarray(0, len);
          if (op.write) {
            expect(m.sys.fabric.dmaWrite(init, addr, chunk)).toEqual({ status: 'ok' });
            t.shadow.set(chunk, off);
          } else {
            const out = new Uint8Array(len);
            expect(m.sys.fabric.dmaRead(init, addr, out)).toEqual({ status: 'ok' });
            expect(same(out, t.shadow.subarray(off, off + len))).toBe(true);
          }
          moved += len;
          accounted += len;
          if (t.dev === init) continue; // internal: no links
          const tBuses = new Set(busChain(t.dev));
          const lca = busChain(init).find((b) => tBuses.has(b))!;
          for (const x of chainTo(init, lca)) bump(linkName(x), dirUp, len);
          for (const x of chainTo(t.dev, lca)) bump(linkName(x), dirDown, len);
          if (lca.parent === null) {
            rc.in += len;
            rc.out += len;
            rc.peerForwarded += len;
          }
        }
        for (const b of bars) {
          const got = new Uint8Array(b.shadow.length);
          b.dev.barBacking(b.bar)!.read(0, got);
          expect(same(got, b.shadow), `${b.dev.name} BAR ${b.bar}`).toBe(true);
        }
        expect(same(m.kernel.memory.ramRead(RAM_BASE, RAM_SPAN), ramShadow)).toBe(true);
        const c = m.sys.fabric.counters();
        const got: Record<string, { up: number; down: number }> = {};
        for (const [n, l] of Object.entries(c.links)) if (l.up || l.down) got[n] = l;
        expect(got).toEqual(links);
        expect(c.rootComplexes['pci0000:00']).toMatchObject(rc);
        expect(c.dram).toEqual(dram);
        // Conservation: every byte moved ended in a BAR, DRAM or a device's internal counter.
        let sum = c.dram.read + c.dram.write;
        for (const d of Object.values(c.devices)) sum += d.barRead + d.barWrite;
        expect(sum).toBe(accounted);
        expect(moved).toBe(accounted);
        expect(c.errors).toBe(0);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
