/**
 * `render`: the SVG holds one box per enumerated function, draws exactly the path `check`
 * computes, and marks exactly its ACS culprits.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkP2p } from '@p2pdma/p2pdma';
import { builtinNames, getBuiltin } from '@p2pdma/pci-core';
import { describe, expect, test } from 'vitest';
import { EXIT_OK, EXIT_USAGE } from '../src/index';
import { run } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'p2pdma-render-'));


const ids = (svg: string, cls: string) => [...svg.matchAll(new RegExp(`<g class="device[^"]*\\b${cls}\\b[^"]*" id="dev-([^"]+)"`, 'g'))].map((m) => m[1]);

describe('p2pdma render', () => {
  for (const name of builtinNames()) {
    test(`builtin:${name}: one box per function, well-formed document`, () => {
      const file = join(dir, `${name}.svg`);
      const r = run('render', `builtin:${name}`, '-o', file, '--json');
      expect(r.code).toBe(EXIT_OK);
      const svg = readFileSync(file, 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      const boxes = [...svg.matchAll(/<g class="device[^"]*" id="dev-([^"]+)"/g)].map((m) => m[1]);
      expect(boxes.length).toBe(JSON.parse(r.out).devices);
      expect(new Set(boxes).size).toBe(boxes.length);
      // Every opened element is closed (a cheap well-formedness check on our own output).
      expect((svg.match(/<g\b/g) ?? []).length).toBe((svg.match(/<\/g>/g) ?? []).length);
    });
  }

  test('acs-redirect with --path: the path of check is drawn and its ACS culprits are marked', () => {
    const file = join(dir, 'acs.svg');
    expect(run('render', 'builtin:acs-redirect', '--path', '03:00.0,04:00.0', '-o', file).code).toBe(EXIT_OK);
    const svg = readFileSync(file, 'utf8');
    const lib = checkP2p(getBuiltin('acs-redirect')!, { provider: '04:00.0', clients: ['03:00.0'] });
    if (!lib.ok) throw new Error(lib.error);
    expect(ids(svg, 'on-path').sort()).toEqual([...lib.clients[0]!.path].sort());
    expect(ids(svg, 'acs-culprit').sort()).toEqual([...lib.clients[0]!.acsRedirect].sort());
    expect(svg).toContain(lib.clients[0]!.fix!);
  });

  test('bad --path and missing -o are one-line usage errors', () => {
    expect(run('render', 'builtin:seed-switch', '--path', '03:00.0', '-o', join(dir, 'x.svg')).code).toBe(EXIT_USAGE);
    const r = run('render', 'builtin:seed-switch');
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.err).toMatch(/-o <file\.svg> is required/);
  });
});
