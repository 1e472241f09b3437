import react from '@vitejs/plugin-react';
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
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
