import type * as XGrammarModule from '@mlc-ai/web-xgrammar';

/*
 * XGrammar (@mlc-ai/web-xgrammar: the C++ grammar engine compiled to WebAssembly, the one WebLLM uses), loaded the
 * same way in Node (vitest, the dist-node bundle, the CLI), in the Web Worker and under the Vite bundler.
 *
 * Its one file, lib/index.js, is a UMD bundle inside a package marked `"type": "module"`: Node imports it as an ES
 * module, where its CommonJS branch is skipped and its Node code path calls a `require` that ES modules lack, and a
 * bundler sees no exports either. So it is imported as text (Vite's `?raw`, which the dev server, the browser build,
 * the Node build and vitest all honour), on first use (a chunk of its own: 1.1 MB that a generation without a grammar
 * never loads), and evaluated once as the CommonJS module body it is written to be: its exports land on
 * `module.exports`. The WebAssembly binary is inlined in the bundle as a base64 data URI, so nothing
 * is fetched at run time, in any of the three places. The module scope it is evaluated in provides:
 * - `process`: undefined, so that its Emscripten runtime takes the same path in Node as in a module Worker (neither
 *   a page nor a classic worker): the one that needs only WebAssembly and `atob`. Its Node path would read files,
 *   stdin and argv, and import Node's `module` dynamically, which code run by vitest's module runner may not do;
 * - `require` and `__filename`: where a runtime has neither `document` nor `location` (Node), it makes a file URL of
 *   its own path with `require('url').pathToFileURL(__filename)`, only as the base of files it never loads (the
 *   binary is inlined); this `require` answers that one call;
 * - `console`: its C++ side reports why a grammar or schema fails on stderr (`[FATAL] file.cc:123: message`)
 *   before it throws a bare `Aborted()`; a console of ours keeps those lines so the error can carry them.
 */

export type XGrammar = typeof XGrammarModule;

let loaded: Promise<XGrammar> | undefined;
/** Lines XGrammar printed since collecting started; undefined while nobody collects them. */
let collected: string[] | undefined;

const moduleConsole = {
  ...console,
  log: (...args: unknown[]) => console.log(...args),
  error: (...args: unknown[]) => {
    if (collected) collected.push(args.map(String).join(' '));
    else console.warn('xgrammar:', ...args);
  },
};

/** The XGrammar API (its WebAssembly instance starts on the first call that needs it). */
export function xgrammar(): Promise<XGrammar> {
  loaded ??= import('@mlc-ai/web-xgrammar/lib/index.js?raw').then(({ default: source }) => evaluateBundle(source));
  return loaded;
}

function evaluateBundle(bundleSource: string): XGrammar {
  const module = { exports: {} as XGrammar };
  const require = (id: string) => {
    if (id !== 'url') throw new Error(`@mlc-ai/web-xgrammar asked for the module "${id}", which its loader does not provide`);
    return { pathToFileURL: (path: string) => new URL(path, 'file:///') };
  };
  const evaluate = new Function('exports', 'module', 'require', '__filename', 'console', 'process', bundleSource) as (...args: unknown[]) => void;
  evaluate(module.exports, module, require, '/@mlc-ai/web-xgrammar/lib/index.js', moduleConsole, undefined);
  if (typeof module.exports.GrammarCompiler !== 'function') throw new Error('@mlc-ai/web-xgrammar did not define GrammarCompiler: its bundle is not the UMD this loader expects');
  return module.exports;
}

/**
 * Runs `work` (an XGrammar call that may fail); when it throws, the error's message is what XGrammar printed about
 * it (`[FATAL] json_schema_converter.cc:902: Unsupported type "frobnicate"` becomes `Unsupported type "frobnicate"`),
 * or its own message when it printed nothing.
 */
export async function withXGrammarMessages<T>(work: () => Promise<T>): Promise<T> {
  const previous = collected;
  const lines: string[] = [];
  collected = lines;
  try {
    return await work();
  } catch (error) {
    const printed = lines
      .map((line) => line.replace(/^\[(FATAL|ERROR)\]\s+\S+:\d+:\s*/, ''))
      .filter((line) => line !== '' && !line.startsWith('Aborted('));
    throw new Error(printed.length ? printed.join('\n') : error instanceof Error ? error.message : String(error));
  } finally {
    collected = previous;
  }
}
