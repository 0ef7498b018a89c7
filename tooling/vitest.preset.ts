// Shared vitest configuration for every workspace package.
// Tests resolve sibling packages to their TypeScript sources through the
// `@p2pdma/source` export condition, so a test run never depends on stale builds.
import { defaultClientConditions, defaultServerConditions } from 'vite';
import type { ViteUserConfig } from 'vitest/config';

export function preset(extra: { testTimeout?: number } = {}): ViteUserConfig {
  return {
    resolve: { conditions: ['@p2pdma/source', ...defaultClientConditions] },
    ssr: { resolve: { conditions: ['@p2pdma/source', ...defaultServerConditions] } },
    test: {
      include: ['test/**/*.test.ts'],
      reporters: ['default', 'json'],
      outputFile: { json: '.vitest-report.json' },
      testTimeout: extra.testTimeout ?? 20_000,
      // Setup hooks build whole testbeds; on a loaded 2-core machine they can take tens of seconds.
      hookTimeout: 120_000,
      pool: 'threads',
      passWithNoTests: true,
    },
  };
}
