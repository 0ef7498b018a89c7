/**
 * The 2018 series' CMB copy (patch 07 "nvme-pci: Use PCI p2pmem subsystem to manage the CMB" and
 * patch 08 "nvme-pci: Add support for P2P memory in requests"): a READ on one drive into another
 * drive's CMB, then a WRITE on that drive from its CMB. Checks the destination bytes, DRAM data
 * bytes = 0 from the fabric counters, the per-link bytes, and the bounce-buffer comparison at
 * 2 × the size.
 */
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import { Kernel } from '@p2pdma/kernel';
import { attachNvmeControllers, nvmeInit } from '@p2pdma/nvme-pci';
import { enumerate, getBuiltin, kernelOptionsForTopology } from '@p2pdma/pci-core';
import { p2pdmaEnumerationHooks } from '@p2pdma/p2pdma';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import type { CmbCopyHookContext, CmbCopyResult } from '../src/cmb-copy';
import { CMB_COPY_CHUNK_BYTES, checkCmbCopyOptions, DEFAULT_CMB_COPY_SIZE, runCmbCopy } from '../src/cmb-copy';
import { CMB_REACH } from '../src/cmb-reach';

const SIZE = DEFAULT_CMB_COPY_SIZE;
const results: Partial<Record<P2pdmaPolicy, CmbCopyResult>> = {};
beforeAll(() => {
  for (const policy of ['v2', 'upstream'] as const) results[policy] = runCmbCopy({ policy });
});

const link = (r: CmbCopyResult['runs'][number], name: string) => r.links.find((l) => l.link === name) ?? { link: name, device: '', upBytes: 0, downBytes: 0 };

for (const policy of ['v2', 'upstream'] as const) {
  describe(`${policy}: P3700 05:00.0 → NoLoad 04:00.0 through the NoLoad's CMB`, () => {
    test('both copies verify: the destination holds exactly the source bytes', () => {
      const r = results[policy]!;
      expect(r.verified).toBe(true);
      expect(r.runs.map((x) => [x.staging, x.verified, x.firstDifference, x.error, x.fabricErrors, x.chunks])).toEqual([
        ['cmb', true, null, null, 0, SIZE / CMB_COPY_CHUNK_BYTES],
        ['system-memory', true, null, null, 0, SIZE / CMB_COPY_CHUNK_BYTES],
      ]);
    });

    test('CMB staging: 0 DRAM data bytes; the data crosses only the two drives\' links', () => {
      const c = results[policy]!.runs[0]!;
      expect(c.dram).toMatchObject({ dataRead: 0, dataWrite: 0 });
      expect(c.dramDataBytes).toBe(0);
      // The P3700 writes every byte up its link and the switch sends it down the NoLoad's link.
      expect(link(c, '0000:05:00.0').upBytes).toBeGreaterThanOrEqual(SIZE);
      expect(link(c, '0000:04:00.0').downBytes).toBeGreaterThanOrEqual(SIZE);
      // The NoLoad reads its own CMB inside the device: no link carries those bytes back.
      expect(link(c, '0000:04:00.0').upBytes).toBeLessThan(SIZE / 1000);
      expect(c.destinationInternalBytes).toBeGreaterThanOrEqual(SIZE);
      // Above the switch: commands only.
      const up = link(c, '0000:01:00.0');
      expect(up.upBytes + up.downBytes).toBe(c.rootComplexBytes);
      expect(c.rootComplexBytes).toBeLessThan(SIZE / 100);
      expect(c.links.map((l) => l.device)).toEqual(['Broadcom/PLX PEX 8747', 'Eideticom NoLoad (NVMe, with CMB)', 'Intel SSD DC P3700 (NVMe, no CMB)']);
    });

    test('bounce buffer in System RAM: DRAM data bytes exactly 2 × the size (written once by the source, read once by the destination)', () => {
      const b = results[policy]!.runs[1]!;
      expect(b.dram).toMatchObject({ dataWrite: SIZE, dataRead: SIZE });
      expect(b.dramDataBytes).toBe(2 * SIZE);
      const up = link(b, '0000:01:00.0');
      expect(up.upBytes).toBeGreaterThanOrEqual(SIZE);
      expect(up.downBytes).toBeGreaterThanOrEqual(SIZE);
      expect(b.rootComplexBytes).toBeGreaterThanOrEqual(2 * SIZE);
      expect(b.destinationInternalBytes).toBeLessThan(SIZE / 1000);
    });

    test('the commands cost the same DRAM bytes either way (same commands, same queues)', () => {
      const [c, b] = results[policy]!.runs;
      expect(c!.dram.commandRead).toBe(b!.dram.commandRead);
      expect(c!.dram.commandWrite).toBe(b!.dram.commandWrite);
      // Each drive's links carry the same bytes: only the path above the switch changes.
      expect(link(c!, '0000:05:00.0')).toEqual(link(b!, '0000:05:00.0'));
      expect(link(c!, '0000:04:00.0')).toEqual(link(b!, '0000:04:00.0'));
    });
  });
}

describe('verification', () => {
  /** Flips one staged byte through the CPU (MMIO into the CMB, or a RAM store) before the write. */
  const flipStaged = (chunk: number, offset: number) => (ctx: CmbCopyHookContext) => {
    if (ctx.chunk !== chunk) return;
    const b = ctx.kernel.memory.cpuRead(ctx.stagingPhys + offset, 1);
    if (typeof b === 'number') throw new Error(`cpuRead failed: ${b}`);
    expect(ctx.kernel.memory.cpuWrite(ctx.stagingPhys + offset, Uint8Array.of((b[0] ?? 0) ^ 0x5a))).toBe(0);
  };

  for (const staging of ['cmb', 'system-memory'] as const) {
    test(`${staging}: a staged byte changed between the read and the write fails the copy at its offset`, () => {
      const r = runCmbCopy({ size: 512 * 1024, stagings: [staging], afterRead: flipStaged(2, 777) });
      const run = r.runs[0]!;
      expect(r.verified).toBe(false);
      const at = 2 * CMB_COPY_CHUNK_BYTES + 777;
      expect(run.firstDifference).toBe(at);
      expect(run.error).toMatch(new RegExp(`^destination byte ${at} is 0x[0-9a-f]{2}, the source's is 0x[0-9a-f]{2}$`));
    });
  }

  test('property: any size and seed, under either policy: CMB 0 DRAM data bytes, bounce 2 × size, destination = source', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom<P2pdmaPolicy>('v2', 'upstream'), (chunks, seed, policy) => {
        const size = chunks * CMB_COPY_CHUNK_BYTES;
        const r = runCmbCopy({ size, seed, policy });
        expect(r.verified).toBe(true);
        expect(r.runs[0]!.dramDataBytes).toBe(0);
        expect(r.runs[1]!.dramDataBytes).toBe(2 * size);
      }),
      // Each case boots two machines, so fewer runs than a pure-function property.
      { seed: 42, numRuns: 20 },
    );
  });
});

describe('when the CMB is out of reach (root-ports machine: no switch, host bridge not whitelisted)', () => {
  for (const [policy, why] of [
    ['v2', 'pci_p2pmem_find picked no provider, not 0000:02:00.0'],
    ['upstream', 'pci_p2pdma_distance_many(0000:02:00.0, 0000:03:00.0 0000:02:00.0) is -1 (not supported)'],
  ] as const) {
    test(`${policy}: CMB_REACH says why (seed patch 01 same-switch rule / 6.6 host bridge whitelist)`, () => {
      const spec = getBuiltin('root-ports')!;
      const k = new Kernel({ ...kernelOptionsForTopology(spec), policy });
      const sys = enumerate(k, spec, p2pdmaEnumerationHooks(k));
      if ('error' in sys) throw new Error(sys.error.message);
      attachNvmeControllers(sys, {});
      expect(typeof nvmeInit(k)).not.toBe('number');
      const dst = sys.deviceList.find((d) => d.role === 'nvme' && d.spec.nvme?.cmb !== undefined)!;
      const src = sys.deviceList.find((d) => d.role === 'nvme' && d.spec.nvme?.cmb === undefined)!;
      expect(CMB_REACH[policy](dst, [src, dst])).toBe(why);
    });
  }

  test('and on seed-switch both policies allow it', () => {
    for (const policy of ['v2', 'upstream'] as const) expect(results[policy]!.runs[0]!.error).toBeNull();
  });
});

test('bad options are refused with the option and the reason', () => {
  expect(() => checkCmbCopyOptions({ size: 4096 })).toThrow('size 4096: must be a positive multiple of 131072 bytes (128 KiB chunks)');
  expect(() => checkCmbCopyOptions({ size: 2 ** 30 })).toThrow('size 1073741824: must be at most 268435456 bytes (256 MiB)');
  expect(() => checkCmbCopyOptions({ seed: 1.5 })).toThrow('seed 1.5: must be an integer from 0 to 4294967295');
  expect(() => checkCmbCopyOptions({ policy: 'v3' as P2pdmaPolicy })).toThrow("policy 'v3': expected one of v2, upstream");
  expect(() => runCmbCopy({ stagings: ['gpu' as 'cmb'] })).toThrow("staging 'gpu': expected one of cmb, system-memory");
});
