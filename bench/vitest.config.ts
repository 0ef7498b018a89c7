import { defineConfig } from 'vitest/config';
import { preset } from '../tooling/vitest.preset';

export default defineConfig(preset());
