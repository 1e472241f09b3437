import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { EngineError } from '../errors/engineError.ts';
import { grammarTokenizerInfo, vocabEncoding, type GrammarTokenizerInfo, type VocabEncoding } from './grammar/tokenizerInfo.ts';
import { readJson, readOptionalJson, type ModelFiles } from './loader/modelFiles.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The model's tokenizer and chat template, from `tokenizer.json`, `tokenizer_config.json`, `chat_template.jinja`. */
export class TextCodec {
  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly chatTemplate: { template: Template; file: string } | undefined,
    private readonly specialTokens: { bos_token: string; eos_token: string },
    /** Token ids that end generation besides the config's EOS: the tokenizer's own eos token. */
    readonly eosTokenIds: number[],
    /** How tokenizer.json spells its tokens (for a grammar's token masks). */
    private readonly encoding: VocabEncoding,
  ) {}

  static async load(files: ModelFiles): Promise<TextCodec> {
    if (!(await files.exists('tokenizer.json'))) {
      throw new EngineError(
        'invalid-tokenizer',
        `${files.description} has no tokenizer.json: lean-decode needs the Hugging Face tokenizer file next to the weights`,
      );
    }
    const tokenizerJson = await readJson(files, 'tokenizer.json');
    const config = (await readOptionalJson(files, 'tokenizer_config.json')) ?? {};
    const tokenizer = createTokenizer(tokenizerJson, config);
    const chatTemplate = await readChatTemplate(files, config);
    const tokenText = (value: unknown) =>
      typeof value === 'string' ? value : typeof (value as { content?: unknown })?.content === 'string' ? (value as { content: string }).content : '';
    const special = { bos_token: tokenText(config.bos_token), eos_token: tokenText(config.eos_token) };
    const eosId = special.eos_token ? tokenizer.token_to_id(special.eos_token) : undefined;
    return new TextCodec(tokenizer, chatTemplate, special, eosId === undefined ? [] : [eosId], vocabEncoding(tokenizerJson));
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplate !== undefined;
  }

  encode(text: string): number[] {
    try {
      return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    } catch (cause) {
      throw new EngineError('invalid-tokenizer', `tokenizer.json could not encode the prompt (${(cause as Error).message}): the tokenizer is damaged; download it again`);
    }
  }

  decode(ids: number[]): string {
    try {
      return this.tokenizer.decode(ids, { skip_special_tokens: false });
    } catch (cause) {
      throw new EngineError('invalid-tokenizer', `tokenizer.json could not decode token ids ${ids.join(', ')} (${(cause as Error).message}): the tokenizer is damaged; download it again`);
    }
  }

  /** The prompt text for a conversation, ending with the assistant's turn about to start. */
  applyChatTemplate(messages: ChatMessage[]): string {
    if (!this.chatTemplate) {
      throw new EngineError('invalid-tokenizer', 'this model has no chat template (tokenizer_config.json or chat_template.jinja): send the prompt raw');
    }
    try {
      return this.chatTemplate.template.render({ messages, add_generation_prompt: true, ...this.specialTokens });
    } catch (cause) {
      throw new EngineError('invalid-tokenizer', `${this.chatTemplate.file}: the chat template failed (${(cause as Error).message}): fix it, or send the prompt raw`);
    }
  }

  tokenText(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  /** The vocabulary as XGrammar takes it, for a model of `vocabSize` logits that stops at `stopTokenIds`. */
  grammarTokenizerInfo(vocabSize: number, stopTokenIds: readonly number[]): GrammarTokenizerInfo {
    const special = new Set([...this.tokenizer.get_added_tokens_decoder()].filter(([, token]) => token.special).map(([id]) => id));
    return grammarTokenizerInfo(this.encoding, this.tokenizer.get_vocab(true), special, vocabSize, stopTokenIds);
  }
}

/** The chat template and the file it comes from: chat_template.jinja, else tokenizer_config.json's chat_template. */
async function readChatTemplate(files: ModelFiles, config: Record<string, unknown>): Promise<{ template: Template; file: string } | undefined> {
  const [file, source] = (await files.exists('chat_template.jinja'))
    ? ['chat_template.jinja', await files.text('chat_template.jinja')]
    : ['tokenizer_config.json', config.chat_template];
  if (typeof source !== 'string' || source === '') return undefined;
  try {
    return { template: new Template(source), file };
  } catch (cause) {
    throw new EngineError('invalid-tokenizer', `${file}: the chat template is not a valid Jinja template (${(cause as Error).message}): fix it or download it again`);
  }
}

/**
 * The tokenizer of tokenizer.json with the settings of tokenizer_config.json. When it cannot be built, the message
 * names the file at fault: tokenizer.json, or tokenizer_config.json when tokenizer.json alone builds.
 */
function createTokenizer(tokenizerJson: Record<string, unknown>, config: Record<string, unknown>): Tokenizer {
  try {
    return new Tokenizer(tokenizerJson, config);
  } catch (cause) {
    const file = buildsAlone(tokenizerJson) ? 'tokenizer_config.json' : 'tokenizer.json';
    throw new EngineError('invalid-tokenizer', `${file} could not be read by the tokenizer (${(cause as Error).message}): download it again`);
  }
}

/** Whether tokenizer.json makes a tokenizer without tokenizer_config.json's settings (the answer is all we need). */
function buildsAlone(tokenizerJson: Record<string, unknown>): boolean {
  try {
    new Tokenizer(tokenizerJson, {});
    return true;
  } catch {
    return false;
  }
}

/**
 * Streams text as tokens arrive without ever emitting half a character: the pending tokens are decoded together,
 * and text ending in U+FFFD (an incomplete UTF-8 sequence) waits for the next token.
 */
export class StreamingDecoder {
  private pending: number[] = [];
  private emitted = '';

  constructor(private readonly codec: TextCodec) {}

  push(id: number): string {
    this.pending.push(id);
    const text = this.codec.decode(this.pending);
    if (text.endsWith('\uFFFD')) return '';
    const fresh = text.slice(this.emitted.length);
    // Keep the last token as context so a following token's leading space decodes as in the full text.
    this.pending = this.pending.slice(-1);
    this.emitted = this.codec.decode(this.pending);
    return fresh;
  }

  /** Whatever is left (an incomplete character at the very end decodes as U+FFFD). */
  flush(): string {
    const text = this.codec.decode(this.pending);
    const fresh = text.slice(this.emitted.length);
    this.pending = [];
    this.emitted = '';
    return fresh;
  }
}
