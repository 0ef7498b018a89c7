/**
 * Fabric fault injection, property-tested against oracles (fixed seed):
 * - dma-error: among a device's transfers after arming, exactly the `nth`..`nth+times-1`
 *   matching ones fail, each moving no byte (the link counters do not change).
 * - link-down: a DMA fails `dropped` exactly when its route (describeRoute) crosses the downed
 *   link or its initiator sits below it; every other DMA behaves as without the fault.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pciBusAddress } from '../src/bar';
import { FABRIC_FAULT_DMA_ERROR, FABRIC_FAULT_LINK_DOWN } from '../src/fabric-fault';
import { boot } from './helpers';

const DEVICES = ['0000:03:00.0', '0000:04:00.0', '0000:05:00.0', '0000:06:00.0'];

describe('fabric faults: properties (seed 42)', () => {
  it('dma-error fails exactly the nth..nth+times-1 matching transfers of the device and moves nothing for them', () => {
    const m = boot('seed-switch');
    const fabric = m.sys.fabric;
    const ram = m.kernel.memory.ramRanges()[0]!.base + 0x200000;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ dev: fc.integer({ min: 0, max: 3 }), write: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        (target, nth, times, ops) => {
          fabric.clearFault();
          const dev = m.dev(DEVICES[target]!);
          fabric.injectFault({ kind: FABRIC_FAULT_DMA_ERROR, device: dev, nth, times });
          let seen = 0;
          for (const op of ops) {
            const d = m.dev(DEVICES[op.dev]!);
            const link = fabric.linkOf(d)!;
            const before = fabric.counters().links[link]!;
            const buf = new Uint8Array(64);
            const r = op.write ? fabric.dmaWrite(d, ram, buf) : fabric.dmaRead(d, ram, buf);
            const after = fabric.counters().links[link]!;
            let expectFail = false;
            if (op.dev === target) {
              seen++;
              expectFail = seen >= nth && seen < nth + times;
            }
            expect(r.status).toBe(expectFail ? 'poisoned' : 'ok');
            if (expectFail) expect(after).toEqual(before);
          }
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  it('link-down drops exactly the DMAs whose route crosses the link or whose initiator is below it', () => {
    const m = boot('seed-switch');
    const fabric = m.sys.fabric;
    const links = fabric.linkInfo().map((l) => l.name);
    const ram = m.kernel.memory.ramRanges()[0]!.base + 0x200000;
    const targets = [ram, ...DEVICES.map((b) => pciBusAddress(m.dev(b), 0))];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: links.length - 1 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: targets.length - 1 }), (li, di, ti) => {
        fabric.clearFault();
        const link = links[li]!;
        const dev = m.dev(DEVICES[di]!);
        const addr = targets[ti]!;
        const route = fabric.describeRoute(dev, addr, 'read');
        const crosses = route.hops.some((h) => h.kind === 'link' && h.name === link);
        let below = false;
        for (let d: typeof dev | null = dev; d !== null; d = d.pciBus.self) if (fabric.linkOf(d) === link) below = true;
        const baseline = fabric.dmaRead(dev, addr, new Uint8Array(16)).status;
        fabric.injectFault({ kind: FABRIC_FAULT_LINK_DOWN, link });
        const r = fabric.dmaRead(dev, addr, new Uint8Array(16));
        expect(r.status).toBe(crosses || below ? 'dropped' : baseline);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
