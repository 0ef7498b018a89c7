/**
 * The headline example: the NVMe-oF copy offload of the seed series (patch 10, "nvmet: Optionally
 * use PCI P2P memory", and Linux 6.6's per-namespace p2pmem) on the seed-switch machine. Checks
 * the DRAM-byte equalities per placement and policy from the fabric counters, that the figures
 * equal `p2pdma simulate`'s, and that a byte corrupted between the write and the read-back fails
 * the run with its offset.
 */
import type { ScenarioReport } from '@p2pdma/cli';
import { runScenario } from '@p2pdma/cli';
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import { nvmeControllerOf } from '@p2pdma/nvme-pci';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import type { OffloadHookContext, OffloadResult } from '../src/offload';
import { checkOffloadOptions, DEFAULT_OFFLOAD_SIZE, OFFLOAD_IO_BYTES, runOffloadExample } from '../src/offload';

const DATA = DEFAULT_OFFLOAD_SIZE;
let result: OffloadResult;
const scenario: Partial<Record<P2pdmaPolicy, ScenarioReport>> = {};

beforeAll(() => {
  result = runOffloadExample();
  for (const policy of ['v2', 'upstream'] as const) scenario[policy] = runScenario('nvmf-p2p-offload', { policy, ioBytes: OFFLOAD_IO_BYTES, ios: DATA / OFFLOAD_IO_BYTES, seed: 1 });
});

const row = (policy: P2pdmaPolicy, placement: string) => {
  const r = result.rows.find((x) => x.policy === policy && x.placement === placement);
  if (r === undefined) throw new Error(`no row ${placement}/${policy}`);
  return r;
};

/** Flips the bits of one byte of the exported namespace's media (the drive's stored data). */
function flipMediaByte(offset: number) {
  return (ctx: OffloadHookContext) => {
    const media = nvmeControllerOf(ctx.testbed.drive)?.media(ctx.testbed.nsid);
    if (media === null || media === undefined) throw new Error('no media');
    const b = media.peek(offset, 1)[0] ?? 0;
    media.poke(offset, Uint8Array.of(b ^ 0xff));
  };
}

describe('six runs: three placements under v2 (4.16 + seed) and upstream (6.6)', () => {
  test('every row is present in table order and verified', () => {
    expect(result.rows.map((r) => `${r.placement}/${r.policy}`)).toEqual([
      'system-memory/v2',
      'p2pmem/v2',
      'cmb/v2',
      'system-memory/upstream',
      'p2pmem/upstream',
      'cmb/upstream',
    ]);
    expect(result.verified).toBe(true);
    for (const r of result.rows) {
      expect(r.error).toBeNull();
      expect(r.firstDifference).toBeNull();
      expect(r.fabricErrors).toBe(0);
      expect(r.ios).toBe(DATA / OFFLOAD_IO_BYTES);
    }
  });

  for (const policy of ['v2', 'upstream'] as const) {
    test(`${policy}: system memory puts exactly 2 × the data through DRAM per phase (NIC writes it, SSD reads it; then SSD writes, NIC reads)`, () => {
      const r = row(policy, 'system-memory');
      expect(r.write.dram).toMatchObject({ dataWrite: DATA, dataRead: DATA });
      expect(r.write.dramDataBytes).toBe(2 * DATA);
      expect(r.read.dram).toMatchObject({ dataWrite: DATA, dataRead: DATA });
      expect(r.read.dramDataBytes).toBe(2 * DATA);
      expect(r.dramDataBytes).toBe(4 * DATA);
      expect(r.provider).toBeNull();
      expect(r.p2pBuffers).toBe(0);
      expect(r.systemBuffers).toBe(2 * r.ios);
      expect(r.buffers).toBe('System RAM');
    });

    test(`${policy}: p2pmem card and CMB put 0 data bytes through DRAM in both phases (seed patch 10 / 6.6 p2pmem)`, () => {
      for (const placement of ['p2pmem', 'cmb']) {
        const r = row(policy, placement);
        expect(r.write.dram).toMatchObject({ dataWrite: 0, dataRead: 0 });
        expect(r.read.dram).toMatchObject({ dataWrite: 0, dataRead: 0 });
        expect(r.p2pBuffers).toBe(2 * r.ios);
        expect(r.systemBuffers).toBe(0);
        // Commands and completions still live in host DRAM.
        expect(r.dramCommandBytes).toBeGreaterThan(0);
      }
      const line = policy === 'v2' ? (dev: string) => `nvmet: using peer-to-peer memory on ${dev}` : (dev: string) => `nvmet: using p2pmem on ${dev} for nsid 1`;
      expect(row(policy, 'p2pmem').buffers).toBe(line('0000:06:00.0'));
      expect(row(policy, 'cmb').buffers).toBe(line('0000:04:00.0'));
    });

    test(`${policy}: command bytes do not depend on where the data goes (same drive, same commands)`, () => {
      expect(row(policy, 'system-memory').dramCommandBytes).toBe(row(policy, 'p2pmem').dramCommandBytes);
      expect(row(policy, 'system-memory').write.dram.commandRead).toBe(row(policy, 'p2pmem').write.dram.commandRead);
    });

    test(`${policy}: DRAM, root-complex bytes, throughput and bottleneck equal p2pdma simulate's for the same workload`, () => {
      const s = scenario[policy]!;
      expect(s.verified).toBe(true);
      for (const p of s.placements) {
        const r = row(policy, p.placement);
        expect(r.write.dramDataBytes + r.write.dramCommandBytes).toBe(p.phases.write.dramBytes);
        expect(r.read.dramDataBytes + r.read.dramCommandBytes).toBe(p.phases.read.dramBytes);
        expect(r.write.rootComplexBytes).toBe(p.phases.write.rootComplexBytes);
        expect(r.read.rootComplexBytes).toBe(p.phases.read.rootComplexBytes);
        expect(r.throughputGBps).toBe(p.throughputGBps);
        expect(r.bottleneck).toBe(p.bottleneck);
        const busiest = [...p.links].sort((a, b) => b.upBytes + b.downBytes - (a.upBytes + a.downBytes))[0];
        expect(r.busiestLink).toEqual(busiest);
      }
    });
  }

  test('P2P keeps the data below the switch: root-complex bytes are commands only', () => {
    for (const policy of ['v2', 'upstream'] as const) {
      expect(row(policy, 'system-memory').rootComplexBytes).toBeGreaterThanOrEqual(4 * DATA);
      expect(row(policy, 'p2pmem').rootComplexBytes).toBeLessThan(DATA / 64);
      expect(row(policy, 'p2pmem').busiestLink).toEqual({ link: '0000:06:00.0', upBytes: 2 * DATA, downBytes: 2 * DATA });
    }
  });
});

describe('verification catches corruption between the write and the read-back', () => {
  const size = 256 * 1024;
  for (const [policy, placement, offset] of [
    ['v2', 'p2pmem', 70_001],
    ['upstream', 'cmb', 3],
    ['upstream', 'system', size - 1],
  ] as const) {
    test(`${placement}/${policy}: a flipped media byte at ${offset} fails the run and names the offset`, () => {
      const r = runOffloadExample({ size, policies: [policy], placements: [placement], afterWritePhase: flipMediaByte(offset) });
      expect(r.verified).toBe(false);
      const x = r.rows[0]!;
      expect(x.verified).toBe(false);
      expect(x.firstDifference).toBe(offset);
      expect(x.error).toMatch(new RegExp(`^byte ${offset} of the data set read back as 0x([0-9a-f]{2}), written as 0x([0-9a-f]{2})$`));
      const [, got, want] = /0x(..), written as 0x(..)/.exec(x.error!)!;
      expect(Number.parseInt(got!, 16) ^ Number.parseInt(want!, 16)).toBe(0xff);
    });
  }

  test('the hook is called once per run, after every write and before any read', () => {
    const seen: string[] = [];
    const r = runOffloadExample({
      size: 64 * 1024,
      afterWritePhase: (ctx) => {
        const c = ctx.testbed.sys.fabric.counters();
        seen.push(`${ctx.placement}/${ctx.policy}:${ctx.data.length}:${c.errors}`);
        // The drive already holds the data set.
        const media = nvmeControllerOf(ctx.testbed.drive)!.media(1)!;
        expect(Buffer.from(media.peek(0, ctx.data.length)).equals(Buffer.from(ctx.data))).toBe(true);
      },
    });
    expect(r.verified).toBe(true);
    expect(seen).toEqual(['system/v2:65536:0', 'p2pmem/v2:65536:0', 'cmb/v2:65536:0', 'system/upstream:65536:0', 'p2pmem/upstream:65536:0', 'cmb/upstream:65536:0']);
  });
});

describe('sizes and seeds', () => {
  test('property: any size and seed keep system = 2 × data per phase and P2P = 0 (data path, upstream)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 0xffffffff }), (ios, seed) => {
        const size = ios * OFFLOAD_IO_BYTES;
        const r = runOffloadExample({ size, seed, policies: ['upstream'], placements: ['system', 'p2pmem'] });
        const [sys, p2p] = r.rows;
        expect(r.verified).toBe(true);
        expect(sys!.write.dramDataBytes).toBe(2 * size);
        expect(sys!.read.dramDataBytes).toBe(2 * size);
        expect(p2p!.dramDataBytes).toBe(0);
        expect(sys!.ios).toBe(ios);
      }),
      // Each case boots two machines (~0.1 s each), so fewer runs than the pure-function properties.
      { seed: 42, numRuns: 25 },
    );
  });

  test('bad options are refused with the option and the reason, before any machine is built', () => {
    expect(() => checkOffloadOptions({ size: 4096 })).toThrow('size 4096: must be a positive multiple of 65536 bytes (64 KiB I/Os)');
    expect(() => checkOffloadOptions({ size: 0 })).toThrow('size 0: must be a positive multiple of 65536 bytes (64 KiB I/Os)');
    expect(() => checkOffloadOptions({ size: 512 * 2 ** 20 })).toThrow(`size ${512 * 2 ** 20}: must be at most 268435456 bytes (256 MiB)`);
    expect(() => checkOffloadOptions({ seed: -1 })).toThrow('seed -1: must be an integer from 0 to 4294967295');
    expect(() => checkOffloadOptions({ policies: ['v3' as P2pdmaPolicy] })).toThrow("policy 'v3': expected one of v2, upstream");
    expect(() => runOffloadExample({ placements: ['gpu' as 'system'] })).toThrow("placement 'gpu': expected one of system, p2pmem, cmb");
  });
});

describe('rows are never hidden: root-ports, where every peer path crosses a non-whitelisted host bridge', () => {
  test('v2 falls back to System RAM at connect (patch 10); 6.6 refuses p2pmem at namespace enable, and the row says why', () => {
    const r = runOffloadExample({ topology: 'root-ports', size: 128 * 1024 });
    expect(r.topology).toBe('root-ports');
    expect(r.rows).toHaveLength(6);
    const p2pV2 = row2(r, 'v2', 'p2pmem');
    expect(p2pV2.verified).toBe(true);
    expect(p2pV2.buffers).toBe('System RAM (nvmet: no supported peer-to-peer memory devices found)');
    expect(p2pV2.dramDataBytes).toBe(4 * 128 * 1024);
    const p2pUp = row2(r, 'upstream', 'p2pmem');
    expect(p2pUp).toMatchObject({ ios: 0, verified: false, error: 'impossible: configfs enable: failed (-22)', buffers: 'none (not run)' });
    const cmbUp = row2(r, 'upstream', 'cmb');
    expect(cmbUp.buffers).toBe("System RAM (nvmet: no peer-to-peer memory is available that's supported by mlx5_0 and /dev/nvme0n1)");
    expect(cmbUp.verified).toBe(true);
  });

  test('an unknown topology is refused before anything runs', () => {
    expect(() => checkOffloadOptions({ topology: 'nope' })).toThrow(/^topology 'nope': no such built-in \(known: .*seed-switch/);
  });
});

function row2(r: OffloadResult, policy: P2pdmaPolicy, placement: string) {
  const x = r.rows.find((y) => y.policy === policy && y.placement === placement);
  if (x === undefined) throw new Error(`no row ${placement}/${policy}`);
  return x;
}
