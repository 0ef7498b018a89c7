import { describe, expect, it } from 'vitest';
import { Errno, kstrtobool, kstrtoint, kstrtoll, kstrtouint, kstrtoull, strtobool2018 } from '../src/index';

const EINVAL = -Errno.EINVAL;
const ERANGE = -Errno.ERANGE;

/**
 * Every input class of the two boolean parsers: [input, kstrtobool (6.6), strtobool (4.16)].
 * The only difference is t/T/f/F (kstrtox: accept 'true'/'false' style input, after 2018).
 */
const BOOL_TABLE: readonly [string, boolean | number, boolean | number][] = [
  // first character true
  ['y', true, true],
  ['Y', true, true],
  ['yes', true, true],
  ['1', true, true],
  ['1\n', true, true],
  ['123', true, true],
  ['t', true, EINVAL],
  ['T', true, EINVAL],
  ['true', true, EINVAL],
  // first character false
  ['n', false, false],
  ['N', false, false],
  ['no way', false, false],
  ['0', false, false],
  ['0\n', false, false],
  ['f', false, EINVAL],
  ['F', false, EINVAL],
  ['false', false, EINVAL],
  // o / O decided by the second character
  ['on', true, true],
  ['ON', true, true],
  ['oN', true, true],
  ['On\n', true, true],
  ['of', false, false],
  ['off', false, false],
  ['OFF', false, false],
  ['oF', false, false],
  ['o', EINVAL, EINVAL],
  ['O', EINVAL, EINVAL],
  ['ok', EINVAL, EINVAL],
  ['o\n', EINVAL, EINVAL],
  // everything else
  ['', EINVAL, EINVAL],
  ['\n', EINVAL, EINVAL],
  [' y', EINVAL, EINVAL],
  ['2', EINVAL, EINVAL],
  ['-1', EINVAL, EINVAL],
  ['e', EINVAL, EINVAL],
  ['enable', EINVAL, EINVAL],
  ['d', EINVAL, EINVAL],
  ['auto', EINVAL, EINVAL],
  ['x', EINVAL, EINVAL],
];

describe('kstrtobool (lib/kstrtox.c, 6.6) and strtobool (4.16, nvmet allow_p2pmem in seed patch 10)', () => {
  it.each(BOOL_TABLE)('%j → kstrtobool %j, strtobool2018 %j', (input, k66, k416) => {
    expect(kstrtobool(input)).toBe(k66);
    expect(strtobool2018(input)).toBe(k416);
  });

  it('looks only at the first one or two characters, for every first byte', () => {
    const accepted66 = new Set('yYtT1nNfF0');
    const accepted416 = new Set('yY1nN0');
    for (let c = 0; c < 128; c++) {
      const ch = String.fromCharCode(c);
      if (ch === 'o' || ch === 'O') continue;
      expect(kstrtobool(`${ch}garbage`) !== EINVAL).toBe(accepted66.has(ch));
      expect(strtobool2018(`${ch}garbage`) !== EINVAL).toBe(accepted416.has(ch));
    }
  });
});

describe('kstrtoull / kstrtoll / kstrtouint / kstrtoint (lib/kstrtox.c)', () => {
  it.each([
    ['0', 0, 0n],
    ['42\n', 0, 42n],
    ['+42', 10, 42n],
    ['0x1F', 0, 31n],
    ['0X1f', 16, 31n],
    ['1f', 16, 31n],
    ['017', 0, 15n],
    ['09', 0, EINVAL], // leading 0 means octal
    ['18446744073709551615', 10, 18446744073709551615n],
    ['18446744073709551616', 10, ERANGE],
    ['', 10, EINVAL],
    ['\n', 10, EINVAL],
    ['12 ', 10, EINVAL],
    ['12\n\n', 10, EINVAL],
    ['-1', 10, EINVAL],
    ['0x', 0, EINVAL],
    ['56', 7, 41n],
    ['7', 7, EINVAL],
    ['1', 17, EINVAL],
  ] as const)('kstrtoull(%j, %d) = %s', (s, base, want) => {
    expect(kstrtoull(s, base)).toBe(want);
  });

  it('signed and 32-bit variants range-check', () => {
    expect(kstrtoll('-9223372036854775808', 10)).toBe(-9223372036854775808n);
    expect(kstrtoll('-9223372036854775809', 10)).toBe(ERANGE);
    expect(kstrtoll('9223372036854775808', 10)).toBe(ERANGE);
    expect(kstrtoll('-+1', 10)).toBe(EINVAL);
    expect(kstrtouint('4294967295', 10)).toBe(4294967295);
    expect(kstrtouint('4294967296', 10)).toBe(ERANGE);
    expect(kstrtoint('-2147483648', 10)).toBe(-2147483648);
    expect(kstrtoint('2147483648', 10)).toBe(ERANGE);
    expect(kstrtoint('-0x10', 0)).toBe(-16);
  });
});
