/**
 * The whole runner at tiny sizes writes results.json with every key issue 8 names, the meta and
 * the targets, and renders the table (figure, value, unit, target, pass/miss).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TARGETS } from '../src/report';
import { QUICK_SUITE, runSuite } from '../src/suite';

const dir = mkdtempSync(join(tmpdir(), 'p2pdma-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runSuite (tiny sizes)', () => {
  it('writes one JSON object with every figure, meta and targets', () => {
    const out = join(dir, 'nested', 'results.json');
    const { table } = runSuite({ ...QUICK_SUITE, out });
    const r = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(r).sort()).toEqual(
      [
        'check_scaling',
        'find_many_us',
        'lspci_parse_mb_s',
        'memcpy_gbps',
        'meta',
        'stack_efficiency',
        'stack_iops',
        'stack_iops_128k',
        'stack_iops_dram',
        'targets',
      ].sort(),
    );
    for (const k of ['stack_iops', 'stack_iops_dram', 'stack_iops_128k', 'memcpy_gbps', 'stack_efficiency', 'lspci_parse_mb_s']) {
      expect(typeof r[k]).toBe('number');
      expect(r[k] as number).toBeGreaterThan(0);
    }
    const fm = r['find_many_us'] as { cold: number; warm: number };
    expect(Object.keys(fm).sort()).toEqual(['cold', 'warm']);
    expect(fm.cold).toBeGreaterThan(0);
    const cs = r['check_scaling'] as { points: { endpoints: number; ms: number }[]; exponent: number };
    expect(cs.points.map((p) => Object.keys(p).sort())).toEqual([
      ['endpoints', 'ms'],
      ['endpoints', 'ms'],
    ]);
    expect(Number.isFinite(cs.exponent)).toBe(true);
    const meta = r['meta'] as { node: string; cpuModel: string; cpuCount: number; date: string; durationsMs: Record<string, number> };
    expect(meta.node).toBe(process.version);
    expect(meta.cpuCount).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(meta.date))).toBe(false);
    expect(meta.durationsMs['total']).toBeGreaterThan(0);
    const targets = r['targets'] as Record<string, { target: string; pass: boolean }>;
    expect(Object.keys(targets)).toEqual(TARGETS.map((t) => t.name));
    expect(targets['stack_iops']).toEqual({ target: '>= 500000', pass: false });
    // The quick sizes have no 2,000-endpoint point: that target cannot pass.
    expect(targets['check_scaling.ms_at_2000']).toEqual({ target: '< 5000', pass: false });
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^figure\s+value\s+unit\s+target\s+pass\/miss$/);
    expect(lines.find((l) => l.startsWith('stack_iops (4 KiB, p2pmem)'))).toMatch(/IOPS\s+>= 500000\s+MISS$/);
    expect(lines.some((l) => l.startsWith('lspci_parse_mb_s'))).toBe(true);
  });
});
