import { Engine, type GenerationEvent } from '../engine/engine.ts';
import { createNodeGpuContext } from '../engine/gpu/node.ts';
import { nodeModelFiles } from '../engine/loader/nodeFiles.ts';
import type { KvDtype } from '../kernels/attention/pagedKv.ts';
import { ATTENTION_KERNELS, type AttentionKernel } from '../kernels/attention/plan.ts';
import { GREEDY, type SamplingSettings } from '../kernels/model/sampler.ts';
import { BUILTIN_MODEL_DIR } from './builtinModel.ts';
import { fileCalibrationStore } from './calibrationFile.ts';
import { flagNumber, flagString, type Flags } from './flags.ts';

export const GENERATE_USAGE = `lean-decode generate --prompt TEXT [--model DIR] [--chat] [--max-tokens N]
    [--greedy | --temperature T --top-p P --top-k K --repetition-penalty R --seed S]
    [--attention lean|fd|fa2] [--kv f16|f32] [--json]
  --model defaults to the built-in pydoc-chat-6m.`;

export async function generateCommand(flags: Flags): Promise<void> {
  const prompt = flagString(flags, 'prompt');
  if (prompt === undefined) throw new Error(`--prompt is required\n${GENERATE_USAGE}`);
  const model = flagString(flags, 'model') ?? BUILTIN_MODEL_DIR;
  const attention = (flagString(flags, 'attention') ?? 'lean') as AttentionKernel;
  if (!ATTENTION_KERNELS.includes(attention)) throw new Error(`--attention must be one of ${ATTENTION_KERNELS.join(', ')}`);
  const kvDtype = (flagString(flags, 'kv') ?? 'f16') as KvDtype;
  const json = flags.has('json');
  const sampling: SamplingSettings = flags.has('greedy')
    ? GREEDY
    : {
        temperature: flagNumber(flags, 'temperature') ?? 0.7,
        topP: flagNumber(flags, 'top-p') ?? 0.9,
        topK: flagNumber(flags, 'top-k') ?? 0,
        repetitionPenalty: flagNumber(flags, 'repetition-penalty') ?? 1,
        seed: flagNumber(flags, 'seed') ?? Math.floor(Math.random() * 2 ** 31),
      };

  const engine = new Engine(await createNodeGpuContext());
  const info = await engine.load(nodeModelFiles(model), {
    kvDtype,
    attention,
    onProgress: (p) => {
      if (!json && p.phase === 'uploading' && p.tensorsDone === p.tensorsTotal) {
        process.stderr.write(`loaded ${(p.bytesTotal / 1e6).toFixed(1)} MB of weights from ${model}\n`);
      }
    },
  });
  // A grid calibrated earlier on this adapter (bench-decode or --calibrate) is used; --calibrate times it now.
  const calibration = await engine.calibrate(fileCalibrationStore(), 8192).catch(() => undefined);
  if (!json && calibration && flags.has('calibrate')) process.stderr.write(`LeanAttention grid ${calibration.grid}\n`);
  const request = flags.has('chat') ? { messages: [{ role: 'user' as const, content: prompt }] } : { prompt };
  const steps: { step: number; contextLength: number; stepMs?: number; attentionMs?: number[] }[] = [];
  let result: { promptIds: number[]; lastPromptLogits?: Float32Array; generatedIds: number[]; text: string; reason: string } | undefined;
  let promptIds: number[] = [];
  let lastPromptLogits: Float32Array | undefined;
  let prefillMs = 0;
  const events: AsyncIterable<GenerationEvent> = engine.generate({
    ...request,
    maxTokens: flagNumber(flags, 'max-tokens') ?? 256,
    sampling,
    captureLogits: json,
  });
  for await (const event of events) {
    if (event.kind === 'prompt') {
      promptIds = event.promptIds;
      lastPromptLogits = event.lastPromptLogits;
      prefillMs = event.prefillMs;
    } else if (event.kind === 'token') {
      if (!json) process.stdout.write(event.text);
      steps.push({ step: event.stats.step, contextLength: event.stats.contextLength, stepMs: event.stats.timing?.stepMs, attentionMs: event.stats.timing?.attentionMs });
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
