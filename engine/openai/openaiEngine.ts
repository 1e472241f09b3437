import { EngineError } from '../../errors/engineError.ts';
import type { Engine } from '../engine.ts';
import { ChatCompletions } from './chatCompletions.ts';
import type { ModelList } from './types.ts';

/**
 * A loaded Engine in the openai SDK's shape: `chat.completions.create(...)` and `models.list()`, called as on
 * `new OpenAI()`, in-process. `lean-decode serve` puts the same object behind HTTP.
 */
export class OpenAIEngine {
  readonly chat: { completions: ChatCompletions };
  readonly models: { list(): ModelList };

  /** `model`: the id requests name; default: the model folder's name (`pydoc-chat-6m`). */
  constructor(engine: Engine, model = folderName(engine)) {
    this.chat = { completions: new ChatCompletions(engine, model) };
    const created = Math.floor(Date.now() / 1000);
    this.models = { list: () => ({ object: 'list', data: [{ id: model, object: 'model', created, owned_by: 'lean-decode' }] }) };
  }
}

function folderName(engine: Engine): string {
  const description = engine.model?.description;
  if (description === undefined) throw new EngineError('invalid-argument', 'no model is loaded: call engine.load before new OpenAIEngine(engine)');
  return description.split(/[\\/]/).filter(Boolean).pop() ?? description;
}
