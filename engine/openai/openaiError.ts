import { EngineError, serializeError, type EngineErrorCode } from '../../errors/engineError.ts';

export type OpenAIErrorType = 'invalid_request_error' | 'server_error';

/** What an answer that failed midway had generated (the device lost mid-answer): the caller can keep it. */
export interface PartialAnswer {
  content: string;
  completion_tokens: number;
}

/**
 * The body OpenAI answers a failed request with; `lean_decode.partial` (this engine's extension, beside OpenAI's
 * fields) carries the text an answer had when it failed, for calls that stream nothing before the end.
 */
export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null; lean_decode?: { partial: PartialAnswer } };
}

/**
 * A failed Chat Completions call as OpenAI reports it: the HTTP status, the error type, the request field at fault
 * (`param`) and a machine-readable `code`. In-process callers catch it; `serve` sends `body()` with `status`.
 */
export class OpenAIError extends Error {
  constructor(
    readonly status: number,
    readonly type: OpenAIErrorType,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly partial?: PartialAnswer,
  ) {
    super(message);
    this.name = 'OpenAIError';
  }

  body(): OpenAIErrorBody {
    const { message, type, param, code, partial } = this;
    return { error: { message, type, param, code, ...(partial && { lean_decode: { partial } }) } };
  }
}

/** A request the caller has to change: 400 unless another status says more (404 for an unknown model). */
export function invalidRequest(message: string, param: string | null, code: string | null = null, status = 400): OpenAIError {
  return new OpenAIError(status, 'invalid_request_error', message, param, code);
}

/** The status each engine failure answers with; anything not listed is the server's failure (500). */
const STATUS_OF: Partial<Record<EngineErrorCode, number>> = {
  'context-overflow': 400,
  'invalid-argument': 400,
  'invalid-grammar': 400,
  // The pool is shared with cached conversations: the same request may pass later.
  'kv-pool-full': 503,
  // Nginx's "client closed request": the caller stopped it, so there is rarely anyone left to read it.
  aborted: 499,
};

/** Any failure as an OpenAIError: engine errors keep their kind as the code (`context_length_exceeded` as OpenAI's). */
export function toOpenAIError(error: unknown): OpenAIError {
  if (error instanceof OpenAIError) return error;
  if (error instanceof EngineError) {
    const status = STATUS_OF[error.code] ?? 500;
    const code = error.code === 'context-overflow' ? 'context_length_exceeded' : error.code.replaceAll('-', '_');
    const param = error.code === 'context-overflow' ? 'messages' : null;
    const partial = error.partial && { content: error.partial.text, completion_tokens: error.partial.generatedIds.length };
    return new OpenAIError(status, status < 500 ? 'invalid_request_error' : 'server_error', error.message, param, code, partial);
  }
  const { message, code } = serializeError(error);
  return new OpenAIError(500, 'server_error', message, null, code);
}
