/**
 * Hostile text for the importers and the command line (issue 9): `nvme show-regs -H` dumps
 * (nvme-cli show_ctrl_registers format), the real `lspci -vvv -nn` dumps mutated, the
 * seed-switch topology JSON mutated, and `p2pdma` command lines. Contract: loads, or one-line
 * errors naming the input; no exception; bounded time.
 */
import { formatShowRegs, parseShowRegs } from '@p2pdma/nvme-pci';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FuzzKind } from '../src/fuzz';
import { CLI_FUZZ, createFuzzContext, FUZZ_KINDS, FUZZ_TIME_LIMIT_MS, LSPCI_FUZZ, runFuzzBatch, SHOW_REGS_FUZZ, TOPOLOGY_JSON_FUZZ } from '../src/fuzz';
import { lspciFixtures } from '../src/internal/fixtures';

const ctx = createFuzzContext('upstream');

function assertKind<I>(kind: FuzzKind<I>, seed: number, numRuns: number): void {
  fc.assert(
    fc.property(kind.arbitrary(ctx), (input: I) => {
      expect(kind.check(ctx, input)).toBeNull();
    }),
    { seed, numRuns },
  );
}

describe('nvme show-regs text (nvme-pci parseShowRegs): ok and round-trips through formatShowRegs, or one error line naming the input', () => {
  it('printed dumps of random registers, edited line by line (delete, duplicate, swap, flip, cut, bad hex, CRLF)', () => {
    assertKind(SHOW_REGS_FUZZ, 50, 150);
  });

  it('a 100 000-character decoded line parses in bounded time (no regex backtracking blow-up)', () => {
    const text = `cap     : 1\nversion : 10000\ncmbloc  : 0\ncmbsz   : 0\n\t${'(A)'.repeat(33_000)} :${' '.repeat(1000)}x\n`;
    const t0 = performance.now();
    const r = parseShowRegs(text, 'long.txt');
    expect(performance.now() - t0).toBeLessThan(FUZZ_TIME_LIMIT_MS);
    expect(r.ok).toBe(true);
    expect(SHOW_REGS_FUZZ.check(ctx, text)).toBeNull();
  });

  it('an edited value that contradicts its decoded line is refused with the field and line named', () => {
    const text = formatShowRegs({ cap: 0x2078030fffn, vs: 0x10000, cmbloc: 0, cmbsz: 0 }).replace('cap     : 2078030fff', 'cap     : 2078030ff0');
    expect(parseShowRegs(text, 'edited.txt')).toEqual({ ok: false, error: "show-regs 'edited.txt': cap: decoded line 10 says MQES is '4096' but the value gives '4081'" });
  });
});

describe('lspci and topology JSON importers (pci-core), through the soak drivers', () => {
  it('the shared real lspci dumps are found and each loads unmodified', () => {
    const fixtures = lspciFixtures();
    expect(fixtures.length).toBeGreaterThan(0);
    for (const f of fixtures) expect(LSPCI_FUZZ.check(ctx, f.text), f.name).toBeNull();
  });

  it('mutated real dumps and arbitrary text', () => {
    assertKind(LSPCI_FUZZ, 51, 80);
  });

  it('mutated and cut seed-switch topology JSON', () => {
    assertKind(TOPOLOGY_JSON_FUZZ, 52, 200);
  });
});

describe('p2pdma command lines (cli main with a capturing io): exit 0/1/2, and exit 2 prints exactly one stderr line', () => {
  it('vocabulary words, garbage and the real dumps as topology files', () => {
    assertKind(CLI_FUZZ, 53, 100);
  });
});

describe('runFuzzBatch (the soak program driver)', () => {
  it('runs each kind and reports a violation with the input that caused it', () => {
    for (const k of FUZZ_KINDS.filter((x) => x.name !== 'nvmetcli-json' && x.name !== 'configfs')) {
      expect(runFuzzBatch(k, ctx, 7, 5)).toEqual({ kind: k.name, inputs: 5, violations: [] });
    }
    const broken: FuzzKind<string> = { name: 'broken', description: 'a kind whose input always breaks', arbitrary: () => fc.constant('x'), check: () => 'threw Error: boom', describe: (i) => i };
    expect(runFuzzBatch(broken, ctx, 1, 2)).toEqual({ kind: 'broken', inputs: 2, violations: ['broken: threw Error: boom (input: x)', 'broken: threw Error: boom (input: x)'] });
  });
});
