/**
 * The generated benchmark fabric has the asked shape: function count, host bridges, root ports,
 * switches, providers; it validates and enumerates (pci-core's builder and `enumerate`), and
 * impossible shapes are refused naming the parameter.
 */
import { Kernel } from '@p2pdma/kernel';
import { enumerate, kernelOptionsForTopology, pciUpstreamBridge } from '@p2pdma/pci-core';
import { describe, expect, it } from 'vitest';
import { countSpec, generateFabric } from '../src/generate-fabric';

describe('generateFabric', () => {
  it('the default shape: 10,000 functions, 4 host bridges, 32 root ports, 1,000 providers', () => {
    const g = generateFabric();
    expect(g.counts).toEqual({
      functions: 10_000,
      hostBridges: 4,
      rootPorts: 32,
      // a switch below every root port and one below each of its 4 ports
      switches: 32 * 5,
      // per root port: itself, 1 + 4 upstream ports, 4 first-level and 4 × 5 second-level downstream ports
      bridges: 32 * (1 + 5 + 4 + 4 * 5),
      providers: 1000,
      virtualFunctions: g.counts.virtualFunctions,
      endpoints: 10_000 - 960 - 4,
    });
    expect(g.counts.bridges).toBe(960);
    expect(g.providers).toHaveLength(1000);
    expect(new Set(g.providers).size).toBe(1000);
    expect(g.spec.devices.filter((d) => d.role === 'p2pmem' && d.p2pmem?.bar === 2)).toHaveLength(1000);
    expect(g.counts.virtualFunctions).toBeGreaterThan(7000);
    expect(countSpec(g.spec)).toEqual(g.counts);
  });

  it('a small fabric enumerates; every provider sits below a switch below a root port', () => {
    const g = generateFabric({ functions: 200, hostBridges: 2, rootPortsPerHostBridge: 2, switchPorts: 2, leafPorts: 2, providers: 12 });
    expect(g.counts.functions).toBe(200);
    expect(g.counts.hostBridges).toBe(2);
    expect(g.counts.rootPorts).toBe(4);
    expect(g.counts.providers).toBe(12);
    const kernel = new Kernel({ ...kernelOptionsForTopology(g.spec), policy: 'upstream' });
    const sys = enumerate(kernel, g.spec);
    if ('error' in sys) throw new Error(sys.error.message);
    expect(sys.deviceList).toHaveLength(200);
    for (const bdf of g.providers) {
      let depth = 0;
      for (let d = pciUpstreamBridge(sys.findByBdf(bdf)!); d !== null; d = pciUpstreamBridge(d)) depth++;
      // second-level downstream port, its upstream port, first-level downstream port, upstream port, root port
      expect(depth).toBe(5);
    }
    expect(g.clients.every((c) => !g.providers.includes(c))).toBe(true);
  });

  it('endpoints instead of functions: the count excludes ports and host bridge functions', () => {
    const g = generateFabric({ endpoints: 120, hostBridges: 1, rootPortsPerHostBridge: 2, switchPorts: 2, leafPorts: 3, providers: 12 });
    expect(g.counts.endpoints).toBe(120);
    expect(g.counts.functions).toBe(120 + 1 + g.counts.bridges);
  });

  it('refuses impossible shapes, naming the parameter', () => {
    expect(() => generateFabric({ rootPortsPerHostBridge: 8, switchPorts: 8, leafPorts: 8 })).toThrow(
      /8 root ports × 8 × 8 ports need 657 bus numbers; a domain has 256/,
    );
    expect(() => generateFabric({ functions: 100 })).toThrow(/100 functions are too few for this shape/);
    expect(() => generateFabric({ providers: -1 })).toThrow(/providers must be an integer ≥ 0, got -1/);
    expect(() => generateFabric({ functions: 10, endpoints: 10 })).toThrow(/give functions or endpoints, not both/);
  });
});
