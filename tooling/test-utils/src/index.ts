/**
 * Shared helpers for the workspace's tests. Private: never published, never imported by `src/`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A small, fast, seeded PRNG (mulberry32). Same seed, same sequence, on every machine. */
export class SeededRng {
  private state: number;
  /** @param seed any 32-bit integer; tests name their seed so failures replay exactly. */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Next float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** Fill a buffer with pseudo-random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = (this.next() * 4294967296) >>> 0;
      out[i] = v & 0xff;
      if (i + 1 < n) out[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) out[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) out[i + 3] = v >>> 24;
    }
    return out;
  }
}

/** The repository root (the folder holding pnpm-workspace.yaml). */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('test-utils: cannot find the repository root');
    dir = up;
  }
  return dir;
})();

/** The shared fixtures folder (`../shared/fixtures` beside the repository). */
export const sharedFixturesDir: string = resolve(repoRoot, '..', 'shared', 'fixtures');

/** Names (without `.txt`) of every real `lspci` dump in the shared fixtures. */
export function lspciFixtureNames(): string[] {
  const dir = join(sharedFixturesDir, 'lspci');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .map((f) => f.slice(0, -4))
    .sort();
}

/** Text of one shared `lspci` fixture, byte for byte. */
export function readLspciFixture(name: string): string {
  return readFileSync(join(sharedFixturesDir, 'lspci', `${name}.txt`), 'latin1');
}
