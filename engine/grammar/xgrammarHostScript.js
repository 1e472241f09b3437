/*
 * XGrammar (@mlc-ai/web-xgrammar, the C++ grammar engine compiled to WebAssembly, the one WebLLM uses) serving one
 * tokenizer's grammars and matchers through messages, so that it can run on a thread of its own: there the decode
 * loop's thread records the next forward pass while a matcher accepts a token and computes the next token mask
 * (engine/model.ts, decodeConstrained). Plain JavaScript, evaluated as it is in a module Web Worker (the browser),
 * in a worker_threads Worker (Node), or on the caller's thread: engine/grammar/xgrammarHost.ts provides
 * `listen(handle)` and `post(message, transfer)` for the one it runs in.
 *
 * Requests are `{ id, op, ...arguments }`, served one at a time in the order they came; each gets one reply,
 * `{ id, result }` or `{ id, error }`. The first is `init`, which carries XGrammar's bundle and the tokenizer.
 */

/** XGrammar's exports, once `init` has evaluated its bundle. */
let xgrammar;
/** XGrammar's compiler for the tokenizer. */
let compiler;
/** Compiled grammars and matchers by the ids the requests gave them. */
const grammars = new Map();
const matchers = new Map();
/** Lines XGrammar printed during the request being served. */
let printed = [];

/*
 * XGrammar's one file, lib/index.js, is a UMD bundle inside a package marked `"type": "module"`: imported as an ES
 * module, its CommonJS branch is skipped and its Node code path calls a `require` that ES modules lack. So it
 * arrives as text and is evaluated once as the CommonJS module body it is written to be; its exports land on
 * `module.exports`, and its WebAssembly binary is inlined as a base64 data URI (nothing is fetched). The scope it
 * is evaluated in provides:
 * - `process`: undefined, so that its Emscripten runtime takes the same path in Node as in a module Worker: the one
 *   that needs only WebAssembly and `atob`. Its Node path would read files, stdin and argv;
 * - `require` and `__filename`: where a runtime has neither `document` nor `location` (Node), it makes a file URL of
 *   its own path with `require('url').pathToFileURL(__filename)`, only as the base of files it never loads;
 * - `console`: its C++ side reports why a grammar or schema fails on stderr (`[FATAL] file.cc:123: message`) before
 *   it throws a bare `Aborted()`; this console keeps those lines so the error can carry them.
 */
function evaluateBundle(bundleSource) {
  const module = { exports: {} };
  const require = (id) => {
    if (id !== 'url') throw new Error(`@mlc-ai/web-xgrammar asked for the module "${id}", which its loader does not provide`);
    return { pathToFileURL: (path) => new URL(path, 'file:///') };
  };
  const moduleConsole = { ...console, error: (...args) => printed.push(args.map(String).join(' ')) };
  const evaluate = new Function('exports', 'module', 'require', '__filename', 'console', 'process', bundleSource);
  evaluate(module.exports, module, require, '/@mlc-ai/web-xgrammar/lib/index.js', moduleConsole, undefined);
  if (typeof module.exports.GrammarCompiler !== 'function') throw new Error('@mlc-ai/web-xgrammar did not define GrammarCompiler: its bundle is not the UMD this loader expects');
  return module.exports;
}

/** Why a request failed: what XGrammar printed about it (`[FATAL] json_schema_converter.cc:902: Unsupported type "x"` as `Unsupported type "x"`), or the error's own message. */
function failureMessage(error) {
  const lines = printed.map((line) => line.replace(/^\[(FATAL|ERROR)\]\s+\S+:\d+:\s*/, '')).filter((line) => line !== '' && !line.startsWith('Aborted('));
  return lines.length ? lines.join('\n') : error instanceof Error ? error.message : String(error);
}

function matcher(id) {
  const found = matchers.get(id);
  if (!found) throw new Error(`XGrammar's host has no matcher ${id}`);
  return found;
}

const ops = {
  async init({ bundle, tokenizer }) {
    xgrammar = evaluateBundle(bundle);
    const { encodedVocab, vocabType, addPrefixSpace, vocabSize, stopTokenIds } = tokenizer;
    const info = await xgrammar.TokenizerInfo.createTokenizerInfo(encodedVocab, vocabType, addPrefixSpace, vocabSize, stopTokenIds);
    try {
      // XGrammar's own cache never forgets; grammar.ts keeps a bounded one and frees what leaves it.
      compiler = await xgrammar.GrammarCompiler.createGrammarCompiler(info, false);
    } finally {
      info.dispose();
    }
  },

  /** `source`: `{ json, strict, indent, separators }`, `{ ebnf, root }` or `{ structuralTag }`. */
  async compile({ grammar, source }) {
    let compiled;
    if ('json' in source) {
      compiled = await compiler.compileJSONSchema(source.json, false, source.indent, source.separators, source.strict);
    } else if ('ebnf' in source) {
      const parsed = await xgrammar.Grammar.fromEBNF(source.ebnf, source.root);
      try {
        compiled = await compiler.compileGrammar(parsed);
      } finally {
        parsed.dispose();
      }
    } else {
      compiled = await compiler.compileStructuralTag(source.structuralTag);
    }
    grammars.set(grammar, compiled);
  },

  async createMatcher({ matcher: id, grammar, terminateWithoutStopToken }) {
    const compiled = grammars.get(grammar);
    if (!compiled) throw new Error('the grammar was released (it left the compiler\'s cache of recent grammars): compile it again');
    matchers.set(id, await xgrammar.GrammarMatcher.createGrammarMatcher(compiled, undefined, terminateWithoutStopToken));
  },

  /** The mask of the tokens allowed next: Int32Array words, a bit per token. */
  async mask({ matcher: id }) {
    return { mask: await matcher(id).getNextTokenBitmask() };
  },

  /** Accepts `token` and, unless it was refused or ended the text, gives the mask after it. */
  async advance({ matcher: id, token }) {
    const m = matcher(id);
    if (!m.acceptToken(token)) return { accepted: false, terminated: m.isTerminated() };
    if (m.isTerminated()) return { accepted: true, terminated: true };
    return { accepted: true, terminated: false, mask: await m.getNextTokenBitmask() };
  },

  free({ grammar, matcher: id }) {
    const table = grammar === undefined ? matchers : grammars;
    const key = grammar === undefined ? id : grammar;
    table.get(key)?.dispose();
    table.delete(key);
  },

  dispose() {
    for (const m of matchers.values()) m.dispose();
    for (const g of grammars.values()) g.dispose();
    matchers.clear();
    grammars.clear();
    compiler?.dispose();
    compiler = undefined;
  },
};

let served = Promise.resolve();
listen((request) => {
  served = served.then(async () => {
    printed = [];
    try {
      const result = await ops[request.op](request);
      post({ id: request.id, result }, result?.mask ? [result.mask.buffer] : []);
    } catch (error) {
      post({ id: request.id, error: failureMessage(error) });
    }
  });
});
