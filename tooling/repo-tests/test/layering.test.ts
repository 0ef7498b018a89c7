/**
 * DESIGN section 2: imports only point down the stack. This test reads every source and test
 * file of every package and fails on an import that points up or sideways, on a dependency the
 * package.json does not declare, and on tsconfig references that do not follow the same graph.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@p2pdma/test-utils';
import { describe, expect, test } from 'vitest';

/** The allowed direct imports of each package: DESIGN section 2's arrows, closed transitively. */
const ARROWS: Record<string, string[]> = {
  kernel: [],
  'pci-core': ['kernel'],
  p2pdma: ['pci-core'],
  blk: ['kernel'],
  'rdma-rw': ['p2pdma'],
  'nvme-pci': ['p2pdma', 'blk'],
  nvmet: ['rdma-rw', 'nvme-pci'],
  cli: ['nvmet'],
};

function closure(name: string): Set<string> {
  const out = new Set<string>();
  const stack = [...(ARROWS[name] ?? [])];
  while (stack.length) {
    const n = stack.pop()!;
    if (out.has(n)) continue;
    out.add(n);
    stack.push(...(ARROWS[n] ?? []));
  }
  return out;
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : /\.(ts|mts|cts|tsx)$/.test(f) ? [p] : [];
  });
}

const IMPORT_RE = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT_RE)].map((m) => m[1] ?? m[2] ?? m[3]!).filter(Boolean);
}

const packages = Object.keys(ARROWS);

describe('DESIGN section 2 layering', () => {
  test('every package in the design exists with src/index.ts', () => {
    for (const p of packages) expect(existsSync(join(repoRoot, 'packages', p, 'src', 'index.ts')), p).toBe(true);
    const onDisk = readdirSync(join(repoRoot, 'packages')).sort();
    expect(onDisk).toEqual([...packages].sort());
  });

  for (const p of packages) {
    test(`${p}: imports only point down the stack`, () => {
      const allowed = closure(p);
      const bad: string[] = [];
      for (const dir of ['src', 'test']) {
        for (const file of walk(join(repoRoot, 'packages', p, dir))) {
          for (const spec of importsOf(file)) {
            const m = /^@p2pdma\/([^/]+)(\/.*)?$/.exec(spec);
            if (m) {
              const target = m[1]!;
              if (target === 'test-utils' && dir === 'test') continue;
              if (target === p) {
                if (dir === 'src') bad.push(`${file}: imports its own package by name (${spec})`);
                continue;
              }
              if (!allowed.has(target)) bad.push(`${file}: imports ${spec}, which is not below ${p}`);
              if (m[2]) bad.push(`${file}: deep import ${spec} (only the package entry is public)`);
            } else if (spec.startsWith('.')) {
              const resolved = join(file, '..', spec);
              if (!resolved.startsWith(join(repoRoot, 'packages', p) + '/')) {
                bad.push(`${file}: relative import ${spec} leaves the package`);
              }
            }
          }
        }
      }
      expect(bad).toEqual([]);
    });

    test(`${p}: package.json dependencies, tsconfig references and turbo graph follow the layering`, () => {
      const dir = join(repoRoot, 'packages', p);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      const deps = Object.keys(pkg.dependencies ?? {})
        .filter((d) => d.startsWith('@p2pdma/'))
        .map((d) => d.slice('@p2pdma/'.length));
      const allowed = closure(p);
      for (const d of deps) expect(allowed.has(d), `${p} depends on ${d}`).toBe(true);
      // Every package it imports in src is declared.
      const used = new Set<string>();
      for (const file of walk(join(dir, 'src'))) {
        for (const spec of importsOf(file)) {
          const m = /^@p2pdma\/([^/]+)/.exec(spec);
          if (m && m[1] !== p) used.add(m[1]!);
        }
      }
      for (const u of used) expect(deps, `${p} imports @p2pdma/${u} without declaring it`).toContain(u);
      const tsconfig = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8'));
      const refs = (tsconfig.references ?? []).map((r: { path: string }) => r.path.replace(/^\.\.\//, ''));
      for (const d of deps) expect(refs, `${p}/tsconfig.json references ${d}`).toContain(d);
      for (const r of refs) {
        if (r.startsWith('../')) continue; // tooling
        expect(allowed.has(r), `${p}/tsconfig.json references ${r}, which is not below it`).toBe(true);
      }
    });
  }

  test('turbo builds dependencies first (^build) for build, test and typecheck', () => {
    const turbo = JSON.parse(readFileSync(join(repoRoot, 'turbo.json'), 'utf8'));
    for (const task of ['build', 'test', 'typecheck']) {
      expect(turbo.tasks[task].dependsOn, task).toContain('^build');
    }
  });

  test('the checker itself catches an upward import (kernel importing pci-core is refused)', () => {
    expect(closure('kernel').has('pci-core')).toBe(false);
    expect(closure('blk').has('p2pdma')).toBe(false);
    expect(closure('cli').size).toBe(7);
    const fake = "import { x } from '@p2pdma/nvmet';\nexport * from \"@p2pdma/blk\";";
    const specs = [...fake.matchAll(IMPORT_RE)].map((m) => m[1]);
    expect(specs).toEqual(['@p2pdma/nvmet', '@p2pdma/blk']);
  });
});
