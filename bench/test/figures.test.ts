/**
 * Each figure module runs at a small size and returns sane numbers (positive, finite), computed
 * from the work it did: copy bandwidth, findMany on a generated fabric (6.6 pci_p2pmem_find_many),
 * the matrix at two sizes, the lspci import of a dump built from the real fixtures.
 */
import { importLspci } from '@p2pdma/pci-core';
import { describe, expect, it } from 'vitest';
import { runFindMany } from '../src/find-many';
import { generateLspci } from '../src/generate-lspci';
import { runLspciParse } from '../src/lspci-parse';
import { runMatrixScaling } from '../src/matrix-scaling';
import { measureMemcpy } from '../src/memcpy';

const positive = (x: number): void => {
  expect(Number.isFinite(x)).toBe(true);
  expect(x).toBeGreaterThan(0);
};

describe('figure modules at small sizes', () => {
  it('memcpy: Uint8Array.prototype.set bandwidth', () => {
    const r = measureMemcpy(4096, { bufferBytes: 1 << 20, repMs: 5, reps: 3 });
    expect(r.copyBytes).toBe(4096);
    expect(r.samples).toHaveLength(3);
    r.samples.forEach(positive);
    positive(r.gbps);
    expect(() => measureMemcpy(4096, { bufferBytes: 1000 })).toThrow('buffer of 1000 bytes is smaller than one 4096-byte copy');
  });

  it('findMany (upstream pci_p2pmem_find_many): cold and warm microseconds, a provider chosen', () => {
    const r = runFindMany({
      shape: { functions: 400, hostBridges: 2, rootPortsPerHostBridge: 2, switchPorts: 2, leafPorts: 3, providers: 30 },
      warmCalls: 4,
      warmMs: 100,
    });
    positive(r.coldUs);
    positive(r.warmUs);
    expect(r.warmCalls).toBe(4);
    expect(r.clients).toHaveLength(8);
    expect(r.counts.functions).toBe(400);
    expect(r.counts.providers).toBe(30);
    expect(r.chosen).toMatch(/^000[01]:[0-9a-f]{2}:00\.[0-7]$/);
  });

  it('matrix scaling: one point per size and a finite exponent', () => {
    const r = runMatrixScaling({ sizes: [30, 60], reps: () => 1, shape: { hostBridges: 1, rootPortsPerHostBridge: 2, switchPorts: 2, leafPorts: 2 } });
    expect(r.points.map((p) => p.endpoints)).toEqual([30, 60]);
    for (const p of r.points) positive(p.ms);
    expect(Number.isFinite(r.exponent)).toBe(true);
  });

  it('the generated lspci dump is a consistent tree the importer accepts, record for record', () => {
    const d = generateLspci({ targetBytes: 100_000 });
    expect(d.bytes).toBeGreaterThanOrEqual(100_000);
    const r = importLspci(d.text, 'generated');
    if (!r.ok) throw new Error(r.error);
    expect(r.spec.devices).toHaveLength(d.functions);
    expect(r.spec.hostBridges).toHaveLength(d.domains);
    // Every root port, switch port and endpoint found its place: one ASM1812 switch per root port.
    const ups = r.spec.devices.filter((x) => x.pcie?.portType === 'upstream-port').length;
    const rps = r.spec.devices.filter((x) => x.pcie?.portType === 'root-port' && x.headerType === 1).length;
    expect(ups).toBe(rps);
    expect(() => generateLspci({ switchPorts: 0 })).toThrow('switchPorts must be 1..32, got 0');
  });

  it('lspci parse: MB/s of the import', () => {
    const r = runLspciParse({ targetBytes: 50_000, reps: 2 });
    positive(r.mbPerSec);
    expect(r.samplesMs).toHaveLength(2);
    expect(r.bytes).toBeGreaterThanOrEqual(50_000);
  });
});
