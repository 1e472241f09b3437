/*
 * Tool calls as the model writes them, read back into OpenAI's `tool_calls`. A chat template that takes `tools`
 * teaches the model one way to write a call; two families are read here:
 * - `hermes` (Qwen2.5, Hermes 2/3): `<tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>`, one or several,
 *   after any text;
 * - `llama3-json` (Llama 3.1, 3.2, 3.3): the whole answer is `{"name": "f", "parameters": {...}}` (calls joined by
 *   `;`), or text then `<|python_tag|>` and the JSON.
 * A call is handed out only once it is complete and parses as a call to a declared function, so neither a stream nor
 * an answer ever holds a call that could not be made: output that only looks like one (an unknown function, JSON
 * that does not parse, a call cut off by max_tokens) stays text.
 */

export type ToolCallSyntax = 'hermes' | 'llama3-json';

const HERMES_OPEN = '<tool_call>';
const HERMES_CLOSE = '</tool_call>';
const PYTHON_TAG = '<|python_tag|>';

/** Whether a chat template reads the `tools` variable at all (one that does not would drop the tools unseen). */
export function templateReadsTools(templateSource: string): boolean {
  return /\btools\b/.test(templateSource);
}

/**
 * The call syntax a chat template teaches, from the text it writes for a call in an earlier assistant turn:
 * `<tool_call>` (hermes), or a `"parameters"` object under Llama 3's headers (llama3-json); undefined for any other.
 */
export function toolCallSyntaxOf(templateSource: string): ToolCallSyntax | undefined {
  if (!templateReadsTools(templateSource)) return undefined;
  if (templateSource.includes(HERMES_OPEN)) return 'hermes';
  if (templateSource.includes('<|start_header_id|>') && templateSource.includes('"parameters": ')) return 'llama3-json';
  return undefined;
}

/** A complete call: `arguments` is the JSON text of an object, as the model wrote it. */
export interface ParsedToolCall {
  index: number;
  id: string;
  name: string;
  arguments: string;
}

export type ToolCallEvent = { kind: 'content'; text: string } | { kind: 'call'; call: ParsedToolCall };

export interface ToolCallParserOptions {
  syntax: ToolCallSyntax;
  /** The declared functions: a call to any other stays text. */
  functionNames: readonly string[];
  /** At most this many calls (1 for `parallel_tool_calls: false`): the answer ends with the last. */
  maxCalls?: number;
  /** Call ids; default `call_` and 24 random hex digits. */
  newId?: () => string;
}

/** How the generation ended: 'stop' (end-of-sequence or a stop sequence) may close a call, 'length' never does. */
export type GenerationEnd = 'stop' | 'length';

/**
 * Reads an answer's text as it streams into content and calls. `push` takes each piece and returns what is now
 * known: text that cannot be the start of a call, and calls once complete; text that may be one is held back.
 * `end` returns what was held. A whole answer is the same calls: push it, then end.
 */
export class ToolCallParser {
  private pending = '';
  /** 'text': outside calls; 'call': after an opening marker, before the call is complete. */
  private mode: 'text' | 'call' = 'text';
  /** What opened the call being read (`<tool_call>`, `<|python_tag|>`, or '' for a bare Llama JSON answer). */
  private opener = '';
  private calls = 0;
  /** Whether anything but whitespace has been handed out as content (a bare Llama call must come first). */
  private wroteText = false;
  /** Whether the last thing handed out was a call: the whitespace after it is dropped. */
  private afterCall = false;
  private readonly names: Set<string>;
  private readonly newId: () => string;

  constructor(private readonly options: ToolCallParserOptions) {
    this.names = new Set(options.functionNames);
    this.newId = options.newId ?? (() => `call_${crypto.randomUUID().replaceAll('-', '').slice(0, 24)}`);
  }

  /** Whether the answer is over: `maxCalls` calls have been made, so nothing more is read. */
  get finished(): boolean {
    return this.calls >= (this.options.maxCalls ?? Infinity);
  }

  get callCount(): number {
    return this.calls;
  }

  push(piece: string): ToolCallEvent[] {
    if (this.finished) return [];
    this.pending += piece;
    const events: ToolCallEvent[] = [];
    while (!this.finished && (this.mode === 'text' ? this.readText(events) : this.readCall(events)));
    return events;
  }

  end(reason: GenerationEnd): ToolCallEvent[] {
    if (this.finished) return [];
    const events: ToolCallEvent[] = [];
    if (this.mode === 'call') {
      // At end-of-sequence a call may lack only its closing marker (the call is whole); cut off by length, never.
      const call = reason === 'stop' && this.options.syntax === 'hermes' ? this.toCall(this.pending) : undefined;
      if (call) this.emitCall(events, call);
      else this.content(events, this.opener + this.pending);
    } else {
      // Whitespace held before a call that never came: an answer without calls keeps it, one with calls ends clean.
      this.content(events, this.calls === 0 ? this.pending : this.pending.trimEnd());
    }
    this.pending = '';
    return events;
  }

  /** Hands out text up to the next call's opening marker; true when a call has opened and is to be read. */
  private readText(events: ToolCallEvent[]): boolean {
    const text = this.pending;
    if (this.options.syntax === 'llama3-json' && this.afterCall) {
      // Llama joins calls with `;`: the next one needs no marker of its own.
      const joined = /^\s*;/.exec(text);
      if (joined) return this.open(events, 0, joined[0]);
      if (text.trim() === '') return false;
    }
    const bareJson = this.options.syntax === 'llama3-json' && !this.wroteText && this.calls === 0;
    if (bareJson) {
      const start = text.search(/\S/);
      if (start < 0) return false;
      if (text[start] === '{') return this.open(events, start, '');
    }
    const marker = this.options.syntax === 'hermes' ? HERMES_OPEN : PYTHON_TAG;
    const at = text.indexOf(marker);
    if (at >= 0) return this.open(events, at, marker);
    // Hold back what may begin the marker, and trailing whitespace (dropped if a call follows).
    let keep = longestPrefixSuffix(text, marker);
    const beforeKept = text.slice(0, text.length - keep);
    keep += beforeKept.length - beforeKept.trimEnd().length;
    const ready = text.slice(0, text.length - keep);
    if (ready.trim() !== '') {
      this.content(events, ready);
      this.pending = text.slice(ready.length);
    }
    return false;
  }

  /** Text before the marker at `at` is content, the whitespace before it kept with the marker (dropped if a call follows). */
  private open(events: ToolCallEvent[], at: number, marker: string): boolean {
    const before = this.pending.slice(0, at);
    const text = before.trimEnd();
    this.content(events, text);
    this.pending = this.pending.slice(at + marker.length);
    this.opener = before.slice(text.length) + marker;
    this.mode = 'call';
    return true;
  }

  /** Reads the open call up to its end; true when it ended (a call, or text that was not one), false to wait. */
  private readCall(events: ToolCallEvent[]): boolean {
    const end = this.options.syntax === 'hermes' ? this.hermesCallEnd() : this.llamaCallEnd();
    if (end === undefined) return false;
    const raw = this.pending.slice(0, end.body);
    const call = this.toCall(raw);
    if (call) this.emitCall(events, call);
    else this.content(events, this.opener + this.pending.slice(0, end.next));
    this.pending = this.pending.slice(end.next);
    this.mode = 'text';
    return true;
  }

  /** `body`: where the call's JSON ends; `next`: where the text after its closing marker starts. */
  private hermesCallEnd(): { body: number; next: number } | undefined {
    const at = this.pending.indexOf(HERMES_CLOSE);
    return at < 0 ? undefined : { body: at, next: at + HERMES_CLOSE.length };
  }

  private llamaCallEnd(): { body: number; next: number } | undefined {
    const start = this.pending.search(/\S/);
    if (start < 0) return undefined;
    // Not an object where the call should be: the text is text (jsonValueEnd fails at once).
    const end = this.pending[start] === '{' ? jsonValueEnd(this.pending, start) : start;
    return end < 0 ? undefined : { body: end, next: end };
  }

  /** The call in `raw` (a JSON object naming a declared function and its arguments), or undefined. */
  private toCall(raw: string): ParsedToolCall | undefined {
    const text = raw.trim();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (!isObject(value) || typeof value.name !== 'string' || !this.names.has(value.name)) return undefined;
    const members = topLevelMembers(text);
    const argumentsKey = this.options.syntax === 'llama3-json' && 'parameters' in value ? 'parameters' : 'arguments';
    let args = members.get(argumentsKey);
    if (args === undefined) args = '{}';
    else if (typeof value[argumentsKey] === 'string') args = objectJsonText(value[argumentsKey] as string);
    else if (!isObject(value[argumentsKey])) args = undefined;
    if (args === undefined) return undefined;
    return { index: this.calls++, id: this.newId(), name: value.name, arguments: args };
  }

  private emitCall(events: ToolCallEvent[], call: ParsedToolCall): void {
    events.push({ kind: 'call', call });
    this.afterCall = true;
  }

  private content(events: ToolCallEvent[], piece: string): void {
    const text = this.afterCall ? piece.trimStart() : piece;
    if (text === '') return;
    this.afterCall = false;
    if (text.trim() !== '') this.wroteText = true;
    const last = events.at(-1);
    if (last?.kind === 'content') last.text += text;
    else events.push({ kind: 'content', text });
  }
}

/** The calls and the content of a whole answer (content null when there is none besides the calls). */
export function parseToolCalls(text: string, reason: GenerationEnd, options: ToolCallParserOptions): { content: string | null; calls: ParsedToolCall[] } {
  const parser = new ToolCallParser(options);
  const events = [...parser.push(text), ...parser.end(reason)];
  const calls = events.flatMap((event) => (event.kind === 'call' ? [event.call] : []));
  const content = events.flatMap((event) => (event.kind === 'content' ? [event.text] : [])).join('');
  return { content: content === '' && calls.length > 0 ? null : content, calls };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Arguments a model wrote as a JSON string holding the object: that object's text, or undefined. */
function objectJsonText(text: string): string | undefined {
  try {
    return isObject(JSON.parse(text)) ? text : undefined;
  } catch {
    return undefined;
  }
}

/** The length of the longest end of `text` that is a beginning of `marker` (shorter than the marker). */
function longestPrefixSuffix(text: string, marker: string): number {
  for (let length = Math.min(marker.length - 1, text.length); length > 0; length--) {
    if (text.endsWith(marker.slice(0, length))) return length;
  }
  return 0;
}

/**
 * Where the JSON value starting at `start` ends (the index after it), or -1 while it is unfinished. Only brackets
 * and strings are followed: whether the value is valid JSON is JSON.parse's to say.
 */
export function jsonValueEnd(text: string, start: number): number {
  const first = text[start];
  if (first !== '{' && first !== '[' && first !== '"') {
    const match = /^[^,}\]\s]*/.exec(text.slice(start))!;
    return start + match[0].length < text.length ? start + match[0].length : -1;
  }
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      }
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** The raw text of each member's value in the JSON object `text` (which JSON.parse has accepted). */
function topLevelMembers(text: string): Map<string, string> {
  const members = new Map<string, string>();
  let i = text.indexOf('{') + 1;
  const skipSpace = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  for (;;) {
    skipSpace();
    if (text[i] !== '"') return members;
    const keyEnd = jsonValueEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = keyEnd;
    skipSpace();
    i++; // the colon
    skipSpace();
    const valueEnd = jsonValueEnd(text, i);
    members.set(key, text.slice(i, valueEnd < 0 ? text.length - 1 : valueEnd).trim());
    i = valueEnd;
    skipSpace();
    if (text[i] !== ',') return members;
    i++;
  }
}
