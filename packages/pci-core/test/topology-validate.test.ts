// Topology validation: the tree that bus numbers describe (as the kernel derives it during
// pci_scan_bridge: a bus hangs below the bridge whose secondary number it is) and BAR rules
// (power-of-two sizes, natural alignment, 64-bit BARs taking two slots).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TOPOLOGY_SCHEMA_V1 } from '../src/topology-spec';
import { deriveTree, formatTopologyErrors, parseTopologyJson, type TopologyError, validateTopologySpec } from '../src/topology-validate';

type Json = Record<string, unknown>;

const hb = (bus = 0, extra: Json = {}): Json => ({ domain: 0, bus, ...extra });
const bridge = (bdf: string, sec: number, sub: number, portType = 'root-port'): Json => ({
  bdf,
  headerType: 1,
  secondaryBus: sec,
  subordinateBus: sub,
  pcie: { portType },
});
const ep = (bdf: string, extra: Json = {}): Json => ({ bdf, headerType: 0, pcie: { portType: 'endpoint' }, ...extra });
const spec = (devices: Json[], extra: Json = {}): Json => ({ schema: TOPOLOGY_SCHEMA_V1, hostBridges: [hb()], devices, ...extra });

function errorsOf(value: unknown): TopologyError[] {
  const r = validateTopologySpec(value);
  if (r.ok) throw new Error('expected validation to fail');
  return r.errors;
}

/** A small valid machine: root port 00:01.0 -> switch 01:00.0 -> ports 02:00.0, 02:01.0 -> endpoints. */
function switchSpec(): Json {
  return spec([
    { bdf: '0000:00:00.0', headerType: 0, classCode: 0x060000, vendor: 0x8086, device: 0x6f00 },
    bridge('0000:00:01.0', 1, 4),
    bridge('0000:01:00.0', 2, 4, 'upstream-port'),
    bridge('0000:02:00.0', 3, 3, 'downstream-port'),
    bridge('0000:02:01.0', 4, 4, 'downstream-port'),
    ep('0000:03:00.0', { bars: [{ index: 0, size: 0x4000, kind: 'mem', is64: true }] }),
  ]);
}

describe('validateTopologySpec: valid input', () => {
  it('accepts a well-formed topology and returns a normalized copy', () => {
    const input = spec([bridge('00:01.0', 1, 1), ep('01:00.0', { bars: [{ index: 0, size: 16384, kind: 'mem' }] })]);
    const r = validateTopologySpec(input);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.spec.devices.map((d) => d.bdf)).toEqual(['0000:00:01.0', '0000:01:00.0']);
    // A copy: changing it leaves the input alone.
    r.spec.devices[1]!.bars![0]!.size = 1;
    expect(((input['devices'] as Json[])[1]!['bars'] as Json[])[0]!['size']).toBe(16384);
  });

  it('accepts the multi-level switch machine', () => {
    expect(validateTopologySpec(switchSpec()).ok).toBe(true);
  });
});

describe('validateTopologySpec: shape errors name the JSON path', () => {
  it('rejects a non-object and a wrong schema', () => {
    expect(errorsOf(42)).toEqual([{ path: '$', message: 'must be an object, got 42' }]);
    expect(errorsOf({ ...spec([]), schema: 'v0' })).toContainEqual({
      path: '$.schema',
      message: "must be 'p2pdma-topology/v1', got 'v0'",
    });
  });

  it('reports unknown properties (typos)', () => {
    expect(errorsOf(spec([{ ...bridge('00:01.0', 1, 1), subordinate: 1 }]))).toContainEqual({
      path: '$.devices[0].subordinate',
      message: "unknown property 'subordinate'",
    });
  });

  it('reports a BAR size that is not a power of two at $.devices[3].bars[0].size', () => {
    const s = switchSpec();
    (s['devices'] as Json[])[3] = { ...(s['devices'] as Json[])[3], bars: [{ index: 0, size: 0x3000, kind: 'mem' }] };
    expect(errorsOf(s)).toEqual([{ path: '$.devices[3].bars[0].size', message: 'must be a power of two, got 0x3000' }]);
  });

  it("reports an unknown port type 'rootport'", () => {
    const errors = errorsOf(spec([{ ...bridge('00:01.0', 1, 1), pcie: { portType: 'rootport' } }]));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.path).toBe('$.devices[0].pcie.portType');
    expect(errors[0]!.message).toMatch(/^unknown port type 'rootport' \(expected one of endpoint, .*root-port/);
  });

  it('reports BAR index > 5, a 64-bit BAR at index 5 and two BARs in one slot', () => {
    const errors = errorsOf(
      spec([
        ep('0000:00:02.0', {
          bars: [
            { index: 6, size: 4096, kind: 'mem' },
            { index: 5, size: 4096, kind: 'mem', is64: true },
            { index: 0, size: 4096, kind: 'mem', is64: true },
            { index: 1, size: 4096, kind: 'mem' },
          ],
        }),
      ]),
    );
    expect(errors).toEqual([
      { path: '$.devices[0].bars[0].index', message: 'BAR index 6 is out of range 0-5' },
      { path: '$.devices[0].bars[1].is64', message: 'a 64-bit BAR cannot be at index 5: its upper half would need index 6' },
      { path: '$.devices[0].bars[3].index', message: 'BAR 1 overlaps BAR slot 1 already used by $.devices[0].bars[2]' },
    ]);
  });

  it('reports a fixed BAR address not aligned to its size', () => {
    const errors = errorsOf(spec([ep('0000:00:02.0', { bars: [{ index: 0, size: 0x4000, kind: 'mem', is64: true, address: 0x1_0000_2000 }] })]));
    expect(errors).toEqual([{ path: '$.devices[0].bars[0].address', message: 'address 0x100002000 is not aligned to the BAR size 0x4000' }]);
  });

  it('reports ACS control bits the capability lacks', () => {
    const errors = errorsOf(spec([{ ...bridge('00:01.0', 1, 1), acs: { cap: ['SV', 'RR'], ctrl: ['RR', 'CR'] } }]));
    expect(errors).toEqual([{ path: '$.devices[0].acs.ctrl', message: 'control bits CR are set but not in the capability (SV RR)' }]);
  });

  it('reports a p2pmem region outside its BAR and a CMB in a missing BAR', () => {
    const errors = errorsOf(
      spec([
        ep('0000:00:02.0', {
          bars: [{ index: 4, size: 0x100000, kind: 'mem', is64: true, prefetchable: true }],
          p2pmem: { bar: 4, offset: 0x80000, size: 0x100000 },
          nvme: { cmb: { bar: 2, size: 0x1000, flags: ['WDS', 'RDS'] } },
        }),
      ]),
    );
    expect(errors).toEqual([
      { path: '$.devices[0].p2pmem.size', message: 'p2pmem [offset 0x80000, 0x100000 bytes] does not fit in BAR 4 (0x100000 bytes)' },
      { path: '$.devices[0].nvme.cmb.bar', message: 'CMB is in BAR 2, which the device does not have' },
    ]);
  });

  it('reports a bridge without bus numbers', () => {
    expect(errorsOf(spec([{ bdf: '0000:00:01.0', headerType: 1 }]))).toEqual([
      { path: '$.devices[0].secondaryBus', message: 'a bridge (headerType 1) needs a secondary bus' },
      { path: '$.devices[0].subordinateBus', message: 'a bridge needs a subordinate bus' },
    ]);
  });
});

describe('validateTopologySpec: structure', () => {
  it('reports a duplicate BDF (in any spelling)', () => {
    expect(errorsOf(spec([bridge('00:01.0', 1, 1), ep('0000:01:00.0'), ep('01:00.0')]))).toEqual([
      { path: '$.devices[2].bdf', message: 'duplicate BDF 0000:01:00.0 (also $.devices[1])' },
    ]);
  });

  it('reports a bus claimed by two bridges', () => {
    const errors = errorsOf(spec([bridge('0000:00:01.0', 5, 5), bridge('0000:00:02.0', 5, 5), ep('0000:05:00.0')]));
    expect(errors).toEqual([{ path: '$.devices[1].secondaryBus', message: 'bus 0x05 is claimed by bridges 0000:00:01.0 and 0000:00:02.0' }]);
  });

  it('reports sibling bridges with overlapping ranges', () => {
    const errors = errorsOf(spec([bridge('0000:00:01.0', 1, 4), bridge('0000:00:02.0', 3, 5)]));
    expect(errors).toContainEqual({ path: '$.devices[1].secondaryBus', message: 'bus 0x03 is claimed by bridges 0000:00:01.0 and 0000:00:02.0' });
  });

  it('reports a bus-number cycle', () => {
    const errors = errorsOf(spec([bridge('0000:01:00.0', 2, 2, 'upstream-port'), bridge('0000:02:00.0', 1, 1, 'downstream-port')]));
    expect(errors).toContainEqual({
      path: '$.devices[0].secondaryBus',
      message: 'bus-number cycle: 0000:01:00.0 → 0000:02:00.0 → 0000:01:00.0',
    });
    expect(errors).toContainEqual({
      path: '$.devices[1].secondaryBus',
      message: "secondary bus 01 must be above the bridge's own (primary) bus 02",
    });
  });

  it('reports an orphan device', () => {
    expect(errorsOf(spec([bridge('0000:00:01.0', 1, 1), ep('0000:07:00.0')]))).toEqual([
      { path: '$.devices[1].bdf', message: 'device 0000:07:00.0 is on bus 07, which no bridge or host bridge provides' },
    ]);
  });

  it('reports subordinate < secondary and ranges not nested in the parent', () => {
    const errors = errorsOf(spec([bridge('0000:00:01.0', 1, 3), bridge('0000:01:00.0', 2, 5, 'upstream-port'), bridge('0000:00:02.0', 7, 6)]));
    expect(errors).toContainEqual({ path: '$.devices[2].subordinateBus', message: 'subordinate bus 06 is below the secondary bus 07' });
    expect(errors).toContainEqual({
      path: '$.devices[1].subordinateBus',
      message: 'bus range 02-05 of bridge 0000:01:00.0 is not nested in the range 01-03 of its parent 0000:00:01.0',
    });
  });

  it('reports overlapping fixed BARs, naming both', () => {
    const errors = errorsOf(
      spec(
        [
          bridge('0000:00:03.0', 3, 3),
          bridge('0000:00:04.0', 4, 4),
          ep('0000:03:00.0', { bars: [{ index: 0, size: 0x4000, kind: 'mem', address: 0xf0000000 }] }),
          ep('0000:04:00.0', { bars: [{ index: 2, size: 0x2000, kind: 'mem', address: 0xf0002000 }] }),
        ],
        { systemRam: [{ base: 0, size: 0x80000000 }] },
      ),
    );
    expect(errors).toEqual([
      {
        path: '$.devices[3].bars[0].address',
        message: 'BAR 0 of 0000:03:00.0 [0xf0000000-0xf0003fff] overlaps BAR 2 of 0000:04:00.0 [0xf0002000-0xf0003fff]',
      },
    ]);
  });

  it('reports a fixed BAR outside its host bridge window or in System RAM', () => {
    const errors = errorsOf(
      spec([ep('0000:00:02.0', { bars: [{ index: 0, size: 0x1000, kind: 'mem', address: 0x1000 }] })], {
        hostBridges: [hb(0, { memWindow: { cpuBase: 0x2_0000_0000, size: 0x1000_0000 } })],
      }),
    );
    expect(errors.map((e) => e.message)).toEqual([
      'BAR 0 of 0000:00:02.0 [0x1000-0x1fff] is outside the memory window [0x200000000-0x20fffffff] of its host bridge',
      'BAR 0 of 0000:00:02.0 [0x1000-0x1fff] overlaps System RAM [0x0-0xbfffffff]',
    ]);
  });

  it('reports host bridges with duplicate or overlapping bus ranges, and windows over RAM', () => {
    const errors = errorsOf({
      schema: TOPOLOGY_SCHEMA_V1,
      hostBridges: [hb(0), hb(0x80), hb(0x80), hb(0x40, { busEnd: 0x50, memWindow: { cpuBase: 0, size: 0x1000 } })],
      devices: [],
    });
    expect(errors).toEqual([
      { path: '$.hostBridges[0].busEnd', message: 'bus range 00-ff of domain 0000 overlaps the root bus 40 of $.hostBridges[3]' },
      { path: '$.hostBridges[2]', message: 'duplicate host bridge for bus 0000:80 (also $.hostBridges[1])' },
      { path: '$.hostBridges[3].memWindow', message: 'memory window [0x0-0xfff] overlaps System RAM [0x0-0xbfffffff]' },
    ]);
  });

  it('reports a physfn that is not listed', () => {
    expect(errorsOf(spec([ep('0000:00:02.1', { physfn: '00:02.0' })]))).toEqual([
      { path: '$.devices[0].physfn', message: 'physfn 0000:00:02.0 is not in devices' },
    ]);
  });
});

describe('parseTopologyJson', () => {
  it('reports malformed JSON at path $ with line and column', () => {
    const text = '{\n  "schema": "p2pdma-topology/v1",\n  "hostBridges": [}\n';
    const r = parseTopologyJson(text, 'machine.json');
    expect(r).toEqual({ ok: false, errors: [{ path: '$', message: "invalid JSON: unexpected '}' at line 3 column 19" }] });
  });

  it('reports truncated JSON at its end', () => {
    const r = parseTopologyJson('{"schema": "p2pdma-topology/v1",\n"devices": [', 'cut.json');
    expect(r).toEqual({ ok: false, errors: [{ path: '$', message: 'invalid JSON: unexpected end of input at line 2 column 13' }] });
  });

  it('reports a missing comma', () => {
    const r = parseTopologyJson('{"a": 1 "b": 2}', 'x.json');
    expect(r).toEqual({
      ok: false,
      errors: [{ path: '$', message: "invalid JSON: expected ',' or '}' after a property value, found '\"' at line 1 column 9" }],
    });
  });

  it('validates well-formed JSON', () => {
    const r = parseTopologyJson(JSON.stringify(switchSpec()), 'ok.json');
    expect(r.ok).toBe(true);
  });
});

describe('docs/topology-schema.md', () => {
  it('its example is a valid topology with the documented tree', () => {
    const doc = readFileSync(new URL('../docs/topology-schema.md', import.meta.url), 'utf8');
    const json = /```json\n([\s\S]*?)```/.exec(doc)![1]!;
    const r = parseTopologyJson(json, 'topology-schema.md');
    if (!r.ok) throw new Error(formatTopologyErrors(r.errors, 'topology-schema.md'));
    const t = deriveTree(r.spec);
    expect(t.parentOf.get('0000:04:00.0')).toEqual({ kind: 'bridge', bdf: '0000:02:09.0' });
    expect(t.childrenOf.get('0000:01:00.0')).toEqual(['0000:02:08.0', '0000:02:09.0']);
  });
});

describe('formatTopologyErrors', () => {
  it('names the input on the first line and lists each error', () => {
    const text = formatTopologyErrors(
      [
        { path: '$.devices[0].bdf', message: 'x' },
        { path: '$', message: 'y' },
      ],
      'topo.json',
    );
    expect(text.split('\n')).toEqual(['topo.json: invalid topology (2 errors)', '  $.devices[0].bdf: x', '  $: y']);
  });
});

describe('deriveTree', () => {
  it('derives parents, devfn-ordered children and root devices from bus numbers', () => {
    const r = validateTopologySpec(switchSpec());
    if (!r.ok) throw new Error('invalid');
    const t = deriveTree(r.spec);
    expect(t.rootDevices).toEqual([['0000:00:00.0', '0000:00:01.0']]);
    expect(t.parentOf.get('0000:00:01.0')).toEqual({ kind: 'host-bridge', index: 0 });
    expect(t.parentOf.get('0000:03:00.0')).toEqual({ kind: 'bridge', bdf: '0000:02:00.0' });
    expect(t.childrenOf.get('0000:01:00.0')).toEqual(['0000:02:00.0', '0000:02:01.0']);
    expect(t.childrenOf.get('0000:02:01.0')).toEqual([]);
    expect(t.hostBridgeOf.get('0000:03:00.0')).toBe(0);
    expect(t.indexOf.get('0000:03:00.0')).toBe(5);
    expect(t.orphans).toEqual([]);
    expect(t.cycles).toEqual([]);
  });

  it('lists children in devfn order whatever the input order', () => {
    const t = deriveTree(
      validateOk(spec([ep('0000:01:00.1'), bridge('0000:00:01.0', 1, 1), ep('0000:01:00.0'), { bdf: '0000:01:00.2', headerType: 0 }])),
    );
    expect(t.childrenOf.get('0000:00:01.0')).toEqual(['0000:01:00.0', '0000:01:00.1', '0000:01:00.2']);
  });

  it('reports orphans and cycles on an invalid spec without throwing', () => {
    const t = deriveTree({
      schema: TOPOLOGY_SCHEMA_V1,
      hostBridges: [{ domain: 0, bus: 0 }],
      devices: [
        { bdf: '0000:05:00.0', headerType: 1, secondaryBus: 6, subordinateBus: 6 },
        { bdf: '0000:06:00.0', headerType: 1, secondaryBus: 5, subordinateBus: 5 },
        { bdf: '0000:09:00.0' },
        { bdf: 'garbage' },
      ],
    });
    expect(t.orphans).toEqual(['0000:09:00.0']);
    expect(t.cycles).toEqual([['0000:05:00.0', '0000:06:00.0', '0000:05:00.0']]);
    expect(t.hostBridgeOf.size).toBe(0);
  });
});

function validateOk(value: unknown) {
  const r = validateTopologySpec(value);
  if (!r.ok) throw new Error(formatTopologyErrors(r.errors, 'test'));
  return r.spec;
}
