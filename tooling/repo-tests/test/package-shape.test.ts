/**
 * House style 1 and 4: every package has a hand-curated entry, an exports map for ESM and CJS
 * with types, no internals in the exports map, a README, and a doc comment on every export.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@p2pdma/test-utils';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';

const packages = readdirSync(join(repoRoot, 'packages')).sort();

describe('package shape', () => {
  for (const p of packages) {
    const dir = join(repoRoot, 'packages', p);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));

    test(`${p}: exports map serves types to ESM and CJS and hides internals`, () => {
      expect(pkg.name).toBe(`@p2pdma/${p}`);
      const root = pkg.exports['.'];
      expect(root.import).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
      expect(root.require).toEqual({ types: './dist/index.d.cts', default: './dist/index.cjs' });
      expect(Object.keys(pkg.exports).filter((k) => k.includes('internal'))).toEqual([]);
      expect(pkg.files).toContain('dist');
      expect(existsSync(join(dir, 'README.md')), `${p}/README.md`).toBe(true);
    });

    test(`${p}: every export of src/index.ts has a doc comment`, () => {
      const entry = join(dir, 'src', 'index.ts');
      const program = ts.createProgram([entry], {
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        customConditions: ['@p2pdma/source'],
        target: ts.ScriptTarget.ES2022,
        noEmit: true,
        skipLibCheck: true,
      });
      const checker = program.getTypeChecker();
      const source = program.getSourceFile(entry)!;
      const moduleSymbol = checker.getSymbolAtLocation(source);
      const undocumented: string[] = [];
      for (const sym of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
        const target = sym.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(sym) : sym;
        const doc = ts.displayPartsToString(target.getDocumentationComment(checker)).trim();
        if (!doc) undocumented.push(sym.getName());
      }
      expect(undocumented).toEqual([]);
    });
  }
});
