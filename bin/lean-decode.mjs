#!/usr/bin/env node
// Runs the CLI bundle (dist-node/cli.mjs), building it first when it is missing or older than its sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const bundle = join(root, 'dist-node', 'cli.mjs');

function newestSource(directory) {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const sources = ['cli', 'engine', 'kernels', 'models', 'errors', 'bench'].map((d) => join(root, d)).filter(existsSync);
if (!existsSync(bundle) || Math.max(...sources.map(newestSource)) > statSync(bundle).mtimeMs) {
  const { build } = await import('vite');
  await build({ root, configFile: join(root, 'vite.node.config.ts'), logLevel: 'warn' });
}
await import(pathToFileURL(bundle).href);
