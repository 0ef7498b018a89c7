import { defineConfig } from 'vitest/config';
import { preset } from '../vitest.preset';

// Packing and installing every package takes a while on a 2-core machine.
export default defineConfig(preset({ testTimeout: 240_000 }));
