/**
 * The program's contract: the table on stdout and exit 0 when every byte read back equals the
 * byte written; exit 1 and a stderr line naming the first differing offset when one does not;
 * exit 2 and a one-line error for bad arguments.
 */
import { nvmeControllerOf } from '@p2pdma/nvme-pci';
import { describe, expect, test } from 'vitest';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, main, parseSize, USAGE } from '../src/main';
import type { OffloadHookContext } from '../src/offload';
import { OFFLOAD_JSON_SCHEMA } from '../src/report';

function run(argv: string[], hooks: Parameters<typeof main>[2] = {}) {
  let out = '';
  let err = '';
  const code = main(argv, { out: (s) => (out += s), err: (s) => (err += s) }, hooks);
  return { code, out, err };
}

describe('main', () => {
  test('success: exit 0, the six-row table, nothing on stderr', () => {
    const r = run(['--size', '128K', '--seed', '7']);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT_OK);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('NVMe-oF copy offload on seed-switch: a remote host writes 128K (131072 bytes, seed 7) in 64K I/Os, then reads it back');
    expect(lines[2]).toMatch(/^placement +policy +data +DRAM data: write +DRAM data: read +DRAM cmd +root complex +busiest link +GB\/s +bottleneck +verified$/);
    const rows = lines.slice(4, 10);
    expect(rows.map((l) => l.split(/ +/).slice(0, 2).join('/'))).toEqual(['system-memory/v2', 'p2pmem/v2', 'cmb/v2', 'system-memory/upstream', 'p2pmem/upstream', 'cmb/upstream']);
    for (const l of rows) expect(l.endsWith('  yes')).toBe(true);
    // System memory: 2 × 131072 in each phase; P2P placements: 0.
    const cells = rows.map((l) => l.split(/ {2,}/));
    expect(cells[0]!.slice(3, 5)).toEqual(['262144 (2×)', '262144 (2×)']);
    expect(cells[1]!.slice(3, 5)).toEqual(['0 (0×)', '0 (0×)']);
    expect(cells[5]!.slice(3, 5)).toEqual(['0 (0×)', '0 (0×)']);
    expect(r.out).toContain('p2pmem/v2: drive 0000:05:00.0, nvmet: using peer-to-peer memory on 0000:06:00.0 (4 p2pmem / 0 System RAM data buffers)');
  });

  test('--json: the same result as a versioned document', () => {
    const r = run(['--json', '--size=64K']);
    expect(r.code).toBe(EXIT_OK);
    const j = JSON.parse(r.out);
    expect(j.schema).toBe(OFFLOAD_JSON_SCHEMA);
    expect(j.verified).toBe(true);
    expect(j.rows).toHaveLength(6);
    expect(j.rows[3]).toMatchObject({ placement: 'system-memory', policy: 'upstream', write: { dramDataBytes: 131072 }, read: { dramDataBytes: 131072 } });
  });

  test('corruption: exit 1 and one stderr line per run naming the first differing offset', () => {
    const flip = (ctx: OffloadHookContext) => {
      const media = nvmeControllerOf(ctx.testbed.drive)!.media(1)!;
      media.poke(100_000, Uint8Array.of((media.peek(100_000, 1)[0] ?? 0) ^ 1));
    };
    const r = run(['--size', '128K'], { afterWritePhase: flip });
    expect(r.code).toBe(EXIT_FAILED);
    const errs = r.err.trimEnd().split('\n');
    expect(errs).toHaveLength(6);
    expect(errs[0]).toMatch(/^nvmf-p2p-offload: system-memory\/v2: verification failed: byte 100000 of the data set read back as 0x[0-9a-f]{2}, written as 0x[0-9a-f]{2}$/);
    expect(errs[5]).toMatch(/^nvmf-p2p-offload: cmb\/upstream: verification failed: byte 100000 /);
    expect(r.out.split('\n').slice(4, 10).every((l) => l.endsWith('  NO'))).toBe(true);
    expect(r.out).toContain('FAILED: byte 100000 of the data set');
  });

  test('bad arguments: exit 2, one line naming the argument and the reason, nothing on stdout', () => {
    const cases: [string[], string][] = [
      [['--size', '1000'], 'nvmf-p2p-offload: size 1000: must be a positive multiple of 65536 bytes (64 KiB I/Os)\n'],
      [['--size', 'big'], "nvmf-p2p-offload: --size 'big': expected a number of bytes with an optional K, M or G suffix\n"],
      [['--size'], 'nvmf-p2p-offload: option --size needs a value\n'],
      [['--seed', '-3'], "nvmf-p2p-offload: --seed '-3': expected a non-negative integer\n"],
      [['--seed', '99999999999'], 'nvmf-p2p-offload: seed 99999999999: must be an integer from 0 to 4294967295\n'],
      [['--fast'], "nvmf-p2p-offload: unknown argument '--fast'\n"],
      [['--json=yes'], "nvmf-p2p-offload: unknown argument '--json=yes'\n"],
      [['--size', '1G'], 'nvmf-p2p-offload: size 1073741824: must be at most 268435456 bytes (256 MiB)\n'],
    ];
    for (const [argv, msg] of cases) {
      const r = run(argv);
      expect({ argv, code: r.code, err: r.err, out: r.out }).toEqual({ argv, code: EXIT_USAGE, err: msg, out: '' });
    }
  });

  test('--topology root-ports: an impossible run is a row with its reason, not a failure (exit 0)', () => {
    const r = run(['--topology', 'builtin:root-ports', '--size', '64K']);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT_OK);
    const lines = r.out.split('\n');
    expect(lines[8]).toMatch(/^p2pmem +upstream +64K +- +- +- +- +- +- +- +no \(not run\)$/);
    expect(r.out).toContain('p2pmem/upstream: impossible: configfs enable: failed (-22)\n');
    expect(run(['--topology', 'mars']).err).toMatch(/^nvmf-p2p-offload: topology 'mars': no such built-in/);
  });

  test('--help prints the usage and runs nothing', () => {
    expect(run(['--help'])).toEqual({ code: EXIT_OK, out: USAGE, err: '' });
  });

  test('parseSize: bytes with binary K/M/G suffixes', () => {
    expect(parseSize('65536')).toBe(65536);
    expect(parseSize('64K')).toBe(65536);
    expect(parseSize('4m')).toBe(4 * 2 ** 20);
    expect(parseSize('1G')).toBe(2 ** 30);
    expect(parseSize('1.5M')).toBeNull();
    expect(parseSize('')).toBeNull();
    expect(parseSize('99999999999999999999')).toBeNull();
  });
});
