import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';
import { serveModelFolders } from './vite.modelsPlugin.ts';

export default defineConfig({
  plugins: [react(), serveModelFolders()],
  publicDir: 'public',
  worker: { format: 'es' },
  server: { port: 5173, strictPort: true },
  preview: { port: 5173, strictPort: true },
  test: {
    include: ['{engine,kernels,models,errors,cli,test}/**/*.test.ts', 'app/**/*.test.{ts,tsx}'],
    globalSetup: ['test/globalSetup.ts'],
    // Dawn is a native addon: one process per test file keeps devices apart.
    pool: 'forks',
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
