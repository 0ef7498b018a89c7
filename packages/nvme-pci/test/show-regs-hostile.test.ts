/**
 * Regressions found by the hostile-input fuzzers of tooling/soak (project issue 9) in the
 * `nvme show-regs -H` parser (nvme-cli nvme-print.c show_ctrl_registers format).
 */
import { describe, expect, test } from 'vitest';
import { formatShowRegs, parseShowRegs } from '../src/index';

const HEAD = 'cap     : 1\nversion : 10000\ncmbloc  : 0\ncmbsz   : 0\n';

describe('parseShowRegs on long hand-edited decoded lines', () => {
  test('a tab-indented line of 200 000 spaces and no "(ABBR):" parses in linear time (was: quadratic regex backtracking, seconds)', () => {
    const t0 = performance.now();
    expect(parseShowRegs(`${HEAD}\t${' '.repeat(200_000)}x\n`, 'long.txt').ok).toBe(true);
    expect(parseShowRegs(`${HEAD}\t${'(A) '.repeat(50_000)}x\n`, 'long.txt').ok).toBe(true);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  test('the last "(ABBR):" of a decoded line is the one checked, as before', () => {
    const text = formatShowRegs({ cap: 0x2078030fffn, vs: 0x10000, cmbloc: 0x2, cmbsz: 0x20017 });
    expect(parseShowRegs(text, 'drive.txt').ok).toBe(true);
    const bad = text.replace('\tBase Indicator Register (BIR): 2', '\tBase (x) Indicator Register (BIR): 3 (See (OFST): 1)');
    expect(parseShowRegs(bad, 'drive.txt')).toEqual({ ok: false, error: "show-regs 'drive.txt': cmbloc: decoded line 50 says OFST is '1)' but the value gives '0'" });
  });
});

describe('parseShowRegs errors stay on one line', () => {
  test('a line with a lone CR (not a line end) is quoted with the CR escaped (was: the raw CR split the error)', () => {
    expect(parseShowRegs('\u000fab\rc\u0005', 'cr.txt')).toEqual({ ok: false, error: "show-regs 'cr.txt': line 1: '\\x0fab\\rc\\x05' is not a 'register : value' line" });
    expect(parseShowRegs(`${HEAD}cmbsz   : 1\r2\n`, 'cr.txt')).toEqual({ ok: false, error: "show-regs 'cr.txt': line 5: 'cmbsz   : 1\\r2' is not a 'register : value' line" });
  });
});
