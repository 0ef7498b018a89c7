/**
 * House style 9 and the lint rule: every package typechecks under strict settings (its sources and
 * its tests, through the tsconfig project references) and lints clean. vitest strips types without
 * checking them, so without this a type error could pass CI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@p2pdma/test-utils';
import { describe, expect, test } from 'vitest';

const packages = readdirSync(join(repoRoot, 'packages')).sort();
const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);

describe('static checks', () => {
  for (const p of packages) {
    const dir = join(repoRoot, 'packages', p);
    test(`${p}: tsc -b (strict, noUncheckedIndexedAccess) reports no error`, () => {
      const r = spawnSync(bin('tsc'), ['-b'], { cwd: dir, encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
      expect(r.status).toBe(0);
    });
    test(`${p}: biome lint reports no error or warning`, () => {
      const dirs = ['src', 'test'].filter((d) => existsSync(join(dir, d)));
      const r = spawnSync(bin('biome'), ['lint', '--max-diagnostics=20', ...dirs], { cwd: dir, encoding: 'utf8' });
      const out = `${r.stdout}${r.stderr}`;
      expect(out).not.toMatch(/Found \d+ (error|warning)/);
      expect(r.status).toBe(0);
    });
  }
});
