import type { TopologySpec } from '@p2pdma/pci-core';
import { bar, getBuiltin, topology } from '@p2pdma/pci-core';
import { describe, expect, it } from 'vitest';
import type { CheckP2pReport, FindP2pReport, P2pMatrixReport } from '../src/check';
import { checkP2p, FIX_NEEDS_SWITCH, findP2p, p2pMatrix } from '../src/check';

const spec = (name: string): TopologySpec => getBuiltin(name)!;
function ok<T extends { ok: boolean }>(r: T | { ok: false; error: string }): T {
  if (!r.ok) throw new Error((r as { error: string }).error);
  return r as T;
}

describe('checkP2p: the pure check behind `p2pdma check`', () => {
  it('6.6, one switch: bus addresses, distances, the path through the switch, no fix', () => {
    const r = ok<CheckP2pReport>(checkP2p(spec('seed-switch'), { provider: '06:00.0', clients: ['03:00.0', '0000:04:00.0'] }));
    expect(r).toMatchObject({ policy: 'upstream', provider: '0000:06:00.0', supported: true, totalDistance: 8, warnings: [] });
    expect(r.clients[0]).toEqual({
      client: '0000:03:00.0',
      mapType: 'bus-addr',
      distance: 4,
      path: ['0000:03:00.0', '0000:02:08.0', '0000:01:00.0', '0000:02:11.0', '0000:06:00.0'],
      acsRedirect: [],
      fix: null,
      reason: 'the devices meet at 0000:01:00.0 with no ACS redirect on the path: bus addresses, the traffic stays below it (distance 4)',
    });
  });

  it('6.6, ACS redirect: not supported on a non-whitelisted host bridge; the fix is the exact parameter; the kernel lines are the warnings', () => {
    const r = ok<CheckP2pReport>(checkP2p(spec('acs-redirect'), { provider: '06:00.0', clients: ['03:00.0'] }));
    expect(r.supported).toBe(false);
    expect(r.totalDistance).toBe(-1);
    expect(r.clients[0]).toMatchObject({
      mapType: 'not-supported',
      distance: 4,
      acsRedirect: ['0000:02:11.0', '0000:02:08.0'],
      fix: 'pci=disable_acs_redir=0000:02:11.0;0000:02:08.0',
    });
    expect(r.warnings).toEqual([
      'pci 0000:03:00.0: ACS redirect is set between the client and provider (0000:06:00.0)',
      'pci 0000:03:00.0: to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=0000:02:11.0;0000:02:08.0',
      'pci 0000:00:00.0: Host bridge not in P2PDMA whitelist: 8086:6f00',
      'pci 0000:03:00.0: cannot be used for peer-to-peer DMA as the client and provider (0000:06:00.0) do not share an upstream bridge or whitelisted host bridge',
    ]);
    const fixed = ok<CheckP2pReport>(checkP2p(spec('acs-redirect'), { provider: '06:00.0', clients: ['03:00.0'], cmdline: r.clients[0]!.fix! }));
    expect(fixed.clients[0]).toMatchObject({ mapType: 'bus-addr', acsRedirect: [], fix: null });
  });

  it('6.6, root ports: through the host bridge; not whitelisted names the host bridge; the path crosses pci0000:00', () => {
    const r = ok<CheckP2pReport>(checkP2p(spec('root-ports'), { provider: '04:00.0', clients: ['01:00.0'] }));
    expect(r.clients[0]).toMatchObject({
      mapType: 'not-supported',
      distance: 4,
      path: ['0000:01:00.0', '0000:00:01.0', 'pci0000:00', '0000:00:03.2', '0000:04:00.0'],
      fix: 'host bridge 0000:00:00.0 [8086:6f00] is not whitelisted for peer-to-peer',
    });
    const w = ok<CheckP2pReport>(checkP2p(spec('dual-host-bridge'), { provider: '82:00.0', clients: ['01:00.0'] }));
    expect(w.clients[0]).toMatchObject({ mapType: 'thru-host-bridge', distance: 4, fix: null });
    expect(w.clients[0]!.path).toEqual(['0000:01:00.0', '0000:00:01.0', 'pci0000:00', 'pci0000:80', '0000:80:02.0', '0000:82:00.0']);
    expect(w.supported).toBe(true);
    const zen = ok<CheckP2pReport>(checkP2p({ ...spec('root-ports'), cpu: { vendor: 'amd', family: 0x19 } }, { provider: '04:00.0', clients: ['01:00.0'] }));
    expect(zen.clients[0]!.mapType).toBe('thru-host-bridge');
    expect(zen.clients[0]!.reason).toMatch(/AMD family 0x17 or newer/);
  });

  it('6.6, same-host-bridge-only whitelist entry across host bridges: needs a switch', () => {
    const ep = { vendor: 0x1de5, device: 0x1000, bars: [bar.mem64(0, 4 * 2 ** 20, true)] };
    const t = topology('e5v2')
      .systemRam([{ base: 0, size: 2 ** 31 }])
      .hostBridge({ bus: 0, vendor: 0x8086, device: 0x3c00, memWindow: { cpuBase: 2 ** 31, size: 2 ** 29 } }, (hb) => hb.rootPort('00:01.0', {}, (rp) => rp.endpoint(ep)))
      .hostBridge({ bus: 0x80, vendor: 0x8086, device: 0x3c00, memWindow: { cpuBase: 2 ** 31 + 2 ** 29, size: 2 ** 29 } }, (hb) =>
        hb.rootPort('80:01.0', {}, (rp) => rp.endpoint(ep)),
      )
      .build();
    const r = ok<CheckP2pReport>(checkP2p(t, { provider: '81:00.0', clients: ['01:00.0'] }));
    expect(r.clients[0]).toMatchObject({ mapType: 'not-supported', fix: FIX_NEEDS_SWITCH });
    expect(r.clients[0]!.reason).toMatch(/whitelisted only within one host bridge/);
  });

  it('v2: the seed switch rule; distances null; a root port provider gets the seed warning and "needs a switch"', () => {
    const r = ok<CheckP2pReport>(checkP2p(spec('root-ports'), { provider: '04:00.0', clients: ['01:00.0'], policy: 'v2' }));
    expect(r).toMatchObject({ policy: 'v2', supported: false, totalDistance: null, warnings: ['pci 0000:04:00.0: not behind a PCI bridge'] });
    expect(r.clients[0]).toMatchObject({ mapType: 'not-supported', distance: null, fix: FIX_NEEDS_SWITCH });
    const s = ok<CheckP2pReport>(checkP2p(spec('acs-redirect'), { provider: '06:00.0', clients: ['03:00.0'], policy: 'v2', iommu: true }));
    // Patch 04 cleared RR/CR at boot: the same machine works under the seed.
    expect(s.clients[0]).toMatchObject({ mapType: 'bus-addr', distance: null, acsRedirect: [], fix: null });
    const c = ok<CheckP2pReport>(checkP2p(spec('cascade'), { provider: '08:00.0', clients: ['03:00.0'], policy: 'v2' }));
    expect(c.clients[0]!.mapType).toBe('not-supported');
    expect(c.warnings).toEqual(['pci 0000:03:00.0: does not reside on the same upstream bridge']);
  });

  it('v2 with ACS redirect the seed does not clear (the switch upstream port): supported, with a warning that the DMA is redirected', () => {
    const t = topology('usp-acs')
      .systemRam([{ base: 0, size: 2 ** 31 }])
      .hostBridge({ vendor: 0x8086, device: 0x6f00, memWindow: { cpuBase: 2 ** 31, size: 2 ** 30 } }, (hb) =>
        hb.rootPort('00:01.0', {}, (rp) =>
          rp.switch({ acs: { cap: ['SV', 'RR', 'CR', 'UF'], ctrl: ['RR'] } }, (sw) => {
            sw.port({}, (p) => p.endpoint({ vendor: 1, device: 2 }));
            sw.port({}, (p) => p.endpoint({ vendor: 1, device: 2 }));
          }),
        ),
      )
      .build();
    const r = ok<CheckP2pReport>(checkP2p(t, { provider: '03:00.0', clients: ['04:00.0'], policy: 'v2' }));
    expect(r.clients[0]).toMatchObject({ mapType: 'bus-addr', acsRedirect: ['0000:01:00.0'] });
    expect(r.warnings).toEqual([
      '0000:04:00.0: ACS redirect is set on 0000:01:00.0; the seed maps bus addresses regardless, so this traffic is redirected to the root complex',
    ]);
  });

  it('bad input gets an error naming it', () => {
    expect(checkP2p(spec('seed-switch'), { provider: '06:00.0', clients: ['42:00.0'] })).toEqual({
      ok: false,
      error: "client '42:00.0' is not a function of topology 'seed-switch'",
    });
    expect(checkP2p(spec('seed-switch'), { provider: 'zz', clients: ['03:00.0'] })).toEqual({
      ok: false,
      error: "provider 'zz' is not a PCI address (expected [dddd:]bb:dd.f)",
    });
    expect(checkP2p(spec('seed-switch'), { provider: '06:00.0', clients: [] })).toMatchObject({ ok: false, error: /no clients/ });
    expect(checkP2p(spec('seed-switch'), { provider: '06:00.0', clients: ['03:00.0'], cmdline: 'pci="unterminated' })).toMatchObject({ ok: false });
    const broken = { ...spec('seed-switch'), hostBridges: [] };
    expect(checkP2p(broken, { provider: '06:00.0', clients: ['03:00.0'] })).toMatchObject({ ok: false, error: /cannot be enumerated/ });
  });
});

describe('findP2p and p2pMatrix: `p2pdma find` and `p2pdma matrix`', () => {
  it('6.6: the closest published-capable providers, chosen at random (seeded); v2: the first compatible one', () => {
    const r = ok<FindP2pReport>(findP2p(spec('seed-switch'), ['03:00.0'], undefined, { seed: 3 }));
    expect(r.candidates).toEqual([
      { provider: '0000:04:00.0', supported: true, totalDistance: 4 },
      { provider: '0000:06:00.0', supported: true, totalDistance: 4 },
    ]);
    expect(r.closest).toEqual(['0000:04:00.0', '0000:06:00.0']);
    expect(r.closest).toContain(r.chosen);
    const picks = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((seed) => ok<FindP2pReport>(findP2p(spec('seed-switch'), ['03:00.0'], undefined, { seed })).chosen));
    expect(picks.size).toBe(2);
    const self = ok<FindP2pReport>(findP2p(spec('seed-switch'), ['06:00.0', '03:00.0']));
    expect(self.chosen).toBe('0000:06:00.0');
    const v2 = ok<FindP2pReport>(findP2p(spec('seed-switch'), ['03:00.0'], ['06:00.0', '04:00.0'], { policy: 'v2' }));
    expect(v2.chosen).toBe('0000:04:00.0'); // pci_get_device order, not the order given
    const none = ok<FindP2pReport>(findP2p(spec('root-ports'), ['01:00.0']));
    expect(none).toMatchObject({ closest: [], chosen: null });
    expect(findP2p(spec('root-ports'), ['01:00.0'], ['99:00.0'])).toMatchObject({ ok: false, error: /provider '99:00.0'/ });
  });

  it('the matrix covers every endpoint pair; the diagonal is distance 0', () => {
    const m = ok<P2pMatrixReport>(p2pMatrix(spec('seed-switch')));
    expect(m.endpoints).toEqual(['0000:03:00.0', '0000:04:00.0', '0000:05:00.0', '0000:06:00.0']);
    for (let i = 0; i < 4; i++) {
      expect(m.cells[i]![i]).toEqual({ mapType: 'bus-addr', distance: 0 });
      for (let j = 0; j < 4; j++) if (i !== j) expect(m.cells[i]![j]).toEqual({ mapType: 'bus-addr', distance: 4 });
    }
    const v2 = ok<P2pMatrixReport>(p2pMatrix(spec('root-ports'), ['04:00.0', '01:00.0'], { policy: 'v2' }));
    expect(v2.endpoints).toEqual(['0000:01:00.0', '0000:04:00.0']);
    expect(v2.cells.flat()).toEqual(Array(4).fill({ mapType: 'not-supported', distance: null }));
  });
});
