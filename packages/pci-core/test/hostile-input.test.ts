/**
 * Hostile input for the topology parsers (project issue 9): every input either loads or gets an
 * error naming the input; never an exception, a hang or a half-built object. An accepted
 * topology also enumerates or is refused with `{ error }`, and a refused enumeration leaves the
 * kernel with no devices (enumerate's "validate first, then build" contract).
 *
 * Inputs: arbitrary strings; mutations of the real `lspci` dumps (line deletes, duplicates,
 * swaps, cuts, flipped characters, inserted BDFs, changed bus numbers, CRLF); mutations of the
 * seed-switch topology JSON (path deletes, type changes, huge/negative numbers, NaN-ish strings,
 * deep nesting).
 */
import { Kernel } from '@p2pdma/kernel';
import { lspciFixtureNames, readLspciFixture } from '@p2pdma/test-utils';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getBuiltin } from '../src/builtins';
import { enumerate, kernelOptionsForTopology } from '../src/enumerate';
import { importLspci } from '../src/lspci';
import type { TopologySpec } from '../src/topology-spec';
import { formatTopologyErrors, parseTopologyJson, validateTopologySpec } from '../src/topology-validate';

const NAME = 'hostile-input.txt';

/** An accepted spec enumerates or is refused cleanly, and a refusal leaves no devices behind. */
function checkEnumerates(spec: TopologySpec): void {
  const kernel = new Kernel(kernelOptionsForTopology(spec));
  const r = enumerate(kernel, spec);
  if ('error' in r) {
    expect(r.error.message.length).toBeGreaterThan(0);
    expect(kernel.devices()).toEqual([]);
  } else {
    expect(r.devices().length).toBe(spec.devices.length);
  }
}

/** importLspci's contract: ok with a spec that validates (and enumerates), or a one-line error naming the input. */
function checkLspci(text: string, enumerateToo: boolean): void {
  const r = importLspci(text, NAME);
  if (r.ok) {
    const v = validateTopologySpec(r.spec);
    expect(v.ok).toBe(true);
    if (enumerateToo) checkEnumerates(r.spec);
  } else {
    expect(r.error.length).toBeGreaterThan(NAME.length);
    expect(r.error.startsWith(`${NAME}: `)).toBe(true);
    expect(r.error).not.toContain('\n');
  }
}

/** parseTopologyJson's contract: ok with a spec that validates (and enumerates), or errors that render naming the input. */
function checkJson(text: string, enumerateToo: boolean): void {
  const r = parseTopologyJson(text, NAME);
  if (r.ok) {
    expect(validateTopologySpec(r.spec).ok).toBe(true);
    if (enumerateToo) checkEnumerates(r.spec);
  } else {
    expect(r.errors.length).toBeGreaterThan(0);
    for (const e of r.errors) {
      expect(e.path.startsWith('$')).toBe(true);
      expect(e.path).not.toContain('\n');
      expect(e.message.length).toBeGreaterThan(0);
      expect(e.message).not.toContain('\n');
    }
    expect(formatTopologyErrors(r.errors, NAME).split('\n')[0]!.startsWith(`${NAME}: `)).toBe(true);
  }
}

// ---------------------------------------------------------------------------------------------
// lspci text

const FIXTURES = lspciFixtureNames().map((name) => ({ name, text: readLspciFixture(name) }));

/** One edit of a dump's lines (indexes are taken modulo the current length). */
type LineOp =
  | { op: 'delete'; at: number }
  | { op: 'duplicate'; at: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'flip'; at: number; pos: number; ch: string }
  | { op: 'insertBdf'; at: number; bdf: string; tail: string }
  | { op: 'bus'; at: number; bus: number }
  | { op: 'cut'; at: number; pos: number };

const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
const bdfArb = fc
  .tuple(fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }), fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0, max: 7 }))
  .map(([d, b, s, f]) => `${d === undefined ? '' : `${hex(d, 4)}:`}${hex(b, 2)}:${hex(s, 2)}.${f}`);
const tailArb = fc.constantFrom(
  ' PCI bridge [0604]: Intel Corporation Device [8086:6f08] (rev 01)',
  ' Non-Volatile memory controller [0108]: Intel Corporation Device [8086:0953] (rev 01) (prog-if 02 [NVM Express])',
  ' Ethernet controller [0200]: Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]',
  ' Host bridge [0600]: Intel Corporation Device [8086:6f00] (rev 01)',
  ' VGA compatible controller [0300]: NVIDIA Corporation Device [10de:1b06]',
  '',
  ' Bus: primary=00, secondary=01, subordinate=ff, sec-latency=0',
  '\tBus: primary=00, secondary=05, subordinate=02, sec-latency=0',
  '\tRegion 0: Memory at f0000000 (64-bit, prefetchable) [size=3M]',
  '\tCapabilities: [40] Express (v2) Downstream Port (Slot+), MSI 00',
  '\tCapabilities: [148 v1] Access Control Services',
  '\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans+',
  '\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir- CmpltRedir- UpstreamFwd- EgressCtrl+ DirectTrans-',
  '\tCapabilities: [160 v1] Single Root I/O Virtualization (SR-IOV)',
  '\t\tInitial VFs: 65535, Total VFs: 65535, Number of VFs: 65535, Function Dependency Link: 00',
  '\t\tVF offset: 1, stride: 1, Device ID: 1018',
  '-[0000:00]-+-00.0\n           \\-03.0-[01-ff]----00.0',
  '\t\tLnkCap:\tPort #0, Speed 64GT/s, Width x64, ASPM not supported',
  '\t\tLnkSta:\tSpeed 2.5GT/s (downgraded), Width x0 (downgraded)',
);
const lineOpArb: fc.Arbitrary<LineOp> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), pos: fc.nat(), ch: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }),
  fc.record({ op: fc.constant('insertBdf' as const), at: fc.nat(), bdf: bdfArb, tail: tailArb }),
  fc.record({ op: fc.constant('bus' as const), at: fc.nat(), bus: fc.integer({ min: 0, max: 0x1ff }) }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat(), pos: fc.nat() }),
);

const BUS_FIELD_RE = /\b(primary|secondary|subordinate)=[0-9a-f]{2}/;
const HEADER_BUS_RE = /^((?:[0-9a-f]{4}:)?)[0-9a-f]{2}(:[0-9a-f]{2}\.[0-7] )/;

function applyLineOps(text: string, ops: readonly LineOp[]): string {
  const lines = text.split('\n');
  for (const o of ops) {
    if (lines.length === 0) lines.push('');
    const i = o.at % lines.length;
    const line = lines[i]!;
    switch (o.op) {
      case 'delete':
        lines.splice(i, 1);
        break;
      case 'duplicate':
        lines.splice(i, 0, line);
        break;
      case 'swap': {
        const j = o.with % lines.length;
        lines[i] = lines[j]!;
        lines[j] = line;
        break;
      }
      case 'flip': {
        const p = line.length === 0 ? 0 : o.pos % line.length;
        lines[i] = line.slice(0, p) + o.ch + line.slice(p + 1);
        break;
      }
      case 'insertBdf':
        lines.splice(i, 0, `${o.bdf}${o.tail}`);
        break;
      case 'bus': {
        const b = hex(o.bus & 0xff, 2);
        if (BUS_FIELD_RE.test(line)) lines[i] = line.replace(BUS_FIELD_RE, `$1=${b}`);
        else lines[i] = line.replace(HEADER_BUS_RE, `$1${b}$2`);
        break;
      }
      case 'cut':
        // Truncate the whole dump here (a file cut mid-way).
        lines.splice(i + 1);
        lines[i] = line.slice(0, line.length === 0 ? 0 : o.pos % line.length);
        break;
    }
  }
  return lines.join('\n');
}

const mutatedFixtureArb = fc
  .record({
    fixture: fc.integer({ min: 0, max: FIXTURES.length - 1 }),
    ops: fc.array(lineOpArb, { minLength: 1, maxLength: 6 }),
    crlf: fc.boolean(),
  })
  .map(({ fixture, ops, crlf }) => {
    const text = applyLineOps(FIXTURES[fixture]!.text, ops);
    return crlf ? text.replace(/\n/g, '\r\n') : text;
  });

/** Strings made of lspci-looking pieces, so the parser gets past its first checks. */
const lspciishArb = fc
  .array(fc.oneof(tailArb, bdfArb.map((b) => `${b} `), bdfArb, fc.string({ maxLength: 12 }), fc.constantFrom('\n', '\r\n', '\t', ': ', '[', ']', ' ')), { maxLength: 30 })
  .map((parts) => parts.join(''));

describe('importLspci on hostile text: ok with a valid spec, or a one-line error naming the input (issue 9)', () => {
  it('arbitrary strings never throw', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => checkLspci(s, false)),
      { seed: 42, numRuns: 500 },
    );
  });

  it('strings of lspci-looking pieces never throw, and accepted ones enumerate', () => {
    fc.assert(
      fc.property(lspciishArb, (s) => checkLspci(s, true)),
      { seed: 43, numRuns: 400 },
    );
  });

  it('mutated real dumps (delete/duplicate/swap lines, cut, flip, insert BDFs, change buses, CRLF) never throw', () => {
    fc.assert(
      fc.property(mutatedFixtureArb, (s) => checkLspci(s, true)),
      { seed: 44, numRuns: 250 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// topology JSON

const SEED = JSON.parse(JSON.stringify(getBuiltin('seed-switch'))) as unknown;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path (list of keys) in a JSON value, the root included. */
function paths(v: unknown, prefix: Array<string | number> = [], out: Array<Array<string | number>> = []): Array<Array<string | number>> {
  out.push(prefix);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) paths(v[i], [...prefix, i], out);
  }
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}
const SEED_PATHS = paths(SEED);

function deepNest(depth: number): Json {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

const hostileValueArb: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, -0.5, 1.5, 2 ** 53, 2 ** 64, -(2 ** 63), 1e308, -1e308, 255, 256, 65536, 0xffffffff),
  fc.constantFrom<Json>('NaN', 'Infinity', '-Infinity', '1e999', '0x10', '', ' ', '0000:00:00.0', 'zz:zz.z', '10000:00:00.0', '00:1f.7', 'unknown', '__proto__', 'constructor', '00:00.0\n', 'two\nlines', 'cr\r', 'nul\u0000'),
  fc.integer().map((n): Json => n),
  fc.double().map((n): Json => (Number.isFinite(n) ? n : 1e308)),
  fc.string({ maxLength: 20 }).map((s): Json => s),
  fc.constantFrom<Json>([], {}, [null], { bdf: '0000:00:00.0' }, ['SV', 'SV'], ['XX']),
  fc.integer({ min: 50, max: 3000 }).map(deepNest),
);

type JsonOp = { op: 'delete'; path: number } | { op: 'set'; path: number; value: Json } | { op: 'setKey'; path: number; key: string; value: Json };
const jsonOpArb: fc.Arbitrary<JsonOp> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), path: fc.nat() }),
  fc.record({ op: fc.constant('set' as const), path: fc.nat(), value: hostileValueArb }),
  fc.record({ op: fc.constant('setKey' as const), path: fc.nat(), key: fc.constantFrom('extra', '__proto__', 'bdf', 'bars', 'acs', 'pcie', 'secondaryBus', 'memWindow', 'cmb', 'multi\nline'), value: hostileValueArb }),
);

function applyJsonOps(ops: readonly JsonOp[]): unknown {
  const root = { v: JSON.parse(JSON.stringify(SEED)) as Json };
  for (const o of ops) {
    const p = SEED_PATHS[o.path % SEED_PATHS.length]!;
    // Walk to the parent; the path may no longer exist after earlier edits.
    let parent: Json | { v: Json } = root;
    let key: string | number = 'v';
    let ok = true;
    for (const k of p) {
      const next: Json | undefined = (parent as Record<string | number, Json>)[key];
      if (next === null || typeof next !== 'object') {
        ok = false;
        break;
      }
      parent = next;
      key = k;
    }
    if (!ok) continue;
    const holder = parent as Record<string | number, Json>;
    if (o.op === 'delete') {
      if (Array.isArray(holder) && typeof key === 'number') holder.splice(key, 1);
      else delete holder[key];
    } else if (o.op === 'set') {
      holder[key] = o.value;
    } else {
      const target = holder[key];
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) Object.defineProperty(target, o.key, { value: o.value, enumerable: true, writable: true, configurable: true });
    }
  }
  return root.v;
}

/** A host bridge window that validates but may be too small, misplaced or over RAM at enumeration. */
const windowArb = fc.record({
  cpuBase: fc.constantFrom(0, 0x1000_0000, 0x8000_0000, 0xfe00_0000, 2 ** 32, 2 ** 40),
  size: fc.constantFrom(1 << 20, 1 << 24, 1 << 28, 2 ** 32),
});
const mutatedJsonArb = fc
  .tuple(fc.array(jsonOpArb, { minLength: 1, maxLength: 5 }), fc.option(windowArb, { nil: undefined }))
  .map(([ops, memWindow]) => {
    const v = applyJsonOps(ops);
    const hb = (v as { hostBridges?: unknown } | null)?.hostBridges;
    if (memWindow && Array.isArray(hb) && hb[0] !== null && typeof hb[0] === 'object') (hb[0] as Record<string, unknown>)['memWindow'] = memWindow;
    return v;
  });

describe('parseTopologyJson / validateTopologySpec on hostile input: ok with a valid spec, or errors naming the input (issue 9)', () => {
  it('arbitrary strings and JSON-looking strings never throw', () => {
    const jsonish = fc.array(fc.constantFrom('{', '}', '[', ']', ',', ':', '"schema"', '"p2pdma-topology/v1"', '"devices"', '"hostBridges"', '1e999', '-0', 'null', 'true', '"\\u0000"', '"\\ud800"', ' ', '\n'), { maxLength: 40 });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), jsonish.map((a) => a.join(''))), (s) => checkJson(s, false)),
      { seed: 45, numRuns: 500 },
    );
  });

  it('arbitrary JSON values never throw in validateTopologySpec', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        const r = validateTopologySpec(v);
        if (!r.ok) expect(r.errors.length).toBeGreaterThan(0);
        else expect(validateTopologySpec(r.spec).ok).toBe(true);
      }),
      { seed: 46, numRuns: 300 },
    );
  });

  it('mutations of the seed-switch topology (path deletes, type changes, huge/negative numbers, NaN-ish strings, deep nesting) never throw; accepted ones enumerate', () => {
    fc.assert(
      fc.property(mutatedJsonArb, (v) => {
        // The value itself, and the value as a file (serialized, sometimes cut short).
        const r = validateTopologySpec(v);
        if (r.ok) expect(validateTopologySpec(r.spec).ok).toBe(true);
        else expect(r.errors.length).toBeGreaterThan(0);
        // (Deleting the root leaves undefined, which serializes to nothing: an empty file.)
        checkJson(JSON.stringify(v, null, 1) ?? '', true);
      }),
      { seed: 47, numRuns: 300 },
    );
  });

  it('seed-switch JSON cut at random offsets gives a located JSON error', () => {
    const text = JSON.stringify(SEED, null, 2);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length - 1 }), (n) => {
        const r = parseTopologyJson(text.slice(0, n), NAME);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.errors[0]!.message).toMatch(/^invalid JSON: .* at line \d+ column \d+$/);
      }),
      { seed: 48, numRuns: 200 },
    );
  });
});

describe('regressions found by the hostile-input properties', () => {
  it('several bridge problems in one dump give ONE error line (was: one line per problem, joined by newlines)', () => {
    // Shrunk from a mutated laptop-egpu-tb3-2x3090 dump: a bridge whose secondary bus is its own
    // bus also claims a bus another bridge claims, so validation reports several problems.
    const text = [
      '00:00.0 Host bridge [0600]: Intel Corporation Device [8086:6f00] (rev 01)',
      '',
      '00:01.0 PCI bridge [0604]: Intel Corporation Device [8086:6f02] (rev 01) (prog-if 00 [Normal decode])',
      '\tBus: primary=00, secondary=00, subordinate=01, sec-latency=0',
      '',
      '00:02.0 PCI bridge [0604]: Intel Corporation Device [8086:6f04] (rev 01) (prog-if 00 [Normal decode])',
      '\tBus: primary=00, secondary=01, subordinate=01, sec-latency=0',
      '',
      '',
    ].join('\n');
    expect(importLspci(text, 'two-problems.txt')).toEqual({
      ok: false,
      error: [
        'two-problems.txt: line 1: cannot connect the bridges: must list at least one host bridge',
        "two-problems.txt: line 4: cannot connect the bridges: secondary bus 00 must be above the bridge's own (primary) bus 00",
        'two-problems.txt: line 7: cannot connect the bridges: bus 0x01 is claimed by bridges 0000:00:01.0 and 0000:00:02.0',
        'two-problems.txt: line 4: cannot connect the bridges: bus-number cycle: 0000:00:01.0 → 0000:00:01.0',
        'two-problems.txt: line 4: cannot connect the bridges: bus range 00-01 of bridge 0000:00:01.0 is not nested in the range 00-01 of its parent 0000:00:01.0',
      ].join('; '),
    });
  });
});

describe('regressions found by probing the JSON error locator with deep nesting', () => {
  it('unterminated JSON nested 20000 levels deep gives a located error (was: RangeError, call stack exceeded)', () => {
    const text = '{"schema":"p2pdma-topology/v1","devices":['.repeat(20000);
    expect(parseTopologyJson(text, NAME)).toEqual({
      ok: false,
      errors: [{ path: '$', message: 'invalid JSON: unexpected end of input at line 1 column 840001' }],
    });
    expect(parseTopologyJson(`${'['.repeat(100000)}1,]`, NAME)).toEqual({
      ok: false,
      errors: [{ path: '$', message: 'invalid JSON: unexpected \']\' at line 1 column 100003' }],
    });
  });

  it('the locator still names each kind of syntax error', () => {
    const cases: Array<[string, string]> = [
      ['[1,]', "unexpected ']' at line 1 column 4"],
      ['{"a":1,}', "expected a property name, found '}' at line 1 column 8"],
      ['{"a" 1}', "expected ':' after a property name, found '1' at line 1 column 6"],
      ['[1 2]', "expected ',' or ']' after an array element, found '2' at line 1 column 4"],
      ['{"a":{"b":[1]}\n', "expected ',' or '}' after a property value, found end of input at line 2 column 1"],
      ['{"a":"\\x"}', "bad escape '\\x' in string at line 1 column 8"],
      ['[] x', "unexpected 'x' after the end of the JSON value at line 1 column 4"],
    ];
    for (const [text, message] of cases) expect(parseTopologyJson(text, NAME)).toEqual({ ok: false, errors: [{ path: '$', message: `invalid JSON: ${message}` }] });
  });
});

describe('regressions: input text quoted in a validation error cannot break its line', () => {
  it('a value or key with a newline is escaped in the message and the path (was: the raw newline)', () => {
    const spec = JSON.parse(JSON.stringify(getBuiltin('seed-switch'))) as Record<string, unknown>;
    spec['cpu'] = '00:00.0\n';
    spec['two\nlines'] = 1;
    expect(validateTopologySpec(spec)).toEqual({
      ok: false,
      errors: [
        { path: '$.two\\nlines', message: "unknown property 'two\\nlines'" },
        { path: '$.cpu', message: "must be an object, got '00:00.0\\n'" },
      ],
    });
  });
});
