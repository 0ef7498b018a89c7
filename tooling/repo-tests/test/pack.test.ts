/**
 * Every package is consumable on its own: each is packed as it would be published, checked with
 * publint and "are the types wrong", installed from the tarballs into a scratch project outside
 * the workspace, and imported there from ESM and CJS, and type-checked with node16 resolution.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@p2pdma/test-utils';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const packages = readdirSync(join(repoRoot, 'packages')).sort();
const work = mkdtempSync(join(tmpdir(), 'p2pdma-pack-'));
const tarballs = new Map<string, string>();

function pnpm(args: string[], cwd: string): string {
  const execpath = process.env.npm_execpath;
  if (execpath && /pnpm/.test(execpath)) {
    return execFileSync(process.execPath, [execpath, ...args], { cwd, encoding: 'utf8' });
  }
  return execFileSync('npx', ['--yes', 'pnpm@10.34.8', ...args], { cwd, encoding: 'utf8' });
}

beforeAll(() => {
  for (const p of packages) {
    const out = pnpm(['pack', '--pack-destination', work], join(repoRoot, 'packages', p));
    const file = out.trim().split('\n').pop()!.trim();
    tarballs.set(p, file.startsWith('/') ? file : join(work, file));
  }
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('packed packages', () => {
  test('publint finds no problem in any tarball', async () => {
    const problems: string[] = [];
    for (const [p, file] of tarballs) {
      const buf = readFileSync(file);
      const tarball = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      const { messages, pkg } = await publint({ pack: { tarball }, strict: true });
      for (const m of messages) problems.push(`${p}: ${m.type}: ${formatMessage(m, pkg)}`);
    }
    expect(problems).toEqual([]);
  });

  test('are-the-types-wrong: types resolve for node10, node16 (ESM and CJS) and bundlers', () => {
    const attw = join(repoRoot, 'tooling', 'repo-tests', 'node_modules', '.bin', 'attw');
    const failures: string[] = [];
    for (const [p, file] of tarballs) {
      try {
        execFileSync(attw, [file, '--format', 'ascii', '--no-color'], { encoding: 'utf8' });
      } catch (e) {
        failures.push(`${p}: ${(e as { stdout?: string }).stdout ?? String(e)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  test('a scratch project outside the workspace installs the tarballs and imports them (ESM, CJS, types)', () => {
    const app = join(work, 'app');
    execFileSync('mkdir', ['-p', app]);
    const deps = Object.fromEntries([...tarballs].map(([p, f]) => [`@p2pdma/${p}`, `file:${f}`]));
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies: deps, overrides: deps }, null, 2),
    );
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, encoding: 'utf8' });
    const names = [...tarballs.keys()].map((p) => `@p2pdma/${p}`);
    // ESM import of every package.
    const esm = names.map((n, i) => `import * as m${i} from '${n}'; console.log('${n}', typeof m${i});`).join('\n');
    writeFileSync(join(app, 'esm.mjs'), esm);
    const esmOut = execFileSync(process.execPath, ['esm.mjs'], { cwd: app, encoding: 'utf8' });
    for (const n of names) expect(esmOut).toContain(`${n} object`);
    // CJS require of every package.
    const cjs = names.map((n) => `console.log('${n}', typeof require('${n}'));`).join('\n');
    writeFileSync(join(app, 'cjs.cjs'), cjs);
    const cjsOut = execFileSync(process.execPath, ['cjs.cjs'], { cwd: app, encoding: 'utf8' });
    for (const n of names) expect(cjsOut).toContain(`${n} object`);
    // The base layer's API is really there, from both module systems.
    const probe = `const k = require('@p2pdma/kernel'); console.log(k.Errno.EINVAL, typeof k.Kernel);`;
    writeFileSync(join(app, 'probe.cjs'), probe);
    expect(execFileSync(process.execPath, ['probe.cjs'], { cwd: app, encoding: 'utf8' }).trim()).toBe('22 function');
    // Types: node16 resolution from an ESM file and a CJS file.
    writeFileSync(join(app, 'types.mts'), `import { Errno } from '@p2pdma/kernel';\nconst e: number = Errno.EINVAL;\nexport { e };\n`);
    writeFileSync(join(app, 'types.cts'), `import k = require('@p2pdma/kernel');\nconst e: number = k.Errno.ENODEV;\nexport { e };\n`);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'node16', moduleResolution: 'node16', strict: true, noEmit: true, skipLibCheck: false, types: [] }, files: ['types.mts', 'types.cts'] }),
    );
    const tsc = join(repoRoot, 'node_modules', '.bin', 'tsc');
    execFileSync(tsc, ['-p', app], { cwd: app, encoding: 'utf8' });
  });
});
