import { defineConfig } from 'vite';

/**
 * Builds the Node entry points (benchmarks, CLI) into single ES modules that import only `webgpu` and Node
 * built-ins, so they run with plain `node` here and travel alone to a GPU machine.
 */
export default defineConfig({
  // The CLI reads the built-in model from public/ itself; a copy here would double what travels to a GPU machine.
  publicDir: false,
  build: {
    ssr: true,
    outDir: 'dist-node',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    rollupOptions: {
      input: {
        attention: 'bench/attention.ts',
        bandwidth: 'bench/bandwidth.ts',
        checkAttention: 'bench/checkAttention.ts',
        checkModels: 'bench/checkModels.ts',
        linear: 'bench/linear.ts',
        matmul: 'bench/matmul.ts',
        cli: 'cli/main.ts',
      },
      output: { format: 'es', entryFileNames: '[name].mjs' },
    },
  },
  ssr: { noExternal: true, external: ['webgpu'] },
  logLevel: 'warn',
});
