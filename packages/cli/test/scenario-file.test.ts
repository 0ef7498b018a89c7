/**
 * `p2pdma simulate <file.json>` (issue 7: "a JSON file naming a topology, the target
 * configuration and a workload"): the shipped example, topologies given three ways, the workload
 * mapped onto runScenario (writes, reads, queue depth), and validation errors that name the file,
 * the JSON path and the reason (exit 2, nothing on stdout, nothing run).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { getBuiltin } from '@p2pdma/pci-core';
import { repoRoot, sharedFixturesDir } from '@p2pdma/test-utils';
import { afterAll, describe, expect, test } from 'vitest';
import type { ScenarioPlacementReport, ScenarioProgress, ScenarioReport } from '../src/index';
import { EXIT_NO, EXIT_OK, EXIT_USAGE, loadScenarioFile, parseScenarioFile, runScenario, SCENARIO_FILE_SCHEMA } from '../src/index';
import { run } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'p2pdma-scenario-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const EXAMPLE = join(repoRoot, 'packages', 'cli', 'scenarios', 'acs-redirect-mixed.json');

/** Write a scenario file into the temporary folder. */
function scenarioFile(name: string, body: unknown): string {
  const f = join(dir, name);
  writeFileSync(f, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  return f;
}

const placement = (r: ScenarioReport, name: ScenarioPlacementReport['placement']) => r.placements.find((p) => p.placement === name)!;
const link = (p: ScenarioPlacementReport, name: string) => p.links.find((l) => l.link === name) ?? { link: name, upBytes: 0, downBytes: 0 };

describe('the shipped example scenarios/acs-redirect-mixed.json', () => {
  // 200 I/Os of 16 KiB, 70% reads: 60 writes (blocks 0-59) then 140 reads cycling over them, in
  // batches of 8, on builtin:acs-redirect (switch downstream ports with ACS Request Redirect).
  const W = 60 * 16384;
  const R = 140 * 16384;

  test('v2 (as the file says): both placements verify; the p2pmem card carries every byte once in and once out, DRAM only command traffic', () => {
    const res = run('simulate', EXAMPLE, '--json');
    expect(res.err).toBe('');
    expect(res.code).toBe(EXIT_OK);
    const r = JSON.parse(res.out) as ScenarioReport;
    expect([r.scenario, r.topology, r.policy, r.ioBytes, r.ios, r.reads, r.queueDepth, r.dataBytes, r.verified]).toEqual(['acs-redirect-mixed', 'acs-redirect', 'v2', 16384, 60, 140, 8, W, true]);
    expect(r.placements.map((p) => [p.placement, p.drive, p.provider, p.verified])).toEqual([
      ['system-memory', '0000:05:00.0', null, true],
      ['p2pmem', '0000:05:00.0', '0000:06:00.0', true],
    ]);
    const sys = placement(r, 'system-memory');
    const p2p = placement(r, 'p2pmem');
    expect(p2p.p2pBuffers).toBe(200);
    // Writes: RNIC → card, card → SSD; reads: SSD → card, card → RNIC. The seed cleared ACS, so it stays below the switch.
    expect(link(p2p, '0000:06:00.0')).toEqual({ link: '0000:06:00.0', upBytes: W + R, downBytes: W + R });
    // System RAM: every data byte is written to DRAM once and read once in each phase; the same commands run in both placements.
    expect(sys.phases.write.dramBytes - p2p.phases.write.dramBytes).toBe(2 * W);
    expect(sys.phases.read.dramBytes - p2p.phases.read.dramBytes).toBe(2 * R);
    expect(p2p.dramBytes).toBeLessThan((W + R) / 50);
  });

  test('--policy upstream overrides the file: ACS redirect makes the card unusable for the target (nvmet p2pmem enable -EINVAL), exit 1', () => {
    const res = run('simulate', EXAMPLE, '--policy', 'upstream', '--json');
    expect(res.code).toBe(EXIT_NO);
    const r = JSON.parse(res.out) as ScenarioReport;
    expect(r.policy).toBe('upstream');
    expect(r.placements.map((p) => [p.placement, p.verified, p.error])).toEqual([
      ['system-memory', true, null],
      ['p2pmem', false, 'testbed: configfs enable: failed (-22)'],
    ]);
  });

  test('the text report names the workload', () => {
    const res = run('simulate', EXAMPLE);
    expect(res.code).toBe(EXIT_OK);
    expect(res.out.split('\n')[0]).toBe('scenario acs-redirect-mixed on acs-redirect, policy v2: 60 writes then 140 reads of 16K (960K written, 2.2M read) per placement, queue depth 8');
  });

  test('as a library: loadScenarioFile + runScenario report progress once per batch of 8 (ceil(60/8) + ceil(140/8) = 26 per placement)', () => {
    const f = loadScenarioFile(EXAMPLE);
    if (!f.ok) throw new Error(f.error);
    const seen: ScenarioProgress[] = [];
    const r = runScenario(f.file.scenario, { ...f.file.options, onProgress: (p) => seen.push(p) });
    expect(r.verified).toBe(true);
    expect(seen).toHaveLength(2 * 26);
    expect(seen[0]).toEqual({ placement: 'system-memory', done: 8, total: 400 });
    expect(seen.at(-1)).toEqual({ placement: 'p2pmem', done: 400, total: 400 });
    expect(seen.every((p, i) => i === 0 || p.done > seen[i - 1]!.done)).toBe(true);
  });
});

describe('the topology, three ways', () => {
  const workload = { ioBytes: 4096, count: 8, readPercent: 50 };

  test('a topology JSON file relative to the scenario file (named in the report as written)', () => {
    writeFileSync(join(dir, 'machine.json'), JSON.stringify(getBuiltin('seed-switch')));
    const f = scenarioFile('relative.json', { schema: SCENARIO_FILE_SCHEMA, topology: 'machine.json', target: { placements: ['p2pmem'] }, workload });
    const res = run('simulate', f, '--json');
    expect(res.code).toBe(EXIT_OK);
    const r = JSON.parse(res.out) as ScenarioReport;
    expect([r.scenario, r.topology, r.ios, r.reads, r.queueDepth]).toEqual(['relative', 'machine.json', 4, 4, 1]);
    expect(r.placements[0]!.provider).toBe('0000:06:00.0');
  });

  test('an inline topology object', () => {
    const f = scenarioFile('inline.json', { schema: SCENARIO_FILE_SCHEMA, name: 'inline-seed', topology: getBuiltin('seed-switch'), target: { placements: ['cmb'] }, workload });
    const r = JSON.parse(run('simulate', f, '--json').out) as ScenarioReport;
    expect([r.topology, r.verified, r.placements[0]!.provider]).toEqual(['seed-switch', true, '0000:04:00.0']);
  });

  test('a real lspci dump relative to the scenario file: it loads, but it has no RNIC, so each placement reports why (exit 1)', () => {
    const rel = relative(dir, join(sharedFixturesDir, 'lspci', 'gpu4-plx8747-nvbugreport.txt'));
    const f = scenarioFile('lspci.json', { schema: SCENARIO_FILE_SCHEMA, topology: rel, target: { placements: ['system-memory'] }, workload });
    const res = run('simulate', f, '--json');
    expect(res.code).toBe(EXIT_NO);
    const r = JSON.parse(res.out) as ScenarioReport;
    expect(r.topology).toBe(rel);
    expect(r.placements[0]!.error).toBe('testbed: rnic: none in the topology');
  });
});

describe('validation: `<file>: <JSON path>: <reason>`, exit 2, nothing on stdout', () => {
  const base = { schema: SCENARIO_FILE_SCHEMA, topology: 'builtin:seed-switch' };
  const cases: Array<[string, unknown, string]> = [
    ['I/O size not a multiple of 512', { ...base, workload: { ioBytes: 1000 } }, '$.workload.ioBytes: must be a positive multiple of 512 (got number 1000)'],
    ['count zero', { ...base, workload: { count: 0 } }, '$.workload.count: must be a positive integer (got number 0)'],
    ['all reads', { ...base, workload: { count: 10, readPercent: 99.9 } }, '$.workload.readPercent: 99.9% of 10 I/Os leaves no write: reads check bytes written in the same run'],
    ['read percent out of range', { ...base, workload: { readPercent: 100 } }, '$.workload.readPercent: must be a number from 0 to less than 100: reads check bytes written in the same run (got number 100)'],
    ['queue depth too deep', { ...base, workload: { queueDepth: 500 } }, '$.workload.queueDepth: must be an integer from 1 to 127 (got number 500)'],
    ['seed a string', { ...base, workload: { seed: '7' } }, '$.workload.seed: must be an integer from 0 to 4294967295 (got string "7")'],
    ['a misspelt key', { ...base, workload: { iosize: 4096 } }, '$.workload.iosize: unknown key (expected one of ioBytes, count, readPercent, queueDepth, seed)'],
    ['no schema', { topology: 'builtin:seed-switch' }, "$.schema: must be 'p2pdma-cli/scenario/v1' (got nothing)"],
    ['no topology', { schema: SCENARIO_FILE_SCHEMA }, "$.topology: missing (a 'builtin:<name>', a topology JSON or lspci file relative to the scenario file, or an inline topology object)"],
    ['unknown builtin', { ...base, topology: 'builtin:seed' }, "$.topology: unknown builtin 'seed' (known: acs-redirect, cascade, dual-host-bridge, dual-host-bridge-unlisted, root-ports, seed-switch)"],
    ['a drive that is not in the topology', { ...base, target: { drive: '09:00.0' } }, '$.target.drive: no function 0000:09:00.0 in the topology'],
    ['an RNIC that is no PCI address', { ...base, target: { rnic: 'mlx5_0' } }, "$.target.rnic: 'mlx5_0' is not a PCI address (expected [dddd:]bb:dd.f)"],
    ['an unknown placement', { ...base, target: { placements: ['p2pmem', 'hbm'] } }, '$.target.placements[1]: must be one of system-memory, p2pmem, cmb (got string "hbm")'],
    ['a placement twice', { ...base, target: { placements: ['cmb', 'cmb'] } }, "$.target.placements[1]: 'cmb' is listed twice"],
    ['a bad policy', { ...base, target: { policy: 'v3' } }, '$.target.policy: must be one of upstream, v2 (got string "v3")'],
    ['a namespace too small for the writes', { ...base, target: { namespaceBytes: 1048576 }, workload: { ioBytes: 65536, count: 64, readPercent: 0 } }, '$.target.namespaceBytes: 1048576 bytes cannot hold the 4194304 bytes written (64 writes × 65536)'],
    ['an inline topology with an error (path inside the topology)', { ...base, topology: { schema: 'p2pdma-topology/v1', hostBridges: [{ domain: 0, bus: 0 }], devices: 3 } }, '$.topology.devices: must be an array, got 3'],
    ['not an object', [1, 2], '$: must be a scenario object (got an array)'],
    ['several problems: the first, and how many more', { ...base, workload: { ioBytes: 1, count: -1, seed: -1 } }, '$.workload.ioBytes: must be a positive multiple of 512 (got number 1) (and 2 more problems)'],
  ];
  for (const [what, body, message] of cases) {
    test(what, () => {
      const f = scenarioFile(`${what.replace(/\W+/g, '-')}.json`, body);
      expect(run('simulate', f)).toEqual({ code: EXIT_USAGE, out: '', err: `p2pdma: simulate: ${f}: ${message}\n` });
    });
  }

  test('a topology file that does not exist is named with its resolved path', () => {
    const f = scenarioFile('missing-topo.json', { ...base, topology: 'nowhere/machine.json' });
    expect(run('simulate', f)).toEqual({ code: EXIT_USAGE, out: '', err: `p2pdma: simulate: ${f}: $.topology: cannot read '${join(dir, 'nowhere', 'machine.json')}': no such file\n` });
  });

  test('invalid JSON names the line and column', () => {
    const f = scenarioFile('broken.json', '{\n  "schema": "p2pdma-cli/scenario/v1",\n  "topology": builtin\n}\n');
    const r = run('simulate', f);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.out).toBe('');
    expect(r.err).toMatch(new RegExp(`^p2pdma: simulate: ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid JSON: .* at line 3 column 15\\n$`));
  });

  test('an unreadable scenario file (a folder)', () => {
    expect(run('simulate', dir)).toEqual({ code: EXIT_USAGE, out: '', err: `p2pdma: simulate: cannot read '${dir}': is a directory\n` });
  });

  test('parseScenarioFile maps the workload onto runScenario: writes = count − round(count × readPercent / 100)', () => {
    const r = parseScenarioFile(JSON.stringify({ ...base, workload: { count: 7, readPercent: 30, queueDepth: 3, seed: 9 } }), 's.json', dir);
    if (!r.ok) throw new Error(r.error);
    expect(r.file.options).toEqual({ ioBytes: 65536, ios: 5, reads: 2, queueDepth: 3, seed: 9 });
    expect(r.file.scenario).toMatchObject({ name: 's', topology: 'seed-switch', placements: ['system', 'p2pmem', 'cmb'], target: {} });
  });

  test('the library refuses bad workload numbers with a RangeError naming them', () => {
    expect(() => runScenario('nvmf-p2p-offload', { reads: -1 })).toThrow(new RangeError('reads -1 must be an integer ≥ 0'));
    expect(() => runScenario('nvmf-p2p-offload', { queueDepth: 0 })).toThrow(new RangeError('queueDepth 0 must be an integer from 1 to 127'));
  });
});
