/**
 * Every failure the engine reports is one of these: a stable `code` a caller can switch on and a message that says
 * what went wrong and what to do. They cross the worker boundary as plain `{code, message}` objects.
 */
export type EngineErrorCode =
  | 'gpu-unavailable'
  | 'gpu-device-lost'
  | 'gpu-validation'
  | 'gpu-out-of-memory'
  | 'invalid-safetensors'
  | 'missing-file'
  /** A file that did not arrive whole after the loader's retries (a cut connection, a body of the wrong length). */
  | 'download-failed'
  | 'missing-tensor'
  | 'unsupported-model'
  | 'invalid-config'
  | 'invalid-tokenizer'
  | 'context-overflow'
  | 'kv-pool-full'
  | 'invalid-argument'
  /** A grammar or JSON schema for constrained generation that cannot be compiled: the message says why. */
  | 'invalid-grammar'
  | 'aborted'
  /** A bug: something failed that no input should make fail. The message carries the original error's. */
  | 'internal';

/** What a generation had produced when it failed (the device lost mid-answer): the caller can show and keep it. */
export interface PartialGeneration {
  generatedIds: number[];
  text: string;
}

export class EngineError extends Error {
  readonly code: EngineErrorCode;
  /** Set on a generation's failure: the tokens and text it had yielded before it. */
  readonly partial?: PartialGeneration;

  constructor(code: EngineErrorCode, message: string, partial?: PartialGeneration) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
    if (partial) this.partial = partial;
  }

  toJSON(): SerializedEngineError {
    return { code: this.code, message: this.message, ...(this.partial && { partial: this.partial }) };
  }
}

export interface SerializedEngineError {
  code: EngineErrorCode;
  message: string;
  partial?: PartialGeneration;
}

/** Any thrown value as an EngineError-shaped object a UI can show. */
export function serializeError(value: unknown): SerializedEngineError {
  if (value instanceof EngineError) return value.toJSON();
  // Not an EngineError: nothing anticipated it, so it is not the caller's input at fault.
  const message = value instanceof Error ? `${value.name}: ${value.message}` : String(value);
  return { code: 'internal', message: `an internal error (please report it): ${message}` };
}
