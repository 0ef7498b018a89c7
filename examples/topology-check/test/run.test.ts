/**
 * The example's run.sh, command by command, through the CLI library: every command it shows users
 * runs, and gives the kernel's answer for this real machine (upstream 6.6 rules unless noted).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CliIo, main } from '@p2pdma/cli';
import { describe, expect, test } from 'vitest';

const here = join(import.meta.dirname, '..');
const script = readFileSync(join(here, 'run.sh'), 'utf8');
const dump = join(here, 'data', 'gpu4-plx8747-nvbugreport.txt');
const commands = script
  .split('\n')
  .filter((l) => l.startsWith('$P2PDMA '))
  .map((l) => l.slice('$P2PDMA '.length).split(/\s+/).map((w) => (w === '$DUMP' ? dump : w)));

function run(argv: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    isTTY: false,
  };
  return { code: main(argv, io), out, err };
}

const json = (argv: string[]) => {
  const r = run([...argv, '--json']);
  expect(r.err).toBe('');
  return { code: r.code, body: JSON.parse(r.out) };
};

describe('examples/topology-check on a real dump (gpu4-plx8747)', () => {
  test('the script has the seven commands this test checks, and each runs with a one-screen answer', () => {
    expect(commands).toHaveLength(7);
    for (const argv of commands) {
      const r = run(argv);
      expect(r.err).toBe('');
      expect([0, 1]).toContain(r.code);
      expect(r.out.length).toBeGreaterThan(0);
    }
  });

  test('same switch: bus addresses, distance 4 (6.6 calc_map_type_and_dist)', () => {
    const { code, body } = json(commands[0]!);
    expect(code).toBe(0);
    expect(body.clients[0]).toMatchObject({ client: '0000:05:00.0', mapType: 'bus-addr', distance: 4, fix: null });
  });

  test('across root ports: not supported, host bridge 8086:6f00 not in the whitelist (6.6 host_bridge_whitelist)', () => {
    const { code, body } = json(commands[1]!);
    expect(code).toBe(1);
    expect(body.totalDistance).toBe(-1);
    expect(body.clients[0].mapType).toBe('not-supported');
    expect(body.clients[0].fix).toMatch(/^host bridge 0000:00:00\.0 \[8086:6f00\] is not whitelisted/);
  });

  test('the seed (v2) refuses the pair too, with no distance (patch 01 same-switch rule)', () => {
    const { code, body } = json(commands[2]!);
    expect(code).toBe(1);
    expect(body.totalDistance).toBeNull();
    expect(body.clients[0].mapType).toBe('not-supported');
  });

  test('an AMD Zen CPU would allow it through the host bridge (6.6 cpu_supports_p2pdma)', () => {
    const { code, body } = json(commands[3]!);
    expect(code).toBe(0);
    expect(body.clients[0].mapType).toBe('thru-host-bridge');
  });

  test('find: the GPU under the same switch as 08:00.0 wins (closest provider)', () => {
    const { code, body } = json(commands[4]!);
    expect(code).toBe(0);
    expect(body.chosen).toBe('0000:09:00.0');
  });

  test('matrix: GPUs pair with bus addresses within a switch and not at all across switches', () => {
    const { body } = json(commands[5]!);
    const i = body.endpoints.indexOf('0000:04:00.0');
    const j5 = body.endpoints.indexOf('0000:05:00.0');
    const j8 = body.endpoints.indexOf('0000:08:00.0');
    expect(body.cells[i][j5].mapType).toBe('bus-addr');
    expect(body.cells[i][j8].mapType).toBe('not-supported');
  });

  test('iommu-groups: both views list every function of the dump', () => {
    const { body } = json(commands[6]!);
    const count = (gs: Array<{ devices: string[] }>) => gs.reduce((n, g) => n + g.devices.length, 0);
    expect(count(body.upstream)).toBe(count(body.v2));
    expect(count(body.upstream)).toBeGreaterThan(20);
  });
});
