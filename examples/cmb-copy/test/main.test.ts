/**
 * The program's contract: both tables and exit 0 when both destinations equal the source; exit 1
 * with the first differing offset when one does not; exit 2 and one line for bad arguments.
 */
import { describe, expect, test } from 'vitest';
import type { CmbCopyHookContext } from '../src/cmb-copy';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, main, parseSize, USAGE } from '../src/main';
import { CMB_COPY_JSON_SCHEMA } from '../src/report';

function run(argv: string[], hooks: Parameters<typeof main>[2] = {}) {
  let out = '';
  let err = '';
  const code = main(argv, { out: (s) => (out += s), err: (s) => (err += s) }, hooks);
  return { code, out, err };
}

describe('main', () => {
  test('success: exit 0, the runs table with 0 and 2 × DRAM data bytes, the link table', () => {
    const r = run(['--size', '256K', '--policy', 'v2']);
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT_OK);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('CMB copy on seed-switch (v2): 256K (262144 bytes, seed 1) from 0000:05:00.0 nsid 1 to 0000:04:00.0 nsid 1 in 128K chunks');
    const cells = lines.slice(4, 6).map((l) => l.split(/ {2,}/));
    expect(cells.map((c) => [c[0], c[2], c[6]])).toEqual([
      ['cmb', '0 (0×)', 'yes'],
      ['system-memory', '524288 (2×)', 'yes'],
    ]);
    expect(lines[7]).toBe('bytes per link, up (towards the root) / down:');
    expect(lines[8]).toMatch(/^link +device +cmb +system-memory$/);
    expect(lines.slice(10, 13).map((l) => l.split(/ {2,}/)[0])).toEqual(['0000:01:00.0', '0000:04:00.0', '0000:05:00.0']);
  });

  test('--json: a versioned document with both runs', () => {
    const r = run(['--json', '--size=128K']);
    expect(r.code).toBe(EXIT_OK);
    const j = JSON.parse(r.out);
    expect(j.schema).toBe(CMB_COPY_JSON_SCHEMA);
    expect(j.policy).toBe('upstream');
    expect(j.runs.map((x: { staging: string; dramDataBytes: number }) => [x.staging, x.dramDataBytes])).toEqual([
      ['cmb', 0],
      ['system-memory', 262144],
    ]);
  });

  test('corruption of the staged data: exit 1, one stderr line per run naming the offset', () => {
    const hook = (ctx: CmbCopyHookContext) => {
      if (ctx.chunk === 0) expect(ctx.kernel.memory.cpuWrite(ctx.stagingPhys + 5, Uint8Array.of(0xee, 0xee))).toBe(0);
    };
    const r = run(['--size', '128K'], { afterRead: hook });
    expect(r.code).toBe(EXIT_FAILED);
    const errs = r.err.trimEnd().split('\n');
    // The data set's byte 5 or 6 may already be 0xee; the first differing one is named.
    expect(errs).toHaveLength(2);
    expect(errs[0]).toMatch(/^cmb-copy: cmb: destination byte [56] is 0xee, the source's is 0x[0-9a-f]{2}$/);
    expect(errs[1]).toMatch(/^cmb-copy: system-memory: destination byte [56] is 0xee, the source's is 0x[0-9a-f]{2}$/);
  });

  test('bad arguments: exit 2, one line, nothing on stdout', () => {
    const cases: [string[], string][] = [
      [['--size', '100K'], 'cmb-copy: size 102400: must be a positive multiple of 131072 bytes (128 KiB chunks)\n'],
      [['--size', 'x'], "cmb-copy: --size 'x': expected a number of bytes with an optional K, M or G suffix\n"],
      [['--policy', 'v1'], "cmb-copy: --policy 'v1': expected one of v2, upstream\n"],
      [['--policy'], 'cmb-copy: option --policy needs a value\n'],
      [['--seed', 'abc'], "cmb-copy: --seed 'abc': expected a non-negative integer\n"],
      [['copy'], "cmb-copy: unknown argument 'copy'\n"],
    ];
    for (const [argv, msg] of cases) expect({ argv, ...run(argv) }).toEqual({ argv, code: EXIT_USAGE, out: '', err: msg });
  });

  test('--help and parseSize', () => {
    expect(run(['-h'])).toEqual({ code: EXIT_OK, out: USAGE, err: '' });
    expect(parseSize('128K')).toBe(131072);
    expect(parseSize('2M')).toBe(2 * 2 ** 20);
    expect(parseSize('-1')).toBeNull();
  });
});
