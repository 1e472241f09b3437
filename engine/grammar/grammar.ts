import type { StructuralTag, StructuralTagFormat } from '@mlc-ai/web-xgrammar';
import { EngineError } from '../../errors/engineError.ts';
import type { GrammarTokenizerInfo } from './tokenizerInfo.ts';
import { XGrammarHost } from './xgrammarHost.ts';

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
  /** Advances by `token` (and computes the next mask meanwhile); false (the state unchanged) when the grammar does not allow it. */
  accept(token: number): Promise<boolean>;
  /** Whether the matcher runs on a thread of its own: while `accept` is pending, the caller's thread is free. */
  readonly concurrent: boolean;
  /** Whether a stop token was accepted: the text is complete and nothing may follow. Up to date once `accept` resolves. */
  readonly terminated: boolean;
  dispose(): void;
}

/** What XGrammar's `advance` gives: the mask after the token, unless it was refused or ended the text. */
interface Advance {
  accepted: boolean;
  terminated: boolean;
  mask?: Int32Array;
}

/** A matcher of XGrammar's, wherever its host runs it. */
class HostedTokenMatcher implements TokenMatcher {
  terminated = false;
  /** The mask that came with the last accepted token. */
  private maskAfterAccept: Uint32Array | undefined;

  constructor(
    private readonly host: XGrammarHost,
    private readonly id: number,
  ) {}

  get concurrent(): boolean {
    return this.host.ownThread;
  }

  async nextTokenMask(): Promise<Uint32Array> {
    if (this.terminated) throw new EngineError('internal', 'the token mask of a finished grammar was asked for');
    return (this.maskAfterAccept ??= asWords((await this.host.request<{ mask: Int32Array }>('mask', { matcher: this.id })).mask));
  }

  async accept(token: number): Promise<boolean> {
    this.maskAfterAccept = undefined;
    const advance = await this.host.request<Advance>('advance', { matcher: this.id, token });
    this.terminated = advance.terminated;
    if (advance.mask) this.maskAfterAccept = asWords(advance.mask);
    return advance.accepted;
  }

  dispose(): void {
    // After the compiler's disposal the host has freed it already.
    this.host.request('free', { matcher: this.id }).catch(() => undefined);
  }
}

function asWords(mask: Int32Array): Uint32Array {
  return new Uint32Array(mask.buffer, mask.byteOffset, mask.length);
}

/** A grammar compiled for one model's tokenizer: `createMatcher()` for each generation it constrains. */
export class CompiledGrammar {
  constructor(
    readonly spec: GrammarSpec,
    /** The compiler (so the model) it was compiled for. */
    readonly compiler: GrammarCompiler,
    private readonly host: XGrammarHost,
    private readonly id: number,
  ) {}

  /**
   * A matcher at the grammar's start. Where the model has no stop token, the matcher is terminated as soon as the
   * text is complete (the generation ends there); otherwise the model ends it with a stop token, which the grammar
   * allows once the text may end.
   */
  async createMatcher(): Promise<TokenMatcher> {
    const matcher = this.compiler.newId();
    try {
      await this.host.request('createMatcher', { matcher, grammar: this.id, terminateWithoutStopToken: this.compiler.stopTokenIds.length === 0 });
    } catch (error) {
      throw error instanceof EngineError ? error : new EngineError('invalid-argument', (error as Error).message);
    }
    return new HostedTokenMatcher(this.host, matcher);
  }

  /** @internal The compiler disposes it (when it leaves the cache, or with the compiler). */
  dispose(): void {
    this.host.request('free', { grammar: this.id }).catch(() => undefined);
  }
}

/** Compiled grammars kept per compiler, the most recently used last. */
const CACHED_GRAMMARS = 32;

/**
 * The smallest vocabulary whose matcher runs on a thread of its own by default. XGrammar's work per token grows with
 * the vocabulary (the mask has a bit per token): on the H200's host, ~0.4 ms at 128,256 tokens, where the thread
 * took the Llama-3.2-1B shape's mask cost at 1k from 1.1–27.7% to 1.5–4.7% of its tokens/s (7.4% once); at the
 * built-in model's 4,096 it takes tens of microseconds, less than a round trip between threads, and the thread made
 * that model's constrained decode slower (a median of 31% slower than free against 24%; BENCHMARKS.md, fifth
 * session of 2026-12-02). The supported models' vocabularies are 32,000 and up.
 */
const OWN_THREAD_VOCAB = 16_384;

/**
 * XGrammar's compiler for one tokenizer (building it decodes the whole vocabulary once), on a thread of its own or
 * on the caller's (`ownThread`; by default by the vocabulary's size). It keeps the last CACHED_GRAMMARS compiled
 * grammars, so a request that repeats a schema does not compile it again.
 */
export class GrammarCompiler {
  private readonly cache = new Map<string, CompiledGrammar>();
  /** Compilations run one at a time, so that a repeated spec waits for the first and comes from the cache. */
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private lastId = 0;

  private constructor(
    private readonly host: XGrammarHost,
    readonly vocabSize: number,
    readonly stopTokenIds: readonly number[],
  ) {}

  static async create(info: GrammarTokenizerInfo, options: { ownThread?: boolean } = {}): Promise<GrammarCompiler> {
    const ownThread = options.ownThread ?? info.vocabSize >= OWN_THREAD_VOCAB;
    return new GrammarCompiler(await XGrammarHost.start(info, ownThread), info.vocabSize, info.stopTokenIds);
  }

  /** Whether its thread stopped (crashed) while it was in use: its grammars and matchers are gone. */
  get threadStopped(): boolean {
    return !this.disposed && !this.host.running;
  }

  /** @internal A new id for a grammar or matcher on the host. */
  newId(): number {
    return ++this.lastId;
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
      const id = this.newId();
      await this.compileOnThread(spec, id);
      const compiled = new CompiledGrammar(spec, this, this.host, id);
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

  private async compileOnThread(spec: GrammarSpec, grammar: number): Promise<void> {
    const what = GRAMMAR_NAMES[spec.kind] ?? JSON.stringify(spec.kind);
    const invalid = (reason: string) => new EngineError('invalid-grammar', `the ${what} cannot be compiled: ${reason}`);
    const json = (schema: JsonSchema, strict: boolean) => ({ json: JSON.stringify(withJsonSafeStringLengths(schema)), strict, indent: ONE_LINE, separators: JSON_SEPARATORS });
    let source: Record<string, unknown>;
    switch (spec.kind) {
      case 'json_schema':
        if (typeof spec.schema !== 'boolean' && (typeof spec.schema !== 'object' || spec.schema === null || Array.isArray(spec.schema))) {
          throw invalid(`a JSON Schema is an object or a boolean (got ${JSON.stringify(spec.schema) ?? String(spec.schema)})`);
        }
        source = json(spec.schema, spec.strict ?? false);
        break;
      case 'json_object':
        source = json({ type: 'object' }, false);
        break;
      case 'ebnf':
        if (typeof spec.grammar !== 'string' || spec.grammar.trim() === '') throw invalid('the grammar is empty');
        source = { ebnf: spec.grammar, root: spec.root ?? 'root' };
        break;
      case 'structural_tag':
        source = { structuralTag: spec.tag };
        break;
      default:
        throw invalid('the kind must be json_schema, json_object, ebnf or structural_tag');
    }
    try {
      await this.host.request('compile', { grammar, source });
    } catch (error) {
      if (error instanceof EngineError) throw error;
      throw invalid((error as Error).message);
    }
  }

  dispose(): void {
    this.disposed = true;
    this.cache.clear();
    // The host frees every grammar and matcher.
    this.host.terminate();
  }
}

const GRAMMAR_NAMES: Record<GrammarSpec['kind'], string> = {
  json_schema: 'JSON schema',
  json_object: 'JSON object grammar',
  ebnf: 'EBNF grammar',
  structural_tag: 'structural tag',
};
