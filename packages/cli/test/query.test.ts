/**
 * `check`, `find`, `matrix`, `iommu-groups`: the command's JSON equals the library's answer on
 * every built-in (no second implementation of the rules in the CLI), plus the exit-code contract
 * and checks on real lspci dumps.
 */
import { join } from 'node:path';
import { checkP2p, findP2p, p2pMatrix } from '@p2pdma/p2pdma';
import { builtinNames, getBuiltin } from '@p2pdma/pci-core';
import { sharedFixturesDir } from '@p2pdma/test-utils';
import { describe, expect, test } from 'vitest';
import { EXIT_NO, EXIT_OK, EXIT_USAGE } from '../src/index';
import { run } from './helpers';


const strip = <T extends { ok: boolean }>(r: T) => {
  const { ok: _ok, ...rest } = r;
  return rest;
};

/** The `cpu` member on a built-in: every built-in states its CPU (Intel, family 6), so the source is the topology. */
const BUILTIN_CPU = { value: 'intel', source: 'topology', basis: "the topology's cpu: intel family 0x6" } as const;

describe('JSON equals the library (issue 7: no second implementation)', () => {
  for (const name of builtinNames()) {
    for (const policy of ['upstream', 'v2'] as const) {
      test(`matrix builtin:${name} --policy ${policy}`, () => {
        const r = run('matrix', `builtin:${name}`, '--policy', policy, '--json');
        expect(r.code).toBe(EXIT_OK);
        const lib = p2pMatrix(getBuiltin(name)!, undefined, { policy });
        expect(lib.ok).toBe(true);
        const { schema, cpu, ...rest } = JSON.parse(r.out);
        expect(schema).toBe('p2pdma-cli/matrix/v1');
        expect(cpu).toEqual(BUILTIN_CPU);
        expect(rest).toEqual(strip(lib as { ok: true }));
      });

      test(`check and find builtin:${name} --policy ${policy}: every endpoint as provider for the first two others`, () => {
        const spec = getBuiltin(name)!;
        const m = p2pMatrix(spec, undefined, { policy });
        if (!m.ok) throw new Error(m.error);
        const eps = m.endpoints;
        for (const provider of eps) {
          const clients = eps.filter((e) => e !== provider).slice(0, 2);
          if (clients.length === 0) continue;
          const r = run('check', `builtin:${name}`, '--provider', provider, '--client', ...clients, '--policy', policy, '--json');
          const lib = checkP2p(spec, { provider, clients, policy });
          if (!lib.ok) throw new Error(lib.error);
          expect(r.code).toBe(lib.supported ? EXIT_OK : EXIT_NO);
          const { schema, cpu, ...rest } = JSON.parse(r.out);
          expect(schema).toBe('p2pdma-cli/check/v1');
          expect(cpu).toEqual(BUILTIN_CPU);
          expect(rest).toEqual(strip(lib));
        }
        const f = run('find', `builtin:${name}`, '--client', eps[0]!, '--policy', policy, '--json');
        const flib = findP2p(spec, [eps[0]!], undefined, { policy });
        if (!flib.ok) throw new Error(flib.error);
        expect(f.code).toBe(flib.chosen ? EXIT_OK : EXIT_NO);
        const { schema: _s, cpu: fcpu, ...frest } = JSON.parse(f.out);
        expect(fcpu).toEqual(BUILTIN_CPU);
        expect(frest).toEqual(strip(flib));
      });
    }
  }
});

describe('check: the required JSON shape and the fixes', () => {
  test('seed-switch, p2pmem card for the RNIC and an SSD: supported, bus addresses, distance 4 each', () => {
    const j = JSON.parse(run('check', 'builtin:seed-switch', '--provider', '06:00.0', '--client', '03:00.0', '04:00.0', '--json').out);
    expect(j).toMatchObject({ policy: 'upstream', provider: '0000:06:00.0', supported: true, totalDistance: 8 });
    expect(j.clients).toEqual([
      expect.objectContaining({ client: '0000:03:00.0', mapType: 'bus-addr', distance: 4, acsRedirect: [], fix: null, path: ['0000:03:00.0', '0000:02:08.0', '0000:01:00.0', '0000:02:11.0', '0000:06:00.0'] }),
      expect.objectContaining({ client: '0000:04:00.0', mapType: 'bus-addr', distance: 4 }),
    ]);
  });

  test('acs-redirect: not supported, with the exact pci=disable_acs_redir= fix; applying it makes it supported', () => {
    const r = run('check', 'builtin:acs-redirect', '--provider', '04:00.0', '--client', '03:00.0', '--json');
    expect(r.code).toBe(EXIT_NO);
    const j = JSON.parse(r.out);
    expect(j.supported).toBe(false);
    expect(j.totalDistance).toBe(-1);
    expect(j.clients[0].fix).toBe('pci=disable_acs_redir=0000:02:09.0;0000:02:08.0');
    const fixed = run('check', 'builtin:acs-redirect', '--provider', '04:00.0', '--client', '03:00.0', '--cmdline', j.clients[0].fix, '--json');
    expect(fixed.code).toBe(EXIT_OK);
    expect(JSON.parse(fixed.out).clients[0].mapType).toBe('bus-addr');
  });

  test('v2: devices on separate root ports are not supported and distance is null', () => {
    const j = JSON.parse(run('check', 'builtin:root-ports', '--provider', '04:00.0', '--client', '01:00.0', '--policy', 'v2', '--json').out);
    expect(j.totalDistance).toBeNull();
    expect(j.clients[0].mapType).toBe('not-supported');
    expect(j.clients[0].distance).toBeNull();
  });

  test('--cpu amd-zen makes a through-host-bridge pair supported on a non-whitelisted host bridge', () => {
    const argv = ['check', 'builtin:root-ports', '--provider', '04:00.0', '--client', '01:00.0', '--json'];
    expect(JSON.parse(run(...argv).out).supported).toBe(false);
    const amd = JSON.parse(run(...argv, '--cpu', 'amd-zen').out);
    expect(amd.supported).toBe(true);
    expect(amd.clients[0].mapType).toBe('thru-host-bridge');
  });

  test('real dump gpu4-plx8747: GPUs under one PLX switch are bus-addr; across root ports not supported (6f00 not whitelisted)', () => {
    const f = join(sharedFixturesDir, 'lspci', 'gpu4-plx8747-nvbugreport.txt');
    const same = JSON.parse(run('check', f, '--provider', '04:00.0', '--client', '05:00.0', '--json').out);
    expect(same.clients[0].mapType).toBe('bus-addr');
    const across = run('check', f, '--provider', '04:00.0', '--client', '08:00.0', '--json');
    expect(across.code).toBe(EXIT_NO);
    const j = JSON.parse(across.out);
    expect(j.clients[0].mapType).toBe('not-supported');
    expect(j.clients[0].fix).toMatch(/^host bridge 0000:00:00\.0 \[8086:6f00\] is not whitelisted/);
  });

  test('find on lspci input needs --provider (lspci cannot see p2pmem)', () => {
    const f = join(sharedFixturesDir, 'lspci', 'gpu4-plx8747-nvbugreport.txt');
    const r = run('find', f, '--client', '04:00.0');
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toMatch(/name the candidate providers with --provider/);
    const ok = JSON.parse(run('find', f, '--client', '04:00.0', '--provider', '05:00.0', '08:00.0', '--json').out);
    expect(ok.chosen).toBe('0000:05:00.0');
  });
});

describe('iommu-groups', () => {
  test('seed-switch: one group per function with ACS on; the seed clearing joins each downstream port with its device', () => {
    const j = JSON.parse(run('iommu-groups', 'builtin:seed-switch', '--json').out);
    expect(j.upstream.every((g: { devices: string[] }) => g.devices.length === 1)).toBe(true);
    const v2Pairs = j.v2.filter((g: { devices: string[] }) => g.devices.length === 2).map((g: { devices: string[] }) => g.devices);
    expect(v2Pairs).toContainEqual(['0000:02:08.0', '0000:03:00.0']);
    expect(v2Pairs).toHaveLength(4);
  });
});
