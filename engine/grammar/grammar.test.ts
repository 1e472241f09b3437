import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHARED_MODELS } from '../../test/sharedModels.ts';
import { EngineError } from '../../errors/engineError.ts';
import { nodeModelFiles } from '../loader/nodeFiles.ts';
import { TextCodec } from '../tokenizer.ts';
import { GrammarCompiler, withJsonSafeStringLengths, type GrammarSpec, type TokenMatcher } from './grammar.ts';
import { grammarTokenizerInfo, vocabEncoding } from './tokenizerInfo.ts';

const BUILTIN = join(import.meta.dirname, '../../public/models/pydoc-chat-6m');
const EOS = 2;

function allows(mask: Uint32Array, token: number): boolean {
  return ((mask[token >>> 5] >>> (token & 31)) & 1) === 1;
}

function allowedTokens(mask: Uint32Array, vocabSize: number): number[] {
  return Array.from({ length: vocabSize }, (_, i) => i).filter((i) => allows(mask, i));
}

/** Feeds `tokens` to the matcher, checking that each was allowed; returns the mask after the last. */
async function feed(matcher: TokenMatcher, tokens: number[]): Promise<Uint32Array> {
  for (const token of tokens) {
    expect(allows(await matcher.nextTokenMask(), token), `token ${token} allowed`).toBe(true);
    expect(await matcher.accept(token)).toBe(true);
  }
  return matcher.nextTokenMask();
}

describe('tokenizer info', () => {
  it('reads the vocabulary type as XGrammar does: byte-level BPE, byte fallback with a prefix space, raw', () => {
    for (const model of ['pydoc-chat-6m', 'tiny-llama', 'tiny-qwen2-f16']) {
      const json = JSON.parse(readFileSync(join(SHARED_MODELS, model, 'tokenizer.json'), 'utf8'));
      expect(vocabEncoding(json), model).toEqual({ vocabType: 'byte_level', addPrefixSpace: false });
    }
    // Llama 2 / TinyLlama / Mistral: a decoder sequence with ByteFallback, and a `▁` prepended by the normalizer
    // (older files) or by the Metaspace pre-tokenizer (newer ones).
    const byteFallbackDecoder = { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }] };
    const prepend = { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] };
    expect(vocabEncoding({ decoder: byteFallbackDecoder, normalizer: prepend })).toEqual({ vocabType: 'byte_fallback', addPrefixSpace: true });
    expect(vocabEncoding({ decoder: byteFallbackDecoder, normalizer: null, pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false } })).toEqual({
      vocabType: 'byte_fallback',
      addPrefixSpace: true,
    });
    expect(vocabEncoding({ decoder: { type: 'WordPiece' } })).toEqual({ vocabType: 'raw', addPrefixSpace: false });
  });

  it('spells special tokens and ids past the tokenizer as special, and leaves out ids past the logits', () => {
    const vocab = new Map([['<s>', 0], ['a', 1], ['b', 2], ['<|im_end|>', 3], ['c', 9]]);
    const info = grammarTokenizerInfo({ vocabType: 'byte_level', addPrefixSpace: false }, vocab, new Set([0, 3]), 6, [3, 3, 7]);
    expect(info.encodedVocab).toEqual(['', 'a', 'b', '', '', '']);
    expect(info.stopTokenIds).toEqual([3]);
  });

  it('gives XGrammar a byte-fallback vocabulary it decodes: <0x7B> is "{", ▁ is a space', async () => {
    const spellings = ['<unk>', '<s>', '</s>', ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`), '{', '▁{', '}', '▁}', '▁'];
    const vocab = new Map(spellings.map((s, i) => [s, i]));
    const id = (s: string) => vocab.get(s)!;
    const info = grammarTokenizerInfo({ vocabType: 'byte_fallback', addPrefixSpace: false }, vocab, new Set([0, 1]), spellings.length, [id('</s>')]);
    const compiler = await GrammarCompiler.create(info);
    const matcher = await (await compiler.compile({ kind: 'ebnf', grammar: 'root ::= "{" " " "}"' })).createMatcher();
    const byte = (c: string) => id(`<0x${c.charCodeAt(0).toString(16).toUpperCase()}>`);
    expect(allowedTokens(await matcher.nextTokenMask(), info.vocabSize)).toEqual([byte('{'), id('{')].sort((a, b) => a - b));
    expect(allowedTokens(await feed(matcher, [id('{')]), info.vocabSize)).toEqual([byte(' '), id('▁}'), id('▁')].sort((a, b) => a - b));
    expect(allowedTokens(await feed(matcher, [id('▁}')]), info.vocabSize)).toEqual([id('</s>')]);
    matcher.dispose();
    compiler.dispose();
  });

  it('without a stop token, the matcher ends when the text is complete', async () => {
    const vocab = new Map(['y', 'e', 's', 'yes', 'no'].map((s, i) => [s, i]));
    const compiler = await GrammarCompiler.create(grammarTokenizerInfo({ vocabType: 'raw', addPrefixSpace: false }, vocab, new Set(), 5, []));
    const matcher = await (await compiler.compile({ kind: 'ebnf', grammar: 'root ::= "yes" | "no"' })).createMatcher();
    expect(allowedTokens(await feed(matcher, [0, 1]), 5)).toEqual([2]);
    expect(await matcher.accept(2)).toBe(true);
    expect(matcher.terminated).toBe(true);
    matcher.dispose();
    compiler.dispose();
  });
});

it("a matcher runs on a thread of its own by default where the vocabulary is large (XGrammar's work grows with it), else on the caller's", async () => {
  const vocab = new Map(['y', 'e', 's', 'yes', 'no'].map((s, i) => [s, i]));
  for (const [vocabSize, concurrent] of [[5, false], [32_000, true]] as const) {
    const compiler = await GrammarCompiler.create(grammarTokenizerInfo({ vocabType: 'raw', addPrefixSpace: false }, vocab, new Set(), vocabSize, []));
    const matcher = await (await compiler.compile({ kind: 'ebnf', grammar: 'root ::= "yes" | "no"' })).createMatcher();
    expect(matcher.concurrent, `vocabulary of ${vocabSize}`).toBe(concurrent);
    expect(allowedTokens(await feed(matcher, [0, 1]), 5)).toEqual([2]);
    matcher.dispose();
    compiler.dispose();
  }
});

describe.each([false, true])('grammars for the built-in model (on a thread of their own: %s)', async (ownThread) => {
  const codec = await TextCodec.load(nodeModelFiles(BUILTIN));
  const info = codec.grammarTokenizerInfo(4096, [EOS]);
  const compiler = await GrammarCompiler.create(info, { ownThread });

  it('a JSON schema allows a valid answer token by token, then only the stop token', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string' }, count: { type: 'integer' } }, required: ['name', 'count'], additionalProperties: false };
    const grammar = await compiler.compile({ kind: 'json_schema', schema, strict: true });
    expect(await compiler.compile({ kind: 'json_schema', schema, strict: true }), 'a repeated schema comes from the cache').toBe(grammar);
    const matcher = await grammar.createMatcher();
    const first = await matcher.nextTokenMask();
    expect(first).toHaveLength(4096 / 32);
    expect(allows(first, codec.encode('[')[0]), 'an array is not an object').toBe(false);
    expect(allows(first, EOS), 'nothing is no answer').toBe(false);
    const last = await feed(matcher, codec.encode('{"name": "str.split", "count": 3}'));
    expect(allowedTokens(last, 4096)).toEqual([EOS]);
    expect(matcher.terminated).toBe(false);
    expect(await matcher.accept(EOS)).toBe(true);
    expect(matcher.terminated).toBe(true);
    matcher.dispose();
  });

  it('json_object allows any object, on one line with json.dumps separators', async () => {
    const matcher = await (await compiler.compile({ kind: 'json_object' })).createMatcher();
    const mask = await feed(matcher, codec.encode('{"a": [1, {"b": null}], "c": "d"}'));
    expect(allowedTokens(mask, 4096)).toEqual([EOS]);
    const other = await (await compiler.compile({ kind: 'json_object' })).createMatcher();
    await feed(other, codec.encode('{"a":'));
    expect(allows(await other.nextTokenMask(), codec.encode('\n')[0]), 'no free whitespace').toBe(false);
    matcher.dispose();
    other.dispose();
  });

  it('a string of bounded length allows no raw control character (XGrammar 0.1.27 let them through)', async () => {
    const schema = { type: 'object', properties: { s: { type: 'string', maxLength: 4 }, t: { type: 'string', minLength: 1, enum: ['x'] } }, required: ['s'] };
    expect(withJsonSafeStringLengths(schema)).toEqual({
      type: 'object',
      properties: { s: { type: 'string', pattern: '^[^\\x00-\\x1f"\\\\]{0,4}$' }, t: { type: 'string', pattern: '^[^\\x00-\\x1f"\\\\]{1,}$', enum: ['x'] } },
      required: ['s'],
    });
    const matcher = await (await compiler.compile({ kind: 'json_schema', schema: { type: 'string', maxLength: 4 } })).createMatcher();
    const mask = await feed(matcher, codec.encode('"a'));
    const tab = codec.encode('\t')[0];
    expect(codec.decode([tab])).toBe('\t');
    expect(allows(mask, tab)).toBe(false);
    expect(allows(mask, codec.encode('b')[0])).toBe(true);
    matcher.dispose();
  });

  it('a grammar that left the cache of recent grammars, and the grammars of a disposed compiler, fail with errors that say what to do', async () => {
    const own = await GrammarCompiler.create(info, { ownThread });
    const first = await own.compile({ kind: 'ebnf', grammar: 'root ::= "a0"' });
    const matcher = await first.createMatcher();
    for (let i = 1; i <= 32; i++) await own.compile({ kind: 'ebnf', grammar: `root ::= "a${i}"` });
    const released = await first.createMatcher().catch((e: unknown) => e);
    expect(released).toBeInstanceOf(EngineError);
    expect((released as EngineError).message).toMatch(/released .* compile it again/);
    expect(await matcher.accept(codec.encode('a')[0]), 'a matcher outlives its grammar').toBe(true);
    own.dispose();
    for (const failed of [await matcher.accept(codec.encode('0')[0]).catch((e: unknown) => e), await own.compile({ kind: 'json_object' }).catch((e: unknown) => e)]) {
      expect(failed).toBeInstanceOf(EngineError);
      expect((failed as EngineError).message).toMatch(/unloaded/);
    }
    matcher.dispose();
  });

  const invalid: [string, GrammarSpec, RegExp][] = [
    ['an unknown type', { kind: 'json_schema', schema: { type: 'frobnicate' } }, /JSON schema cannot be compiled: Unsupported type "frobnicate"/],
    ['a schema that is an array', { kind: 'json_schema', schema: [1, 2] as never }, /a JSON Schema is an object or a boolean \(got \[1,2\]\)/],
    ['a dangling $ref', { kind: 'json_schema', schema: { type: 'object', properties: { a: { $ref: '#/$defs/nope' } } } }, /JSON schema cannot be compiled: .*nope/],
    ['an undefined rule', { kind: 'ebnf', grammar: 'root ::= call\n' }, /EBNF grammar cannot be compiled: .*Rule "call" is not defined/],
    ['an empty grammar', { kind: 'ebnf', grammar: ' ' }, /the grammar is empty/],
  ];
  it.each(invalid)('%s is an invalid-grammar error that says why, and the compiler compiles on', async (_, spec, message) => {
    const error = await compiler.compile(spec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe('invalid-grammar');
    expect((error as EngineError).message).toMatch(message);
    const matcher = await (await compiler.compile({ kind: 'ebnf', grammar: 'root ::= "yes" | "no"' })).createMatcher();
    expect(allowedTokens(await feed(matcher, codec.encode('yes')), 4096)).toEqual([EOS]);
    matcher.dispose();
  });
});
