import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { EngineError } from './errors.ts';
import { readJson, readOptionalJson, type ModelFiles } from './loader/modelFiles.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The model's tokenizer and chat template, from `tokenizer.json`, `tokenizer_config.json`, `chat_template.jinja`. */
export class TextCodec {
  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly chatTemplate: Template | undefined,
    private readonly specialTokens: { bos_token: string; eos_token: string },
    /** Token ids that end generation besides the config's EOS: the tokenizer's own eos token. */
    readonly eosTokenIds: number[],
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
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, config);
    } catch (cause) {
      throw new EngineError('invalid-tokenizer', `tokenizer.json could not be read: ${(cause as Error).message}`);
    }
    const templateSource = (await files.exists('chat_template.jinja'))
      ? await files.text('chat_template.jinja')
      : typeof config.chat_template === 'string'
        ? config.chat_template
        : undefined;
    const tokenText = (value: unknown) =>
      typeof value === 'string' ? value : typeof (value as { content?: unknown })?.content === 'string' ? (value as { content: string }).content : '';
    const special = { bos_token: tokenText(config.bos_token), eos_token: tokenText(config.eos_token) };
    const eosId = special.eos_token ? tokenizer.token_to_id(special.eos_token) : undefined;
    return new TextCodec(tokenizer, templateSource ? new Template(templateSource) : undefined, special, eosId === undefined ? [] : [eosId]);
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplate !== undefined;
  }

  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[]): string {
    return this.tokenizer.decode(ids, { skip_special_tokens: false });
  }

  /** The prompt text for a conversation, ending with the assistant's turn about to start. */
  applyChatTemplate(messages: ChatMessage[]): string {
    if (!this.chatTemplate) {
      throw new EngineError('invalid-tokenizer', 'this model has no chat template (tokenizer_config.json or chat_template.jinja): send the prompt raw');
    }
    return this.chatTemplate.render({ messages, add_generation_prompt: true, ...this.specialTokens });
  }

  tokenText(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
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
