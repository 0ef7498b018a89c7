/**
 * Parsing user input written to sysfs/configfs attributes: booleans and integers, exactly as
 * the kernel's helpers accept them.
 *
 * Two boolean parsers are modelled because the accepted set changed:
 * - `kstrtobool` (Linux 6.6, lib/kstrtox.c): first character `y Y t T 1` → true, `n N f F 0`
 *   → false; `o`/`O` followed by `n`/`N` → true ("on"), by `f`/`F` → false ("off"/"of");
 *   anything else, including the empty string, → `-EINVAL`. Only the first one or two
 *   characters are looked at: `"yes"`, `"true"`, `"1\n"`, `"no way"` are all accepted.
 * - `strtobool2018` (Linux 4.16, `strtobool` as the 2018 seed's nvmet `allow_p2pmem` uses it):
 *   the same without `t T f F`, so `"true"`/`"false"` are `-EINVAL` there.
 *
 * @kernel lib/kstrtox.c (kstrtobool, kstrtoull, kstrtoll, kstrtouint, kstrtoint),
 *   include/linux/string.h (strtobool, 4.16)
 */
import type { NegErrno } from './errno';
import { err } from './errno';

/** First character → value, for `kstrtobool` (6.6). */
const KSTRTOBOOL_FIRST: ReadonlyMap<string, boolean> = new Map([
  ['y', true],
  ['Y', true],
  ['t', true],
  ['T', true],
  ['1', true],
  ['n', false],
  ['N', false],
  ['f', false],
  ['F', false],
  ['0', false],
]);

/** First character → value, for the 2018 `strtobool` (4.16). */
const STRTOBOOL_2018_FIRST: ReadonlyMap<string, boolean> = new Map([
  ['y', true],
  ['Y', true],
  ['1', true],
  ['n', false],
  ['N', false],
  ['0', false],
]);

/** Second character after `o`/`O` → value ("on" / "off"), shared by both generations. */
const ON_OFF_SECOND: ReadonlyMap<string, boolean> = new Map([
  ['n', true],
  ['N', true],
  ['f', false],
  ['F', false],
]);

function parseBool(s: string, first: ReadonlyMap<string, boolean>): boolean | NegErrno {
  const c0 = s.charAt(0);
  const v = first.get(c0);
  if (v !== undefined) return v;
  if (c0 === 'o' || c0 === 'O') {
    const v2 = ON_OFF_SECOND.get(s.charAt(1));
    if (v2 !== undefined) return v2;
  }
  return err('EINVAL');
}

/**
 * Parses a boolean as Linux 6.6 does.
 * @param s the input (e.g. what was written to an attribute, newline included).
 * @returns `true`/`false`, or `-EINVAL`.
 * @kernel kstrtobool
 */
export function kstrtobool(s: string): boolean | NegErrno {
  return parseBool(s, KSTRTOBOOL_FIRST);
}

/**
 * Parses a boolean as Linux 4.16's `strtobool` did (no `t`/`f`).
 * @param s the input.
 * @returns `true`/`false`, or `-EINVAL`.
 * @kernel strtobool (4.16)
 */
export function strtobool2018(s: string): boolean | NegErrno {
  return parseBool(s, STRTOBOOL_2018_FIRST);
}

const DIGIT: ReadonlyMap<string, number> = new Map(
  [...'0123456789abcdef'].flatMap((c, i) => [
    [c, i],
    [c.toUpperCase(), i],
  ]),
);

/** Parses an unsigned integer exactly as `kstrtoull` (BigInt, so 64-bit overflow is exact). */
function parseU64(s: string, base: number, allowPlus = true): bigint | NegErrno {
  if (base !== 0 && !(Number.isInteger(base) && base >= 2 && base <= 16)) return err('EINVAL');
  let i = 0;
  if (allowPlus && s.charAt(0) === '+') i = 1;
  let b = base;
  const zeroX = s.charAt(i) === '0' && (s.charAt(i + 1) === 'x' || s.charAt(i + 1) === 'X');
  if (b === 0) b = zeroX && (DIGIT.get(s.charAt(i + 2)) ?? 99) < 16 ? 16 : s.charAt(i) === '0' ? 8 : 10;
  if (b === 16 && zeroX) i += 2;
  let v = 0n;
  const start = i;
  const big = BigInt(b);
  for (; i < s.length; i++) {
    const d = DIGIT.get(s.charAt(i));
    if (d === undefined || d >= b) break;
    v = v * big + BigInt(d);
    if (v > 0xffffffffffffffffn) return err('ERANGE');
  }
  if (i === start) return err('EINVAL');
  if (s.charAt(i) === '\n') i++;
  if (i !== s.length) return err('EINVAL');
  return v;
}

/**
 * Parses an unsigned 64-bit integer.
 * @param s the input: optional `+`, digits in `base`, optional single trailing newline.
 * @param base 0 (auto: `0x` hex, leading `0` octal, else decimal) or 2..16 (the kernel does not
 *   check the base; the model answers `-EINVAL` outside 2..16).
 * @returns the value as a bigint, `-ERANGE` on overflow, `-EINVAL` on anything else.
 * @kernel kstrtoull
 */
export function kstrtoull(s: string, base = 0): bigint | NegErrno {
  return parseU64(s, base);
}

/**
 * Parses a signed 64-bit integer.
 * @param s the input (a leading `-` allowed).
 * @param base as `kstrtoull`.
 * @returns the value as a bigint, `-ERANGE`, or `-EINVAL`.
 * @kernel kstrtoll
 */
export function kstrtoll(s: string, base = 0): bigint | NegErrno {
  if (s.charAt(0) === '-') {
    const v = parseU64(s.slice(1), base, false);
    if (typeof v === 'number') return v;
    return v > 0x8000000000000000n ? err('ERANGE') : -v;
  }
  const v = parseU64(s, base);
  if (typeof v === 'number') return v;
  return v > 0x7fffffffffffffffn ? err('ERANGE') : v;
}

/**
 * Parses an unsigned 32-bit integer.
 * @param s the input.
 * @param base as `kstrtoull`.
 * @returns the value, `-ERANGE` above 2^32 − 1, or `-EINVAL`.
 * @kernel kstrtouint
 */
export function kstrtouint(s: string, base = 0): number | NegErrno {
  const v = parseU64(s, base);
  if (typeof v === 'number') return v;
  return v > 0xffffffffn ? err('ERANGE') : Number(v);
}

/**
 * Parses a signed 32-bit integer.
 * @param s the input.
 * @param base as `kstrtoull`.
 * @returns the value, `-ERANGE` outside the int range, or `-EINVAL`.
 * @kernel kstrtoint
 */
export function kstrtoint(s: string, base = 0): number | NegErrno {
  const v = kstrtoll(s, base);
  if (typeof v === 'number') return v;
  return v > 0x7fffffffn || v < -0x80000000n ? err('ERANGE') : Number(v);
}
