import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { EngineError } from '../errors/engineError.ts';
import { grammarTokenizerInfo, vocabEncoding, type GrammarTokenizerInfo, type VocabEncoding } from './grammar/tokenizerInfo.ts';
import { readJson, readOptionalJson, type ModelFiles } from './loader/modelFiles.ts';

/** A turn of text. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * A message as chat templates take it (Hugging Face's shape): a turn of text, an assistant turn with calls (their
 * arguments objects, not JSON text, as Hugging Face's templates expect them), or a tool's result.
 */
export type TemplateMessage =
  | ChatMessage
  | { role: 'assistant'; content: string; tool_calls: TemplateToolCall[] }
  | { role: 'tool'; content: string; tool_call_id: string; name?: string };

export interface TemplateToolCall {
  id?: string;
  type: 'function';
  function: { name: string; arguments: Record<string, unknown> };
}

/** A tool as a template's `tools` holds it: `{type: 'function', function: {name, description, parameters}}`. */
export interface TemplateTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

/** A model's chat templates by name: one (`default`), or several as tokenizer_config.json may list them. */
interface ChatTemplates {
  file: string;
  named: Map<string, { template: Template; source: string }>;
}

/** The model's tokenizer and chat template, from `tokenizer.json`, `tokenizer_config.json`, `chat_template.jinja`. */
export class TextCodec {
  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly chatTemplates: ChatTemplates | undefined,
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
    const chatTemplates = await readChatTemplates(files, config);
    const tokenText = (value: unknown) =>
      typeof value === 'string' ? value : typeof (value as { content?: unknown })?.content === 'string' ? (value as { content: string }).content : '';
    const special = { bos_token: tokenText(config.bos_token), eos_token: tokenText(config.eos_token) };
    const eosId = special.eos_token ? tokenizer.token_to_id(special.eos_token) : undefined;
    return new TextCodec(tokenizer, chatTemplates, special, eosId === undefined ? [] : [eosId], vocabEncoding(tokenizerJson));
  }

  get hasChatTemplate(): boolean {
    return this.chatTemplates !== undefined;
  }

  /** The text of the template a conversation with (or without) tools is rendered by; undefined without a template. */
  chatTemplateSource(withTools: boolean): string | undefined {
    return this.chatTemplates && this.pickTemplate(this.chatTemplates, withTools).source;
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

  /**
   * The prompt text for a conversation, ending with the assistant's turn about to start, as Hugging Face's
   * `apply_chat_template(messages, tools=tools, add_generation_prompt=True)` renders it: the template sees
   * `messages`, `tools` (none when not given), the special tokens, and `strftime_now`.
   */
  applyChatTemplate(messages: TemplateMessage[], tools?: readonly TemplateTool[]): string {
    if (!this.chatTemplates) {
      throw new EngineError('invalid-tokenizer', 'this model has no chat template (tokenizer_config.json or chat_template.jinja): send the prompt raw');
    }
    const { file } = this.chatTemplates;
    const { template } = this.pickTemplate(this.chatTemplates, tools !== undefined);
    try {
      return renderTemplate(template, { messages, tools: tools ?? null, documents: null, add_generation_prompt: true, ...this.specialTokens });
    } catch (cause) {
      throw new EngineError('invalid-tokenizer', `${file}: the chat template failed (${(cause as Error).message}): fix it, or send the prompt raw`);
    }
  }

  /** As Hugging Face picks among named templates: `tool_use` when tools are given and there is one, else `default`. */
  private pickTemplate({ file, named }: ChatTemplates, withTools: boolean): { template: Template; source: string } {
    const picked = (withTools ? named.get('tool_use') : undefined) ?? named.get('default');
    if (!picked) {
      throw new EngineError('invalid-tokenizer', `${file}: the chat templates (${[...named.keys()].join(', ')}) include no "default": name one of them so`);
    }
    return picked;
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

/**
 * The chat templates and the file they come from: chat_template.jinja, else tokenizer_config.json's chat_template,
 * a template or a list of named ones (`[{name: 'default', template}, {name: 'tool_use', template}]`).
 */
async function readChatTemplates(files: ModelFiles, config: Record<string, unknown>): Promise<ChatTemplates | undefined> {
  const [file, value] = (await files.exists('chat_template.jinja'))
    ? ['chat_template.jinja', await files.text('chat_template.jinja')]
    : ['tokenizer_config.json', config.chat_template];
  const sources: [string, unknown][] = Array.isArray(value)
    ? value.map((entry: { name?: unknown; template?: unknown } | null, i) => [typeof entry?.name === 'string' ? entry.name : `#${i}`, entry?.template])
    : [['default', value]];
  const named = new Map<string, { template: Template; source: string }>();
  for (const [name, source] of sources) {
    if (typeof source !== 'string' || source === '') continue;
    const which = Array.isArray(value) ? `the chat template "${name}"` : 'the chat template';
    try {
      named.set(name, { template: new Template(source), source });
    } catch (cause) {
      throw new EngineError('invalid-tokenizer', `${file}: ${which} is not a valid Jinja template (${(cause as Error).message}): fix it or download it again`);
    }
  }
  return named.size === 0 ? undefined : { file, named };
}

/**
 * Template.render with Hugging Face's globals, whose `strftime_now` is Python's in the C locale (@huggingface/jinja's
 * names months in the browser's language: Llama 3's "Today Date: 26 Jul 2024" would read "26 juil. 2024" in a
 * French browser); render's own globals cannot be replaced, so they are all set here.
 */
function renderTemplate(template: Template, context: Record<string, unknown>): string {
  const environment = new Environment();
  const globals = {
    true: true,
    false: false,
    none: null,
    True: true,
    False: false,
    None: null,
    raise_exception: (message: unknown) => {
      throw new Error(String(message));
    },
    range,
    strftime_now: strftimeNow,
  };
  for (const [name, value] of Object.entries({ ...globals, ...context })) environment.set(name, value);
  return new Interpreter(environment).run(template.parsed).value as string;
}

/** Python's range(stop) and range(start, stop[, step]). */
function range(start: number, stop?: number, step = 1): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (step === 0) throw new Error('range() step must not be zero');
  const values: number[] = [];
  for (let i = from; step > 0 ? i < to : i > to; i += step) values.push(i);
  return values;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/**
 * The templates' `strftime_now(format)` as Python's in the C locale, which Hugging Face's is: month and day names in
 * English whatever the browser's language (Llama 3's "Today Date: 26 Jul 2024").
 */
function strftimeNow(format: string): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const fields: Record<string, string> = {
    Y: String(now.getFullYear()),
    y: pad(now.getFullYear() % 100),
    m: pad(now.getMonth() + 1),
    d: pad(now.getDate()),
    B: MONTHS[now.getMonth()],
    b: MONTHS[now.getMonth()].slice(0, 3),
    A: WEEKDAYS[now.getDay()],
    a: WEEKDAYS[now.getDay()].slice(0, 3),
    H: pad(now.getHours()),
    M: pad(now.getMinutes()),
    S: pad(now.getSeconds()),
    '%': '%',
  };
  return format.replace(/%(.)/g, (directive, field: string) => fields[field] ?? directive);
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
