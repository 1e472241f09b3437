import type { AddressInfo } from 'node:net';
import { OpenAIEngine } from '../engine/openai/openaiEngine.ts';
import { BUILTIN_MODEL_DIR } from './builtinModel.ts';
import { createChatServer } from './chatServer.ts';
import type { CommandSpec, FlagTable, FlagValues } from './flags.ts';
import { loadEngine } from './loadEngine.ts';

const SERVE_FLAGS = {
  model: { type: 'text', placeholder: 'DIR', help: 'a model folder (config.json, tokenizer.json, *.safetensors); default: the built-in pydoc-chat-6m' },
  host: { type: 'text', placeholder: 'HOST', default: '127.0.0.1', help: 'the address to listen on; 0.0.0.0 opens it to the network' },
  port: { type: 'integer', placeholder: 'PORT', min: 0, max: 65535, default: 8080, help: 'the TCP port; 0 picks a free one' },
} as const satisfies FlagTable;

export const SERVE: CommandSpec<typeof SERVE_FLAGS> = {
  name: 'serve',
  summary: 'serve the model over the OpenAI Chat Completions HTTP API',
  synopsis: 'serve [--model DIR] [--host 127.0.0.1] [--port 8080]',
  description:
    'Loads the model onto the GPU that Dawn finds and answers OpenAI clients at http://HOST:PORT/v1: POST /v1/chat/completions\n' +
    '(JSON, or server-sent events with "stream": true), GET /v1/models, GET /health. Requests are answered one at a\n' +
    'time, in the order they come. The model id is the folder name. Runs until interrupted (Ctrl-C).',
  flags: SERVE_FLAGS,
};

export async function serveCommand(flags: FlagValues<typeof SERVE_FLAGS>): Promise<void> {
  const { engine } = await loadEngine(flags.model ?? BUILTIN_MODEL_DIR, {});
  const api = new OpenAIEngine(engine);
  const server = createChatServer(api);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(flags.port, flags.host, resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  // The line a script waits for (the port is the one bound, where --port 0 asked for any).
  console.log(`serving ${api.chat.completions.model} at http://${host}:${port}/v1`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      server.closeAllConnections();
      server.close(() => resolve());
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  engine.unload();
}
