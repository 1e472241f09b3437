import { stopTokenIds, type GenerationEvent } from '../engine/engine.ts';
import type { KvDtype } from '../kernels/attention/pagedKv.ts';
import { ATTENTION_KERNELS } from '../kernels/attention/plan.ts';
import { GREEDY, type SamplingSettings } from '../kernels/model/sampler.ts';
import { BUILTIN_MODEL_DIR } from './builtinModel.ts';
import type { CommandSpec, FlagTable, FlagValues } from './flags.ts';
import { loadEngine } from './loadEngine.ts';

const KV_DTYPES = ['f16', 'f32'] as const satisfies readonly KvDtype[];
const SAMPLING_FLAGS = ['temperature', 'top-p', 'top-k', 'repetition-penalty', 'seed'];

const GENERATE_FLAGS = {
  prompt: { type: 'text', placeholder: 'TEXT', required: true, help: 'the prompt' },
  model: { type: 'text', placeholder: 'DIR', help: 'a model folder (config.json, tokenizer.json, *.safetensors); default: the built-in pydoc-chat-6m' },
  chat: { type: 'switch', help: "wrap the prompt in the model's chat template, as a user message" },
  'max-tokens': { type: 'integer', placeholder: 'N', min: 1, default: 256, help: 'stop after N generated tokens' },
  greedy: { type: 'switch', excludes: SAMPLING_FLAGS, help: 'always take the most likely token' },
  temperature: { type: 'number', placeholder: 'T', min: 0, default: 0.7, help: 'sampling temperature; 0 is greedy' },
  'top-p': { type: 'number', placeholder: 'P', min: 0, aboveMin: true, max: 1, default: 0.9, help: 'nucleus sampling: keep the most likely tokens up to this total probability' },
  'top-k': { type: 'integer', placeholder: 'K', min: 0, default: 0, help: 'keep only the K most likely tokens; 0 keeps all' },
  'repetition-penalty': { type: 'number', placeholder: 'R', min: 0, aboveMin: true, default: 1, help: 'divide the logits of tokens already seen by R; 1 is off' },
  seed: { type: 'integer', placeholder: 'S', min: 0, max: 2 ** 32 - 1, help: 'sampling seed; default: a random one' },
  attention: { type: 'choice', choices: ATTENTION_KERNELS, default: 'lean', help: 'decode attention kernel: LeanAttention, FlashDecoding or FA2-style' },
  kv: { type: 'choice', choices: KV_DTYPES, default: 'f16', help: 'KV cache precision' },
  calibrate: { type: 'switch', help: "print the LeanAttention grid calibrated for this adapter and the model's shape" },
  json: { type: 'switch', help: 'print one JSON object: prompt_ids, generated_ids, text, last_prompt_logits, prefill_ms, steps' },
} as const satisfies FlagTable;

export const GENERATE: CommandSpec<typeof GENERATE_FLAGS> = {
  name: 'generate',
  summary: 'generate text for a prompt, streamed to stdout',
  synopsis: 'generate --prompt TEXT [--model DIR] [--chat] [--max-tokens N] [--greedy | --temperature T --top-p P ...] [--attention lean|fd|fa2] [--kv f16|f32] [--json]',
  description: 'Loads the model onto the GPU that Dawn finds, then generates from the prompt and streams the text to stdout.',
  flags: GENERATE_FLAGS,
};

export async function generateCommand(flags: FlagValues<typeof GENERATE_FLAGS>): Promise<void> {
  const { prompt, attention, kv: kvDtype, json } = flags;
  const model = flags.model ?? BUILTIN_MODEL_DIR;
  const sampling: SamplingSettings = flags.greedy
    ? GREEDY
    : {
        temperature: flags.temperature,
        topP: flags['top-p'],
        topK: flags['top-k'],
        repetitionPenalty: flags['repetition-penalty'],
        seed: flags.seed ?? Math.floor(Math.random() * 2 ** 31),
      };

  const { engine, info, calibration } = await loadEngine(model, { kvDtype, attention }, json);
  if (!json && calibration && flags.calibrate) process.stderr.write(`LeanAttention grid ${calibration.grid}\n`);
  if (!json && !flags.chat && engine.tokenizer.hasChatTemplate) {
    process.stderr.write('the model has a chat template: --chat wraps the prompt in it as a user message (a chat model given raw text may stop at once)\n');
  }
  const request = flags.chat ? { messages: [{ role: 'user' as const, content: prompt }] } : { prompt };
  // The ids generation stops at: their text (`<|im_end|>`) is not part of the answer printed (--json keeps it).
  const eos = new Set(stopTokenIds(engine.model!.config, engine.tokenizer));
  const steps: { step: number; contextLength: number; stepMs?: number; attentionMs?: number[]; wholeStepMs?: number }[] = [];
  let result: { promptIds: number[]; lastPromptLogits?: Float32Array; generatedIds: number[]; text: string; reason: string } | undefined;
  let promptIds: number[] = [];
  let lastPromptLogits: Float32Array | undefined;
  let prefillMs = 0;
  const events: AsyncIterable<GenerationEvent> = engine.generate({
    ...request,
    maxTokens: flags['max-tokens'],
    sampling,
    captureLogits: json,
    timing: json ? 'sections' : 'none',
  });
  for await (const event of events) {
    if (event.kind === 'prompt') {
      promptIds = event.promptIds;
      lastPromptLogits = event.lastPromptLogits;
      prefillMs = event.prefillMs;
    } else if (event.kind === 'token') {
      if (!json && !eos.has(event.id)) process.stdout.write(event.text);
      const timing = event.stats.timing;
      steps.push({ step: event.stats.step, contextLength: event.stats.contextLength, stepMs: timing?.stepMs, attentionMs: timing?.attentionMs, wholeStepMs: timing?.wholeStepMs });
    } else {
      if (!json) process.stdout.write(event.tail);
      result = { promptIds, lastPromptLogits, generatedIds: event.generatedIds, text: event.text, reason: event.reason };
    }
  }
  if (json) {
    console.log(
      JSON.stringify({
        model: info.description,
        attention,
        kv_dtype: kvDtype,
        prompt_ids: result!.promptIds,
        generated_ids: result!.generatedIds,
        text: result!.text,
        stop_reason: result!.reason,
        last_prompt_logits: Array.from(result!.lastPromptLogits ?? []),
        prefill_ms: prefillMs,
        steps,
      }),
    );
  } else {
    process.stdout.write('\n');
  }
  engine.unload();
}
