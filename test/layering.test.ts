import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The architecture: the top folders each top folder may import from. From the bottom: `errors/` holds the failures
 * every layer reports; `models/` (configs, named shapes) and `kernels/` (the GPU context and the WGSL kernels) know
 * nothing of the engine; `engine/` runs models on kernels; `app/` and `cli/` are its two faces; `test/` (the harness,
 * and every `*.test.ts` wherever it lives) sits above what it tests; `bench/` holds command-line programs built on
 * `cli/`'s flags, exit codes and tables and on `test/`'s fixtures. `e2e/`, `scripts/` and `bin/` import nothing of
 * the sources (e2e drives the app through a browser, `bin/` runs the built bundle).
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  errors: [],
  models: ['errors'],
  kernels: ['errors'],
  engine: ['errors', 'models', 'kernels'],
  app: ['errors', 'kernels', 'engine'],
  cli: ['errors', 'models', 'kernels', 'engine'],
  test: ['errors', 'models', 'kernels', 'engine', 'app', 'cli'],
  bench: ['errors', 'models', 'kernels', 'engine', 'cli', 'test'],
  e2e: [],
  scripts: [],
  bin: [],
};

/** Top folders that hold no sources of ours: dependencies, build outputs, data, documents. */
const NOT_SOURCES = /^(\..*|node_modules|public|docs|dist|dist-.*|test-results|playwright-report|gpu-results)$/;
const SOURCE_FILE = /\.(ts|tsx|mts|js|mjs)$/;
/** A test beside the code it tests is part of the test layer: it may import the harness in test/. */
const TEST_FILE = /\.test\.tsx?$/;

interface Import {
  from: string;
  to: string;
  /** `engine/engine.ts:3 imports ../kernels/gpu/context.ts`, for messages. */
  where: string;
}

function sourceFiles(folder: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true })) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (SOURCE_FILE.test(entry.name)) files.push(path);
  }
  return files;
}

function topFolders(): string[] {
  return readdirSync(ROOT, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !NOT_SOURCES.test(entry.name) && sourceFiles(entry.name).length > 0)
    .map((entry) => entry.name)
    .sort();
}

/** The layer a file belongs to: its top folder, or test/ for a `*.test.ts` file. */
function layerOf(file: string): string {
  return TEST_FILE.test(file) ? 'test' : file.split('/')[0];
}

/** Relative module specifiers of a file: static and dynamic imports, re-exports, `new URL('…', import.meta.url)`. */
function relativeSpecifiers(source: string): { specifier: string; pos: number }[] {
  const found = ts
    .preProcessFile(source, true, true)
    .importedFiles.map((file) => ({ specifier: file.fileName, pos: file.pos }));
  for (const match of source.matchAll(/new URL\(\s*['"`]([^'"`]+)['"`]\s*,\s*import\.meta\.url\s*\)/g)) {
    found.push({ specifier: match[1], pos: match.index ?? 0 });
  }
  return found.filter(({ specifier }) => specifier.startsWith('.'));
}

/** Every import that crosses from one layer to another. */
function crossingImports(folders: string[]): Import[] {
  const imports: Import[] = [];
  for (const file of folders.flatMap(sourceFiles)) {
    const source = readFileSync(join(ROOT, file), 'utf8');
    for (const { specifier, pos } of relativeSpecifiers(source)) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), specifier)).split(sep).join('/');
      if (target.startsWith('..') || !folders.includes(target.split('/')[0])) continue;
      const [from, to] = [layerOf(file), layerOf(target)];
      if (from === to) continue;
      const line = source.slice(0, pos).split('\n').length;
      imports.push({ from, to, where: `${file}:${line} imports ${specifier}` });
    }
  }
  return imports;
}

/** The shortest cycle through each folder that is on one, each cycle once, as `[a, b, a]`. */
function cycles(edges: Map<string, Set<string>>): string[][] {
  const nodes = [...new Set([...edges.keys(), ...[...edges.values()].flatMap((to) => [...to])])].sort();
  const next = (node: string) => [...(edges.get(node) ?? [])].sort();
  // Tarjan's strongly connected components.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const groups: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    for (const to of next(node)) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (stack.includes(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        group.push(member);
      } while (member !== node);
      if (group.length > 1) groups.push(group);
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  // Within a group every folder reaches every other: for each, the shortest way back to itself, each cycle once.
  const shortestCycle = (group: string[], start: string): string[] => {
    const cameFrom = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const node = queue.shift()!;
      for (const to of next(node).filter((n) => group.includes(n))) {
        if (to === start) {
          const path = [node];
          while (path[0] !== start) path.unshift(cameFrom.get(path[0])!);
          return [...path, start];
        }
        if (!cameFrom.has(to)) {
          cameFrom.set(to, node);
          queue.push(to);
        }
      }
    }
    return group;
  };
  const found = new Map<string, string[]>();
  for (const group of groups) {
    for (const start of group.sort()) {
      const cycle = shortestCycle(group, start);
      const key = [...cycle.slice(1)].sort().join(' ');
      if (!found.has(key)) found.set(key, cycle);
    }
  }
  return [...found.values()];
}

function graphOf(imports: Import[]): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const { from, to } of imports) edges.set(from, (edges.get(from) ?? new Set()).add(to));
  return edges;
}

describe('layering between top folders', () => {
  const folders = topFolders();
  const imports = crossingImports(folders);

  it('gives every top folder with sources its place in the architecture', () => {
    expect(folders.filter((folder) => !(folder in MAY_IMPORT)), 'top folders missing from MAY_IMPORT').toEqual([]);
  });

  it('declares a direction with no cycle', () => {
    const declared = new Map(Object.entries(MAY_IMPORT).map(([from, to]) => [from, new Set(to)]));
    expect(cycles(declared).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('has no import cycle between top folders', () => {
    const found = cycles(graphOf(imports)).map((cycle) => {
      const steps = cycle.slice(1).map((to, i) => imports.find((edge) => edge.from === cycle[i] && edge.to === to)!.where);
      return `${cycle.join(' → ')} (${steps.join('; ')})`;
    });
    expect(found, 'import cycles between top folders').toEqual([]);
  });

  it('imports only downwards', () => {
    const upwards = imports
      .filter(({ from, to }) => !(MAY_IMPORT[from] ?? []).includes(to))
      .map(({ from, to, where }) => `${from} → ${to}: ${where}`);
    expect(upwards, 'imports against the direction in MAY_IMPORT').toEqual([]);
  });

  it('finds the imports it checks', () => {
    // A parser that saw nothing would pass every check above.
    expect([...graphOf(imports).get('engine') ?? []]).toContain('kernels');
    expect([...graphOf(imports).get('bench') ?? []]).toContain('cli');
  });
});
