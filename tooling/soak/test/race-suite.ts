/**
 * The seeded-interleaving suite of one race (issue 9), shared by the per-race test files so
 * vitest spreads them over its workers.
 */
import { describe, expect, it } from 'vitest';
import type { RaceRunResult } from '../src/races';
import { RACES, runRace } from '../src/races';

/** Interleavings per race (seeds 0..N-1; policy and placement alternate with the seed). */
export const INTERLEAVINGS = 50;

/**
 * Declares the suite of a race: every interleaving keeps every invariant, the interleavings
 * differ, fire every action, and cover both policies and all three placements.
 * @param name the race's name.
 */
export function raceSuite(name: string): void {
  const def = RACES.find((x) => x.name === name);
  if (def === undefined) throw new Error(`no race ${name}`);
  describe(`race ${def.name}: ${def.description}`, () => {
    it(`${INTERLEAVINGS} seeded interleavings keep every invariant`, () => {
      const runs: RaceRunResult[] = [];
      for (let seed = 0; seed < INTERLEAVINGS; seed++) {
        const r = runRace(def, seed);
        expect(r.violations, `seed ${seed} (${r.policy}/${r.placement}): ${r.fired.join(', ')}`).toEqual([]);
        runs.push(r);
      }
      expect(new Set(runs.map((r) => r.fired.join(','))).size).toBeGreaterThan(INTERLEAVINGS * 0.9);
      for (const r of runs) expect(r.fired.length).toBe(def.actions.length);
      // Most actions really race the main program (fire before it ends), not after it.
      const fired = runs.flatMap((r) => r.fired);
      expect(fired.filter((f) => !f.includes('@end(')).length / fired.length).toBeGreaterThan(0.6);
      expect(new Set(runs.map((r) => `${r.policy}/${r.placement}`)).size).toBe(6);
      expect(runs.reduce((n, r) => n + r.ios.blocksVerified, 0)).toBeGreaterThan(0);
    });
  });
}
