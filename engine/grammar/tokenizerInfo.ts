/*
 * What XGrammar needs to know of a tokenizer: every token's text as tokenizer.json spells it, ordered by id, and
 * how to turn that spelling into the bytes the token stands for. XGrammar decodes the spellings itself (its
 * TokenizerInfo, given the vocabulary type); this module reads the type the way XGrammar's own
 * `TokenizerInfo.from_huggingface` reads tokenizer.json (cpp/tokenizer_info.cc, HFTokenizerAnalyzer):
 * - `byte_level`: byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM), whose decoder is `ByteLevel`: each byte is spelled
 *   by one printable character (`Ġ` for a space);
 * - `byte_fallback`: SentencePiece-style BPE (Llama 2, TinyLlama, Mistral), whose decoder has `ByteFallback`: `▁`
 *   is a space and `<0x0A>` the byte 0x0A;
 * - `raw`: any other, the spelling is the text.
 * Special tokens (`<|im_start|>`, `<s>`) get an empty spelling, which XGrammar takes as "special": never allowed by
 * a grammar, except the stop tokens, which end the text the grammar accepts.
 */

export type VocabType = 'byte_level' | 'byte_fallback' | 'raw';

/** How tokenizer.json spells its tokens. */
export interface VocabEncoding {
  vocabType: VocabType;
  /** Whether encoding prepends a space to the text (a `Prepend "▁"` normalizer, or `Metaspace` that prepends). */
  addPrefixSpace: boolean;
}

/** The tokenizer as XGrammar's TokenizerInfo takes it. */
export interface GrammarTokenizerInfo extends VocabEncoding {
  /** Token id i's spelling, for ids below `vocabSize`; '' for special tokens and ids the tokenizer lacks. */
  encodedVocab: string[];
  /** The model's logits size (config.json's vocab_size): the mask has a bit for each. */
  vocabSize: number;
  /** The tokens that end a generation: the only ones a finished grammar allows. */
  stopTokenIds: number[];
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A component and, for a `Sequence`, its parts (`decoders`, `normalizers`, ...). */
function components(value: unknown, listKey: string): Json[] {
  if (!isObject(value)) return [];
  if (value.type === 'Sequence' && Array.isArray(value[listKey])) return (value[listKey] as unknown[]).filter(isObject);
  return [value];
}

/** The vocabulary type and prefix space of tokenizer.json, as XGrammar detects them. */
export function vocabEncoding(tokenizerJson: Json): VocabEncoding {
  const decoders = components(tokenizerJson.decoder, 'decoders');
  const decoderType = decoders.map((d) => d.type).find((type) => type === 'ByteLevel' || type === 'ByteFallback');
  const vocabType: VocabType = decoderType === 'ByteLevel' ? 'byte_level' : decoderType === 'ByteFallback' ? 'byte_fallback' : 'raw';
  const prepends = components(tokenizerJson.normalizer, 'normalizers').some((n) => n.type === 'Prepend' && n.prepend === '▁');
  const preTokenizer = tokenizerJson.pre_tokenizer;
  const metaspace = isObject(preTokenizer) && preTokenizer.type === 'Metaspace' && (preTokenizer.prepend_scheme === 'always' || preTokenizer.prepend_scheme === 'first');
  return { vocabType, addPrefixSpace: prepends || metaspace };
}

/**
 * The tokenizer info for a model with `vocabSize` logits: `vocab` maps each token's spelling to its id (added tokens
 * included), `specialIds` are the added tokens marked special. Ids the tokenizer lacks (a model's logits padded past
 * its vocabulary) are special; tokens at or past `vocabSize` cannot be sampled and are left out.
 */
export function grammarTokenizerInfo(
  encoding: VocabEncoding,
  vocab: ReadonlyMap<string, number>,
  specialIds: ReadonlySet<number>,
  vocabSize: number,
  stopTokenIds: readonly number[],
): GrammarTokenizerInfo {
  const encodedVocab = new Array<string>(vocabSize).fill('');
  for (const [spelling, id] of vocab) {
    if (id < vocabSize && !specialIds.has(id)) encodedVocab[id] = spelling;
  }
  const stops = [...new Set(stopTokenIds)].filter((id) => id >= 0 && id < vocabSize).sort((a, b) => a - b);
  return { ...encoding, encodedVocab, vocabSize, stopTokenIds: stops };
}
