import { P2PDMA_POLICIES } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import type { ScenarioPlacementReport, ScenarioReport } from '../src/index';
import { runScenario, SIMULATE_JSON_SCHEMA } from '../src/index';
import { run } from './helpers';

/** The seed-switch machine's functions (pci-core's built-in `seed-switch`). */
const RNIC = '0000:03:00.0';
const P3700 = '0000:05:00.0';
const NOLOAD = '0000:04:00.0';
const CARD = '0000:06:00.0';

function placement(r: ScenarioReport, name: ScenarioPlacementReport['placement']): ScenarioPlacementReport {
  const p = r.placements.find((x) => x.placement === name);
  if (p === undefined) throw new Error(`no placement ${name}`);
  return p;
}

function link(p: ScenarioPlacementReport, name: string): { upBytes: number; downBytes: number } {
  const l = p.links.find((x) => x.link === name);
  return { upBytes: l?.upBytes ?? 0, downBytes: l?.downBytes ?? 0 };
}

describe('p2pdma simulate builtin:nvmf-p2p-offload (seed series: "Copy Offload in NVMe Fabrics with P2P PCI Memory")', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: JSON per placement, counters from the fabric; system memory puts each data byte on DRAM twice per phase, p2pmem and CMB keep the data off DRAM`, () => {
      const res = run('simulate', 'builtin:nvmf-p2p-offload', '--policy', policy, '--json');
      expect(res.err).toBe('');
      expect(res.code).toBe(0);
      const r = JSON.parse(res.out) as ScenarioReport;
      expect(r.schema).toBe(SIMULATE_JSON_SCHEMA);
      expect([r.scenario, r.policy, r.verified]).toEqual(['nvmf-p2p-offload', policy, true]);
      const D = r.dataBytes;
      expect(D).toBe(r.ios * r.ioBytes);
      expect(r.placements.map((p) => [p.placement, p.verified, p.error, p.fabricErrors])).toEqual([
        ['system-memory', true, null, 0],
        ['p2pmem', true, null, 0],
        ['cmb', true, null, 0],
      ]);
      const sys = placement(r, 'system-memory');
      const p2p = placement(r, 'p2pmem');
      const cmb = placement(r, 'cmb');
      expect([sys.provider, p2p.provider, cmb.provider]).toEqual([null, CARD, NOLOAD]);
      expect([sys.p2pBuffers, p2p.p2pBuffers, cmb.p2pBuffers]).toEqual([0, 2 * r.ios, 2 * r.ios]);
      // The DRAM counters include command traffic (capsules, SQEs, CQEs, PRP lists): the same
      // commands run in every placement, so the p2pmem run's DRAM bytes ARE the command bytes
      // (same drive, same I/Os). The rest of the system-memory run is the data: per phase, the
      // NIC writes each byte to DRAM once and the SSD reads it once (write), or the SSD writes it
      // once and the NIC reads it once (read) — exactly 2 × data each phase.
      expect(sys.drive).toBe(p2p.drive);
      expect(sys.phases.write.dramBytes - p2p.phases.write.dramBytes).toBe(2 * D);
      expect(sys.phases.read.dramBytes - p2p.phases.read.dramBytes).toBe(2 * D);
      expect(sys.dramBytes).toBe(sys.phases.write.dramBytes + sys.phases.read.dramBytes);
      // With P2P buffers no data byte touches DRAM: what is left is command traffic, < 1% of data.
      for (const p of [p2p, cmb]) {
        expect(p.phases.write.dramBytes).toBeLessThan(D / 100);
        expect(p.phases.read.dramBytes).toBeLessThan(D / 100);
        expect(p.rootComplexBytes).toBeLessThan(D / 100);
      }
      // System memory: the data crosses the root port's link both ways in both phases.
      expect(sys.rootComplexBytes).toBeGreaterThanOrEqual(4 * D);
      // p2pmem: every data byte goes into the card and out of it once per phase.
      expect(link(p2p, CARD)).toEqual({ upBytes: 2 * D, downBytes: 2 * D });
      // CMB: the card is idle; the NoLoad's link carries the data once each way, the P3700 nothing.
      expect(link(cmb, CARD)).toEqual({ upBytes: 0, downBytes: 0 });
      expect(link(cmb, P3700)).toEqual({ upBytes: 0, downBytes: 0 });
      expect(link(cmb, NOLOAD).upBytes).toBeGreaterThanOrEqual(D);
      expect(link(cmb, NOLOAD).downBytes).toBeGreaterThanOrEqual(D);
      // The RNIC's link carries the data once each way in every placement.
      for (const p of r.placements) {
        expect(link(p, RNIC).upBytes).toBeGreaterThanOrEqual(D);
        expect(link(p, RNIC).downBytes).toBeGreaterThanOrEqual(D);
        expect(p.throughputGBps).toBeGreaterThan(0);
      }
      // The P3700's media (1.9 GB/s write, half the I/Os are writes) limits both P3700 placements.
      expect([sys.bottleneck, p2p.bottleneck]).toEqual([`media ${P3700} write`, `media ${P3700} write`]);
      expect(sys.throughputGBps).toBeCloseTo(3.8, 9);
      expect(cmb.bottleneck).toMatch(/^(bar|media|link) 0000:04:00\.0/);
    });
  }

  it('the text report names each placement, its bottleneck and the verification', () => {
    const res = run('simulate', 'builtin:nvmf-p2p-offload', '--policy', 'v2');
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^scenario nvmf-p2p-offload on seed-switch, policy v2: 64 writes then 64 reads/);
    expect(res.out).toContain(`system-memory: drive ${P3700} — verified: every byte read back matched`);
    expect(res.out).toContain(`p2pmem: drive ${P3700}, p2pmem from ${CARD} — verified`);
    expect(res.out).toContain(`predicted 3.80 GB/s, bottleneck: media ${P3700} write`);
    expect(res.out.trimEnd().split('\n').at(-1)).toBe('all placements verified');
  });

  it('an unknown scenario is a usage error: one line, exit 2, nothing on stdout', () => {
    expect(run('simulate', 'builtin:nope')).toEqual({ code: 2, out: '', err: "p2pdma: simulate: unknown scenario 'builtin:nope' (known: builtin:nvmf-p2p-offload)\n" });
    // Without builtin: the word is a scenario file; a missing one that names a built-in gets a hint.
    expect(run('simulate', 'nvmf-p2p-offload')).toEqual({ code: 2, out: '', err: "p2pdma: simulate: cannot read 'nvmf-p2p-offload': no such file (did you mean builtin:nvmf-p2p-offload?)\n" });
    expect(run('simulate').err).toBe('p2pdma: simulate: missing <scenario> (builtin:nvmf-p2p-offload or a scenario file)\n');
    expect(run('simulate', 'builtin:nvmf-p2p-offload', '--policy', 'v3').code).toBe(2);
  });

  it('a placement the kernel refuses is reported unverified with the reason (6.6 on root-ports: nvmet_p2pmem_ns_enable -EINVAL)', () => {
    const r = runScenario({ name: 'root-ports-p2p', description: 'test', topology: 'root-ports', placements: ['system', 'p2pmem'] }, { policy: 'upstream', ios: 4 });
    expect(r.verified).toBe(false);
    expect(r.placements.map((p) => [p.placement, p.verified, p.error])).toEqual([
      ['system-memory', true, null],
      ['p2pmem', false, 'testbed: configfs enable: failed (-22)'],
    ]);
  });

  it('bad library options throw a RangeError naming the input', () => {
    expect(() => runScenario('nvmf-p2p-offload', { ioBytes: 1000 })).toThrow(new RangeError('ioBytes 1000 must be a positive multiple of 512'));
    expect(() => runScenario('nvmf-p2p-offload', { ios: 0 })).toThrow(new RangeError('ios 0 must be a positive integer'));
    expect(() => runScenario('nope')).toThrow(/^scenario 'nope': no such built-in/);
  });
});
