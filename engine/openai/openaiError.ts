import { EngineError, serializeError, type EngineErrorCode } from '../../errors/engineError.ts';

export type OpenAIErrorType = 'invalid_request_error' | 'server_error';

/** The body OpenAI answers a failed request with. */
export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null };
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
  ) {
    super(message);
    this.name = 'OpenAIError';
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
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
    return new OpenAIError(status, status < 500 ? 'invalid_request_error' : 'server_error', error.message, param, code);
  }
  const { message, code } = serializeError(error);
  return new OpenAIError(500, 'server_error', message, null, code);
}
