// One-off scaffold helper: writes the build/test wiring of a workspace package.
// Usage: node tooling/gen-package.mjs <name> "<description>" dep1,dep2
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
const [name, description, depsArg = ''] = process.argv.slice(2);
const deps = depsArg ? depsArg.split(',') : [];
const dir = `packages/${name}`;
mkdirSync(`${dir}/src`, { recursive: true });
mkdirSync(`${dir}/test`, { recursive: true });
const pkg = {
  name: `@p2pdma/${name}`,
  version: '0.1.0',
  description,
  license: 'MIT',
  type: 'module',
  sideEffects: false,
  main: './dist/index.cjs',
  module: './dist/index.js',
  types: './dist/index.d.cts',
  exports: {
    '.': {
      '@p2pdma/source': './src/index.ts',
      import: { types: './dist/index.d.ts', default: './dist/index.js' },
      require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
    },
    './package.json': './package.json',
  },
  files: ['dist', 'src', '!src/**/*.test.ts'],
  scripts: {
    build: 'tsup',
    test: 'vitest run',
    typecheck: 'tsc -b',
    lint: 'biome lint src test',
  },
  dependencies: Object.fromEntries(deps.map((d) => [`@p2pdma/${d}`, 'workspace:^'])),
  devDependencies: { '@p2pdma/test-utils': 'workspace:*' },
  engines: { node: '>=20.19' },
};
writeFileSync(`${dir}/package.json`, JSON.stringify(pkg, null, 2) + '\n');
writeFileSync(`${dir}/tsconfig.json`, JSON.stringify({
  extends: '../../tsconfig.base.json',
  compilerOptions: { composite: true, noEmit: false, emitDeclarationOnly: true, outDir: '.tsbuild', rootDir: '.' },
  include: ['src', 'test'],
  references: [...deps.map((d) => ({ path: `../${d}` })), { path: '../../tooling/test-utils' }],
}, null, 2) + '\n');
writeFileSync(`${dir}/tsup.config.ts`, `import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  target: 'node20',
  // Declarations are built against the dependencies' published types, not their sources.
  dts: { compilerOptions: { composite: false, customConditions: [] } },
  sourcemap: true,
  clean: true,
});
`);
writeFileSync(`${dir}/vitest.config.ts`, `import { defineConfig } from 'vitest/config';
import { preset } from '../../tooling/vitest.preset';

export default defineConfig(preset());
`);
