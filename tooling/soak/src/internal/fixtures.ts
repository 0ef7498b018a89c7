/**
 * The real `lspci` dumps of the shared fixtures, found from the working directory or this
 * module's location (the repository's parent holds `shared/`). The soak program runs from the
 * built bundle, so it cannot use the test helpers' TypeScript sources.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A fixture's name and text. */
export interface TextFixture {
  readonly name: string;
  readonly text: string;
}

function repoRootFrom(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

let cache: TextFixture[] | null = null;

/** @returns the `.txt` dumps of `shared/fixtures/lspci`, sorted by name (empty when not found). */
export function lspciFixtures(): TextFixture[] {
  if (cache !== null) return cache;
  const here = (() => {
    try {
      return dirname(fileURLToPath(import.meta.url));
    } catch {
      return process.cwd();
    }
  })();
  const root = repoRootFrom(process.cwd()) ?? repoRootFrom(here);
  const dir = root === null ? null : join(root, '..', 'shared', 'fixtures', 'lspci');
  cache =
    dir === null || !existsSync(dir)
      ? []
      : readdirSync(dir)
          .filter((f) => f.endsWith('.txt'))
          .sort()
          .map((f) => ({ name: f.slice(0, -4), text: readFileSync(join(dir, f), 'utf8') }));
  return cache;
}

/** @returns the fixtures' file paths (for command lines), or none. */
export function lspciFixturePaths(): string[] {
  const root = repoRootFrom(process.cwd());
  if (root === null) return [];
  return lspciFixtures().map((f) => join(root, '..', 'shared', 'fixtures', 'lspci', `${f.name}.txt`));
}
