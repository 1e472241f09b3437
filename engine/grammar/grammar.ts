import type { CompiledGrammar as XCompiledGrammar, GrammarCompiler as XGrammarCompiler, GrammarMatcher as XGrammarMatcher, StructuralTag, StructuralTagFormat } from '@mlc-ai/web-xgrammar';
import { EngineError } from '../../errors/engineError.ts';
import type { GrammarTokenizerInfo } from './tokenizerInfo.ts';
import { withXGrammarMessages, xgrammar } from './xgrammar.ts';

/*
 * Grammars that constrain generation, compiled by XGrammar for one model's tokenizer. A compiled grammar is a matcher
 * factory: each generation takes a matcher of its own, which gives the mask of the tokens allowed next and advances
 * with each sampled token (the runner's decode loop drives it: engine/model.ts).
 */

/** A JSON Schema: an object, or `true` / `false`. */
export type JsonSchema = Record<string, unknown> | boolean;

/** What a grammar is compiled from. */
export type GrammarSpec =
  /** JSON that validates against `schema`; `strict`: no properties or items the schema leaves unnamed. */
  | { kind: 'json_schema'; schema: JsonSchema; strict?: boolean }
  /** Any JSON object. */
  | { kind: 'json_object' }
  /** Text in the language of an EBNF grammar (XGrammar's dialect, GBNF-like: `root ::= "<tool_call>" ...`). */
  | { kind: 'ebnf'; grammar: string; root?: string }
  /**
   * XGrammar's structural tag: tags, triggers, JSON schemas, grammars and free text combined (for tool calls: a tag
   * `<tool_call>` around JSON that validates, free text elsewhere). See @mlc-ai/web-xgrammar's StructuralTag.
   */
  | { kind: 'structural_tag'; tag: StructuralTag | StructuralTagFormat };

/**
 * The layout a JSON grammar enforces: JSON on one line with Python `json.dumps`'s separators (`, ` and `: `), no
 * other whitespace. Free whitespace would let a weak model spend its tokens on blank lines.
 */
const JSON_SEPARATORS: [string, string] = [', ', ': '];
const ONE_LINE = -1;

/** Keywords whose values are data, not subschemas: left as they are. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);

/**
 * `schema` with every string subschema that bounds its length (minLength, maxLength) and names no pattern or format
 * given the same bounds as a pattern over the characters JSON allows unescaped. XGrammar 0.1.27 writes such a string
 * as `"\"" [^"\\\r\n]{min,max} "\""`, which lets control characters U+0000 to U+001F through raw, and JSON forbids
 * them (JSON.parse fails: a random-weight model found one within four answers); its rule for a pattern excludes
 * them. Neither rule allows escapes, so nothing else changes.
 */
export function withJsonSafeStringLengths(schema: JsonSchema): JsonSchema {
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (typeof node !== 'object' || node === null) return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) out[key] = DATA_KEYWORDS.has(key) ? value : rewrite(value);
    const bounded = typeof out.minLength === 'number' || typeof out.maxLength === 'number';
    if (out.type === 'string' && bounded && out.pattern === undefined && out.format === undefined) {
      const { minLength, maxLength, ...rest } = out;
      return { ...rest, pattern: `^[^\\x00-\\x1f"\\\\]{${(minLength as number | undefined) ?? 0},${(maxLength as number | undefined) ?? ''}}$` };
    }
    return out;
  };
  return rewrite(schema) as JsonSchema;
}

/** One generation's grammar state. */
export interface TokenMatcher {
  /**
   * The tokens the grammar allows next: a bit per token of the model's vocabulary, 32 to a word, bit set = allowed
   * (the sampler's token mask). Not to be asked once `terminated`.
   */
  nextTokenMask(): Promise<Uint32Array>;
  /** Advances by `token`; false (the state unchanged) when the grammar does not allow it. */
  accept(token: number): boolean;
  /** Whether a stop token was accepted: the text is complete and nothing may follow. */
  readonly terminated: boolean;
  dispose(): void;
}

class XGrammarTokenMatcher implements TokenMatcher {
  constructor(private readonly matcher: XGrammarMatcher) {}

  async nextTokenMask(): Promise<Uint32Array> {
    const bitmask = await this.matcher.getNextTokenBitmask();
    return new Uint32Array(bitmask.buffer, bitmask.byteOffset, bitmask.length);
  }

  accept(token: number): boolean {
    return this.matcher.acceptToken(token);
  }

  get terminated(): boolean {
    return this.matcher.isTerminated();
  }

  dispose(): void {
    this.matcher.dispose();
  }
}

/** A grammar compiled for one model's tokenizer: `createMatcher()` for each generation it constrains. */
export class CompiledGrammar {
  constructor(
    readonly spec: GrammarSpec,
    /** The compiler (so the model) it was compiled for. */
    readonly compiler: GrammarCompiler,
    private readonly compiled: XCompiledGrammar,
  ) {}

  /**
   * A matcher at the grammar's start. Where the model has no stop token, the matcher is terminated as soon as the
   * text is complete (the generation ends there); otherwise the model ends it with a stop token, which the grammar
   * allows once the text may end.
   */
  async createMatcher(): Promise<TokenMatcher> {
    const endsWithoutStopToken = this.compiler.stopTokenIds.length === 0;
    const { GrammarMatcher } = await xgrammar();
    return new XGrammarTokenMatcher(await GrammarMatcher.createGrammarMatcher(this.compiled, undefined, endsWithoutStopToken));
  }

  /** @internal The compiler disposes it (when it leaves the cache, or with the compiler). */
  dispose(): void {
    this.compiled.dispose();
  }
}

/** Compiled grammars kept per compiler, the most recently used last. */
const CACHED_GRAMMARS = 32;

/**
 * XGrammar's compiler for one tokenizer (building it decodes the whole vocabulary once). It keeps the last
 * CACHED_GRAMMARS compiled grammars, so a request that repeats a schema does not compile it again.
 */
export class GrammarCompiler {
  private readonly cache = new Map<string, CompiledGrammar>();
  /** XGrammar reports a failure through what it prints: compilations run one at a time so each gets its own. */
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    private readonly compiler: XGrammarCompiler,
    readonly vocabSize: number,
    readonly stopTokenIds: readonly number[],
  ) {}

  static async create(info: GrammarTokenizerInfo): Promise<GrammarCompiler> {
    const { TokenizerInfo, GrammarCompiler: XCompiler } = await xgrammar();
    const tokenizerInfo = await TokenizerInfo.createTokenizerInfo(info.encodedVocab, info.vocabType, info.addPrefixSpace, info.vocabSize, info.stopTokenIds);
    try {
      // XGrammar's own cache never forgets; this class keeps a bounded one instead.
      return new GrammarCompiler(await XCompiler.createGrammarCompiler(tokenizerInfo, false), info.vocabSize, info.stopTokenIds);
    } finally {
      tokenizerInfo.dispose();
    }
  }

  /** `spec` compiled, or an EngineError ('invalid-grammar') that says what is wrong with it. */
  compile(spec: GrammarSpec): Promise<CompiledGrammar> {
    const key = JSON.stringify(spec);
    const result = this.queue.then(async () => {
      if (this.disposed) throw new EngineError('invalid-argument', 'the model this grammar was for is unloaded');
      const cached = this.cache.get(key);
      if (cached) {
        this.cache.delete(key);
        this.cache.set(key, cached);
        return cached;
      }
      const compiled = new CompiledGrammar(spec, this, await this.compileSpec(spec));
      this.cache.set(key, compiled);
      for (const [oldKey, old] of this.cache) {
        if (this.cache.size <= CACHED_GRAMMARS) break;
        this.cache.delete(oldKey);
        old.dispose();
      }
      return compiled;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async compileSpec(spec: GrammarSpec): Promise<XCompiledGrammar> {
    const what = GRAMMAR_NAMES[spec.kind] ?? JSON.stringify(spec.kind);
    const invalid = (reason: string) => new EngineError('invalid-grammar', `the ${what} cannot be compiled: ${reason}`);
    const json = (schema: JsonSchema, strict: boolean) =>
      this.compiler.compileJSONSchema(JSON.stringify(withJsonSafeStringLengths(schema)), false, ONE_LINE, JSON_SEPARATORS, strict);
    let compile: () => Promise<XCompiledGrammar>;
    switch (spec.kind) {
      case 'json_schema':
        if (typeof spec.schema !== 'boolean' && (typeof spec.schema !== 'object' || spec.schema === null || Array.isArray(spec.schema))) {
          throw invalid(`a JSON Schema is an object or a boolean (got ${JSON.stringify(spec.schema) ?? String(spec.schema)})`);
        }
        compile = () => json(spec.schema, spec.strict ?? false);
        break;
      case 'json_object':
        compile = () => json({ type: 'object' }, false);
        break;
      case 'ebnf':
        if (typeof spec.grammar !== 'string' || spec.grammar.trim() === '') throw invalid('the grammar is empty');
        compile = async () => {
          const grammar = await (await xgrammar()).Grammar.fromEBNF(spec.grammar, spec.root ?? 'root');
          try {
            return await this.compiler.compileGrammar(grammar);
          } finally {
            grammar.dispose();
          }
        };
        break;
      case 'structural_tag':
        compile = () => this.compiler.compileStructuralTag(spec.tag);
        break;
      default:
        throw invalid('the kind must be json_schema, json_object, ebnf or structural_tag');
    }
    try {
      return await withXGrammarMessages(compile);
    } catch (error) {
      throw invalid((error as Error).message);
    }
  }

  dispose(): void {
    this.disposed = true;
    for (const compiled of this.cache.values()) compiled.dispose();
    this.cache.clear();
    this.compiler.dispose();
  }
}

const GRAMMAR_NAMES: Record<GrammarSpec['kind'], string> = {
  json_schema: 'JSON schema',
  json_object: 'JSON object grammar',
  ebnf: 'EBNF grammar',
  structural_tag: 'structural tag',
};
