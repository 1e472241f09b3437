import react from '@vitejs/plugin-react';
import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';
import { serveModelFolders } from './vite.modelsPlugin.ts';

export default defineConfig({
  plugins: [react(), serveModelFolders()],
  publicDir: 'public',
  worker: { format: 'es' },
  server: { port: 5173, strictPort: true },
  preview: { port: 5173, strictPort: true },
  test: {
    include: ['{engine,kernels,models,errors,cli,test}/**/*.test.ts', 'app/**/*.test.{ts,tsx}'],
    // Tests that run for minutes (the 10,000-step soak) run by themselves: `npm run soak` (vitest.soak.config.ts).
    exclude: [...configDefaults.exclude, '**/*.long.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    // Dawn is a native addon: one process per test file keeps devices apart.
    pool: 'forks',
    // At least two files side by side: SwiftShader compiles a pipeline on one thread, so a 2-core machine runs the
    // unit suite in 606 s with two against 804 s with vitest's default of one (cores − 1).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
