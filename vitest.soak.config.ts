import { defineConfig } from 'vitest/config';
import base from './vite.config.ts';

/** The long tests (`*.long.test.ts`) that `npm test` leaves out, with a collectable heap (`global.gc`) for theirs. */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['{engine,kernels,models,errors,cli,test}/**/*.long.test.ts'],
    exclude: ['**/node_modules/**'],
    execArgv: ['--expose-gc'],
    testTimeout: 3_600_000,
  },
});
