/**
 * `p2pdma check` on every real lspci dump in /work/shared/fixtures/lspci (issue 7, "Must show":
 * the kernel's decision for at least three provider/client pairs per dump, including a
 * not-supported case with its fix where the dump allows one).
 *
 * The expectations below were worked out by hand from each dump (its .source.md and the tree
 * lspci shows) and Linux 6.6's drivers/pci/p2pdma.c, not taken from the tool:
 *
 * - calc_map_type_and_dist walks up from the provider; for each ancestor `a` it walks up from the
 *   client looking for `a`. The distance is the number of hops from each side to the first common
 *   upstream device (dist_a + dist_b), or, when there is none, the hops from each side to its root
 *   bus. Every device on either side of the common one whose ACS control has Request/Completion
 *   Redirect (pci_bridge_has_acs_redir) is listed, provider side first; any listed device turns
 *   the pair into "through the host bridge" and the fix is `pci=disable_acs_redir=<list>`.
 * - Through the host bridge is allowed only for an AMD Zen CPU (cpu_supports_p2pdma) or when
 *   host_bridge_whitelist finds the host bridge's identifying device (first function on the root
 *   bus, if devfn 00.0 or a root port: pci_host_bridge_dev) in pci_p2pdma_whitelist[]; for two
 *   host bridges the provider's is looked at first. Otherwise the pair is not supported.
 * - pci_p2pdma_distance_many sums the distances; any unsupported client makes the total -1.
 *
 * Where a dump has no -nn IDs the identifying device has no IDs to look up, so no whitelist entry
 * matches and the fix says the dump needs -nn (the real kernel reads the real IDs); where
 * it lists ACS but not its control bits (lspci -v), ACS control is taken as off (the kernel sets
 * it only for an IOMMU, and these machines show none). No dump here names an AMD host bridge, so
 * the CPU rule never applies unless `--cpu amd-zen` says so.
 */
import { join } from 'node:path';
import { lspciFixtureNames, readLspciFixture, sharedFixturesDir } from '@p2pdma/test-utils';
import { describe, expect, test } from 'vitest';
import type { CheckJson } from '../src/index';
import { EXIT_NO, EXIT_OK } from '../src/index';
import { run } from './helpers';

/** What a client's answer must be. */
interface ClientExpect {
  client: string;
  mapType: 'bus-addr' | 'thru-host-bridge' | 'not-supported';
  distance: number;
  acsRedirect: string[];
  fix: string | null;
  /** The path of devices, client first, when the case checks it. */
  path?: string[];
}

/** One `check` run on a dump. */
interface CheckCase {
  /** The reasoning, from the dump and the kernel rules. */
  why: string;
  provider: string;
  clients: string[];
  /** Extra options (`--cpu`, `--cmdline`). */
  extra?: string[];
  supported: boolean;
  totalDistance: number;
  expect: ClientExpect[];
  /** Exact kernel log lines, when the case checks them. */
  warnings?: string[];
}

/** The fix for a host bridge the whitelist does not list; without IDs (no -nn) it says that instead. */
const notWhitelisted = (hb: string, ids: string | null = null) =>
  ids === null
    ? `host bridge ${hb} has no vendor/device IDs in the input (capture lspci with -nn) so the whitelist cannot be checked`
    : `host bridge ${hb} [${ids}] is not whitelisted for peer-to-peer`;

/** Per dump, the cases. */
const CASES: Record<string, CheckCase[]> = {
  'asm1812-4x-rtl8125-excerpt': [
    {
      why: 'NICs 07:00.0 and 08:00.0 meet at the ASM1812 upstream port 03:00.0 (2 hops each side: distance 4), but both downstream ports (04:03.0 provider side, 04:08.0 client side) have ACSCtl ReqRedir+ CmpltRedir+; the redirected traffic needs the host bridge, which the excerpt does not show ([0000:0000], first function of the made-up root bus is 03:00.0): not supported, fix disable_acs_redir on both ports',
      provider: '07:00.0',
      clients: ['08:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [
        {
          client: '0000:08:00.0',
          mapType: 'not-supported',
          distance: 4,
          acsRedirect: ['0000:04:03.0', '0000:04:08.0'],
          fix: 'pci=disable_acs_redir=0000:04:03.0;0000:04:08.0',
          path: ['0000:08:00.0', '0000:04:08.0', '0000:03:00.0', '0000:04:03.0', '0000:07:00.0'],
        },
      ],
      warnings: [
        'pci 0000:08:00.0: ACS redirect is set between the client and provider (0000:07:00.0)',
        'pci 0000:08:00.0: to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=0000:04:03.0;0000:04:08.0',
        'pci 0000:03:00.0: Host bridge not in P2PDMA whitelist: 0000:0000',
        'pci 0000:08:00.0: cannot be used for peer-to-peer DMA as the client and provider (0000:07:00.0) do not share an upstream bridge or whitelisted host bridge',
      ],
    },
    {
      why: 'the same with the fix applied on the command line: no redirecting port left, the switch routes the TLPs: bus addresses, distance 4',
      provider: '07:00.0',
      clients: ['08:00.0'],
      extra: ['--cmdline', 'pci=disable_acs_redir=0000:04:03.0;0000:04:08.0'],
      supported: true,
      totalDistance: 4,
      expect: [{ client: '0000:08:00.0', mapType: 'bus-addr', distance: 4, acsRedirect: [], fix: null }],
    },
    {
      why: 'provider 09:00.0 (below 04:0a.0) with two clients: 0a:00.0 (04:0b.0) and 07:00.0 (04:03.0); each pair redirects on its two downstream ports, the provider side listed first',
      provider: '09:00.0',
      clients: ['0a:00.0', '07:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [
        { client: '0000:0a:00.0', mapType: 'not-supported', distance: 4, acsRedirect: ['0000:04:0a.0', '0000:04:0b.0'], fix: 'pci=disable_acs_redir=0000:04:0a.0;0000:04:0b.0' },
        { client: '0000:07:00.0', mapType: 'not-supported', distance: 4, acsRedirect: ['0000:04:0a.0', '0000:04:03.0'], fix: 'pci=disable_acs_redir=0000:04:0a.0;0000:04:03.0' },
      ],
    },
  ],
  'dell-13g-2s-e5v4-p100': [
    {
      why: 'BCM5720 functions 01:00.0 and 01:00.1 both sit on root port 00:03.1 (1 hop each; its ACSCtl is all off): bus addresses, distance 2',
      provider: '01:00.0',
      clients: ['01:00.1'],
      supported: true,
      totalDistance: 2,
      expect: [{ client: '0000:01:00.1', mapType: 'bus-addr', distance: 2, acsRedirect: [], fix: null }],
    },
    {
      why: 'NVMe 81:00.0 (root port 80:01.0) and NVMe 84:00.0 (80:03.2): no common bridge, 2 + 2 hops to root bus 80; bus 80 has no 00.0 function, so the identifying device is its first function, root port 80:01.0, whose ID the dump (no -nn) does not give: not whitelisted, Intel CPU: not supported',
      provider: '81:00.0',
      clients: ['84:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0000:84:00.0', mapType: 'not-supported', distance: 4, acsRedirect: [], fix: notWhitelisted('0000:80:01.0') }],
    },
    {
      why: 'Tesla P100s 04:00.0 (socket 0, root port 00:02.0) and 82:00.0 (socket 1, 80:02.0): different host bridges, 2 + 2 hops; the provider\'s host bridge 00:00.0 (DMI2, ID not in the dump) is looked at first and fails',
      provider: '04:00.0',
      clients: ['82:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0000:82:00.0', mapType: 'not-supported', distance: 4, acsRedirect: [], fix: notWhitelisted('0000:00:00.0') }],
    },
    {
      why: 'X520 83:00.0 as provider for its sibling 83:00.1 (same root port 80:03.0: bus-addr, 2) and NVMe 84:00.0 (80:03.2: not supported): one unsupported client makes the total -1',
      provider: '83:00.0',
      clients: ['83:00.1', '84:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [
        { client: '0000:83:00.1', mapType: 'bus-addr', distance: 2, acsRedirect: [], fix: null },
        { client: '0000:84:00.0', mapType: 'not-supported', distance: 4, acsRedirect: [], fix: notWhitelisted('0000:80:01.0') },
      ],
    },
    {
      why: 'Matrox 0a:00.0 behind the Renesas switch and its PCI bridge (0a → 09:00.0 → 08:00.0 → 07:00.0 → 00:1c.7: 5 hops) and BCM5720 02:00.0 (00:03.0: 2 hops): no common bridge, distance 7, not whitelisted',
      provider: '0a:00.0',
      clients: ['02:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0000:02:00.0', mapType: 'not-supported', distance: 7, acsRedirect: [], fix: notWhitelisted('0000:00:00.0') }],
    },
  ],
  'dell-adl-tb4dock-vmd-nvme': [
    {
      why: 'external NVMe 45:00.0 (45 → 44:00.0 → 43:00.0 → 41:01.0 → 40:00.0 → 00:07.2: 6 hops) and the VMD-domain NVMe 10000:e1:00.0 (→ 10000:e0:06.0: 2 hops): different host bridges, distance 8; the provider\'s host bridge is 00:00.0 [8086:4641] (Alder Lake-P, IDs from -nn), not in the whitelist',
      provider: '45:00.0',
      clients: ['10000:e1:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '10000:e1:00.0', mapType: 'not-supported', distance: 8, acsRedirect: [], fix: notWhitelisted('0000:00:00.0', '8086:4641') }],
    },
    {
      why: 'the same pair the other way round: now the provider\'s host bridge is the VMD domain\'s, whose root bus has no 00.0 function; its first function is root port 10000:e0:06.0 [8086:464d], not whitelisted either',
      provider: '10000:e1:00.0',
      clients: ['45:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0000:45:00.0', mapType: 'not-supported', distance: 8, acsRedirect: [], fix: notWhitelisted('10000:e0:06.0', '8086:464d') }],
    },
    {
      why: 'external NVMe 45:00.0 and the integrated TB4 NHI 00:0d.2 on the root bus itself (1 hop to the root bus): no common bridge, 6 + 1 = 7',
      provider: '45:00.0',
      clients: ['00:0d.2'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0000:00:0d.2', mapType: 'not-supported', distance: 7, acsRedirect: [], fix: notWhitelisted('0000:00:00.0', '8086:4641') }],
    },
    {
      why: 'a device as its own client: the walk finds the provider at once (distance 0), bus addresses',
      provider: '45:00.0',
      clients: ['45:00.0'],
      supported: true,
      totalDistance: 0,
      expect: [{ client: '0000:45:00.0', mapType: 'bus-addr', distance: 0, acsRedirect: [], fix: null }],
    },
  ],
  'gpu4-plx8747-nvbugreport': [
    {
      why: 'GTX 1080 Ti 04:00.0 (downstream port 03:08.0) and 05:00.0 (03:10.0) meet at PEX 8747 upstream port 02:00.0: 2 + 2 hops; the PLX ACS control is not in the dump (taken as off): bus addresses, distance 4',
      provider: '04:00.0',
      clients: ['05:00.0'],
      supported: true,
      totalDistance: 4,
      expect: [{ client: '0000:05:00.0', mapType: 'bus-addr', distance: 4, acsRedirect: [], fix: null, path: ['0000:05:00.0', '0000:03:10.0', '0000:02:00.0', '0000:03:08.0', '0000:04:00.0'] }],
    },
    {
      why: 'GPU 04:00.0 (switch under root port 00:02.0: 4 hops to bus 00) and GPU 08:00.0 (switch under 00:03.0: 4 hops): no common bridge, distance 8; host bridge 00:00.0 is [8086:6f00] (Xeon E5 v4, from -nn), not in the whitelist: not supported',
      provider: '04:00.0',
      clients: ['08:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0000:08:00.0', mapType: 'not-supported', distance: 8, acsRedirect: [], fix: notWhitelisted('0000:00:00.0', '8086:6f00') }],
    },
    {
      why: 'the same pair with --cpu amd-zen: cpu_supports_p2pdma holds, so through the host bridge is allowed whatever the whitelist: thru-host-bridge, distance 8',
      provider: '04:00.0',
      clients: ['08:00.0'],
      extra: ['--cpu', 'amd-zen'],
      supported: true,
      totalDistance: 8,
      expect: [{ client: '0000:08:00.0', mapType: 'thru-host-bridge', distance: 8, acsRedirect: [], fix: null }],
    },
    {
      why: 'GPU 04:00.0 and its HDMI audio function 04:00.1 below the same downstream port 03:08.0: 1 + 1 hops, bus addresses',
      provider: '04:00.0',
      clients: ['04:00.1'],
      supported: true,
      totalDistance: 2,
      expect: [{ client: '0000:04:00.1', mapType: 'bus-addr', distance: 2, acsRedirect: [], fix: null }],
    },
  ],
  'ibm-x3650m4-2s-e5-nonroot': [
    {
      why: 'I350 functions 06:00.0 and 06:00.1 on PCH root port 00:1c.0 (capabilities unreadable: ACS control unknown, taken as off): bus addresses, distance 2',
      provider: '06:00.0',
      clients: ['06:00.1'],
      supported: true,
      totalDistance: 2,
      expect: [{ client: '0000:06:00.1', mapType: 'bus-addr', distance: 2, acsRedirect: [], fix: null }],
    },
    {
      // On the real machine 00:00.0 is [8086:3c00] (Bjorn Helgaas' reply in the same thread), a
      // whitelist entry with REQ_SAME_HOST_BRIDGE, and both devices are below it: that kernel says
      // thru-host-bridge, distance 4. The dump (lspci -vv, no -nn) does not carry the ID, so the
      // model cannot see it and answers as for an unknown host bridge.
      why: 'Arria 10 FPGA 20:00.0 (root port 00:03.2) and MegaRAID 16:00.0 (00:02.2): no common bridge, 2 + 2 hops; the host bridge ID is not in the dump: not whitelisted',
      provider: '20:00.0',
      clients: ['16:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0000:16:00.0', mapType: 'not-supported', distance: 4, acsRedirect: [], fix: notWhitelisted('0000:00:00.0') }],
    },
    {
      why: 'Matrox 04:00.0 behind the SH7757 switch and its PCI bridge (04 → 03:00.0 → 02:00.0 → 01:00.0 → 00:1c.7: 5 hops) and I350 06:00.0 (00:1c.0: 2 hops): distance 7, not supported',
      provider: '04:00.0',
      clients: ['06:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0000:06:00.0', mapType: 'not-supported', distance: 7, acsRedirect: [], fix: notWhitelisted('0000:00:00.0') }],
    },
  ],
  'laptop-egpu-tb3-2x3090': [
    {
      why: 'the two eGPU RTX 3090s: 09:00.0 (08:01.0 → Alpine Ridge 07:00.0 → Titan Ridge 05:01.0 → 04:00.0) and 2f:00.0 (2e:01.0 → 2d:00.0 → 05:04.0 → 04:00.0) meet at the Titan Ridge upstream port 04:00.0, 4 + 4 hops; ACS bits not shown (lspci -v): bus addresses, distance 8',
      provider: '09:00.0',
      clients: ['2f:00.0'],
      supported: true,
      totalDistance: 8,
      expect: [
        {
          client: '0000:2f:00.0',
          mapType: 'bus-addr',
          distance: 8,
          acsRedirect: [],
          fix: null,
          path: ['0000:2f:00.0', '0000:2e:01.0', '0000:2d:00.0', '0000:05:04.0', '0000:04:00.0', '0000:05:01.0', '0000:07:00.0', '0000:08:01.0', '0000:09:00.0'],
        },
      ],
    },
    {
      why: 'ASM1142 xHCIs 0c:00.0 (0b:00.0) and 0d:00.0 (0b:01.0) below the second Alpine Ridge switch 0a:00.0: 2 + 2 hops, bus addresses',
      provider: '0c:00.0',
      clients: ['0d:00.0'],
      supported: true,
      totalDistance: 4,
      expect: [{ client: '0000:0d:00.0', mapType: 'bus-addr', distance: 4, acsRedirect: [], fix: null }],
    },
    {
      why: 'eGPU 09:00.0 (6 hops up to bus 00 through root port 00:1c.0) and the internal NVMe 02:00.0 (00:1b.0: 2 hops): no common bridge, distance 8; host bridge ID not in the dump: not supported',
      provider: '09:00.0',
      clients: ['02:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0000:02:00.0', mapType: 'not-supported', distance: 8, acsRedirect: [], fix: notWhitelisted('0000:00:00.0') }],
    },
    {
      why: 'the internal Quadro 01:00.0 (CPU root port 00:01.0: 2 hops) and eGPU 2f:00.0 (6 hops): distance 8, not supported',
      provider: '01:00.0',
      clients: ['2f:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0000:2f:00.0', mapType: 'not-supported', distance: 8, acsRedirect: [], fix: notWhitelisted('0000:00:00.0') }],
    },
  ],
  'power9-phb4-arc-b580': [
    {
      why: 'Arc B580 GPU 0030:03:00.0 (downstream port 0030:02:01.0) and its audio function 0030:04:00.0 (0030:02:02.0) meet at the card\'s internal switch 0030:01:00.0: 2 + 2 hops, ACS bits not shown: bus addresses, distance 4',
      provider: '0030:03:00.0',
      clients: ['0030:04:00.0'],
      supported: true,
      totalDistance: 4,
      expect: [{ client: '0030:04:00.0', mapType: 'bus-addr', distance: 4, acsRedirect: [], fix: null }],
    },
    {
      why: 'BCM5719 functions 0004:01:00.0 and .1 below PHB root port 0004:00:00.0 (no ACS capability): bus addresses, distance 2',
      provider: '0004:01:00.0',
      clients: ['0004:01:00.1'],
      supported: true,
      totalDistance: 2,
      expect: [{ client: '0004:01:00.1', mapType: 'bus-addr', distance: 2, acsRedirect: [], fix: null }],
    },
    {
      why: 'NVMe 0001:01:00.0 and BCM5719 0004:01:00.0: each PHB is its own domain and host bridge, 2 + 2 hops; the provider\'s PHB root port 0001:00:00.0 identifies it, ID not in the dump; POWER9 is not AMD: not supported',
      provider: '0001:01:00.0',
      clients: ['0004:01:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0004:01:00.0', mapType: 'not-supported', distance: 4, acsRedirect: [], fix: notWhitelisted('0001:00:00.0') }],
    },
    {
      why: 'GPU 0030:03:00.0 (4 hops to bus 0030:00) and NVMe 0001:01:00.0 (2 hops): distance 6, not supported',
      provider: '0030:03:00.0',
      clients: ['0001:01:00.0'],
      supported: false,
      totalDistance: -1,
      expect: [{ client: '0001:01:00.0', mapType: 'not-supported', distance: 6, acsRedirect: [], fix: notWhitelisted('0030:00:00.0') }],
    },
  ],
};

describe('check on every real lspci dump: the kernel decision for three or more pairs each (upstream policy, Linux 6.6 rules)', () => {
  test('every fixture has cases, at least three, and one not-supported case with a fix', () => {
    expect(Object.keys(CASES).sort()).toEqual(lspciFixtureNames().sort());
    for (const [name, cases] of Object.entries(CASES)) {
      expect(cases.length, name).toBeGreaterThanOrEqual(3);
      expect(cases.some((c) => !c.supported && c.expect.some((e) => e.fix !== null)), name).toBe(true);
    }
  });

  for (const name of lspciFixtureNames()) {
    describe(name, () => {
      const file = join(sharedFixturesDir, 'lspci', `${name}.txt`);
      test('the dump is the one the cases were worked out from', () => {
        // Each BDF the cases name is in the dump as lspci prints it (domain dropped when 0000, unless the dump prints domains).
        const text = readLspciFixture(name);
        for (const c of CASES[name] ?? []) for (const bdf of [c.provider, ...c.clients]) expect(text).toContain(bdf);
      });
      for (const c of CASES[name] ?? []) {
        test(`--provider ${c.provider} --client ${c.clients.join(' ')}${c.extra ? ` ${c.extra.join(' ')}` : ''}: ${c.why}`, () => {
          const r = run('check', file, '--provider', c.provider, '--client', ...c.clients, ...(c.extra ?? []), '--json');
          expect(r.err).toBe('');
          expect(r.code).toBe(c.supported ? EXIT_OK : EXIT_NO);
          const j = JSON.parse(r.out) as CheckJson;
          expect(j.policy).toBe('upstream');
          expect({ supported: j.supported, totalDistance: j.totalDistance }).toEqual({ supported: c.supported, totalDistance: c.totalDistance });
          expect(j.clients.map((x, i) => ({ client: x.client, mapType: x.mapType, distance: x.distance, acsRedirect: x.acsRedirect, fix: x.fix, ...(c.expect[i]?.path ? { path: x.path } : {}) }))).toEqual(c.expect);
          if (c.warnings) expect(j.warnings).toEqual(c.warnings);
        });
      }
    });
  }
});
