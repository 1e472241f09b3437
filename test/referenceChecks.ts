// The engine against a Hugging Face float64 reference model, shared by the unit tests (referenceSuite.ts, on the CI
// adapter, with ../shared/models) and by bench/checkModels.ts (the same checks on whatever GPU runs them). Each check
// returns what it measured and throws a ReferenceMismatch that says what differed.
import type { GpuContext } from '../kernels/gpu/context.ts';
import { Engine, type GenerationEvent, type LoadOptions, type ModelInfo } from '../engine/engine.ts';
import { nodeModelFiles } from '../engine/loader/nodeFiles.ts';
import type { KvDtype } from '../kernels/attention/pagedKv.ts';
import type { AttentionKernel } from '../kernels/attention/plan.ts';
import { relativeError } from './pagedKvFixture.ts';
import type { ReferenceCase, ReferenceModel } from './sharedModels.ts';

/** The engine's output differs from the reference: the message says where and by how much. */
export class ReferenceMismatch extends Error {
  override name = 'ReferenceMismatch';
}

export interface KvCheck {
  kvDtype: KvDtype;
  /** Bound on the relative error (L2) of the logits after the last prompt token. */
  logitsTolerance: number;
  /** Every greedy id equal to the reference's; otherwise a step may differ where the reference's top-1 is a tie. */
  exact: boolean;
}

export const KV_CHECKS: readonly KvCheck[] = [
  { kvDtype: 'f32', logitsTolerance: 1e-4, exact: true },
  { kvDtype: 'f16', logitsTolerance: 5e-3, exact: false },
];

/** A greedy step whose reference top-1 minus top-2 logit is under this is a tie: another token is not a bug. */
export const TIE_MARGIN = 0.02;

/** How the tokenizer check loads the model (no attention runs). */
export const TOKENIZER_LOAD: LoadOptions = { kvDtype: 'f32', maxContext: 256 };

/** How a kernel check loads the model: a prefill chunk of 8 splits the longer prompts into several chunks. */
export function kernelLoad(kv: KvCheck, kernel: AttentionKernel): LoadOptions {
  return { kvDtype: kv.kvDtype, attention: kernel, maxContext: 256, prefillChunk: 8, grid: 5 };
}

/** Runs `check` on a fresh engine with `model` loaded, and unloads it whatever happens. */
export async function withReferenceEngine<T>(
  context: GpuContext,
  model: ReferenceModel,
  options: LoadOptions,
  check: (engine: Engine, info: ModelInfo) => Promise<T>,
): Promise<T> {
  const engine = new Engine(context);
  try {
    return await check(engine, await engine.load(nodeModelFiles(model.directory), options));
  } finally {
    engine.unload();
  }
}

/** `case 2 (chat "Hello")`: which case a line or a failure is about. */
export function caseLabel(testCase: ReferenceCase, index: number): string {
  const text = testCase.messages ? testCase.messages[testCase.messages.length - 1].content : testCase.prompt;
  const short = text.length > 32 ? `${text.slice(0, 32)}…` : text;
  return `case ${index + 1} (${testCase.messages ? 'chat' : 'raw'} ${JSON.stringify(short)})`;
}

/** The chat template (chat cases) gives the reference prompt, which encodes to the reference ids; the greedy ids decode to its text. */
export function checkTokenizer(engine: Engine, testCase: ReferenceCase): string {
  const text = testCase.messages ? engine.tokenizer.applyChatTemplate(testCase.messages) : testCase.prompt;
  if (text !== testCase.prompt) throw new ReferenceMismatch(`chat template output ${textDifference(text, testCase.prompt)}`);
  expectIds('prompt ids', engine.tokenizer.encode(text), testCase.prompt_ids);
  const decoded = engine.tokenizer.decode(testCase.greedy_ids);
  if (decoded !== testCase.greedy_text) throw new ReferenceMismatch(`the text decoded from the greedy ids ${textDifference(decoded, testCase.greedy_text)}`);
  return `${testCase.prompt_ids.length} prompt ids and ${testCase.greedy_ids.length} greedy ids round-trip`;
}

/**
 * Prompt ids, the logits after the last prompt token within the KV dtype's tolerance, then the greedy ids; through
 * `attention` where given, else the kernel the engine was loaded with.
 */
export async function checkCase(engine: Engine, testCase: ReferenceCase, kv: KvCheck, attention?: AttentionKernel): Promise<string> {
  const messages = testCase.messages;
  const { lastPromptLogits, promptIds } = await collect(
    engine.generate({ ...(messages ? { messages } : { prompt: testCase.prompt }), maxTokens: 1, captureLogits: true, attention }),
  );
  expectIds('prompt ids', promptIds, testCase.prompt_ids);
  if (!lastPromptLogits) throw new ReferenceMismatch('the engine returned no logits for the last prompt token');
  const error = relativeError(lastPromptLogits, testCase.last_logits);
  // Written so that a NaN error fails.
  if (!(error < kv.logitsTolerance)) {
    throw new ReferenceMismatch(`last prompt logits: relative error ${error.toExponential(2)}, over the ${kv.kvDtype} KV tolerance ${kv.logitsTolerance}`);
  }
  const ties = await checkGreedy(engine, testCase, kv.exact, attention);
  const tieNote = ties.length ? `, ties taken at steps ${ties.join(', ')}` : '';
  return `logits relative error ${error.toExponential(2)} (< ${kv.logitsTolerance}), ${testCase.greedy_ids.length} greedy ids${tieNote}`;
}

/**
 * Greedy ids against the reference. Unless `exact`, a step may pick another token only where the reference's top-1
 * margin is under TIE_MARGIN (a tie, not a bug); generation then continues from the reference token. Returns the
 * steps where that happened.
 */
async function checkGreedy(engine: Engine, testCase: ReferenceCase, exact: boolean, attention: AttentionKernel | undefined): Promise<number[]> {
  const reference = testCase.greedy_ids;
  const ties: number[] = [];
  let matched = 0;
  const conversation = engine.newConversation();
  try {
    while (matched < reference.length) {
      const { generatedIds } = await collect(
        engine.generate({
          promptIds: [...testCase.prompt_ids, ...reference.slice(0, matched)],
          maxTokens: reference.length - matched,
          ignoreEos: true,
          conversation,
          attention,
        }),
      );
      let i = 0;
      while (i < generatedIds.length && generatedIds[i] === reference[matched + i]) i++;
      matched += i;
      if (matched === reference.length) break;
      const margin = testCase.greedy_top1_margins[matched];
      if (exact || margin >= TIE_MARGIN) {
        const got = i < generatedIds.length ? generatedIds[i] : `nothing (generation stopped after ${generatedIds.length} ids)`;
        throw new ReferenceMismatch(`greedy step ${matched}: got ${got}, reference ${reference[matched]} (top-1 margin ${margin.toFixed(4)})`);
      }
      ties.push(matched);
      matched += 1;
    }
  } finally {
    engine.endConversation(conversation);
  }
  return ties;
}

async function collect(events: AsyncIterable<GenerationEvent>) {
  let lastPromptLogits: Float32Array | undefined;
  let promptIds: number[] = [];
  let generatedIds: number[] = [];
  for await (const event of events) {
    if (event.kind === 'prompt') {
      lastPromptLogits = event.lastPromptLogits;
      promptIds = event.promptIds;
    } else if (event.kind === 'done') {
      generatedIds = event.generatedIds;
    }
  }
  return { lastPromptLogits, promptIds, generatedIds };
}

function expectIds(what: string, actual: readonly number[], expected: readonly number[]): void {
  const at = firstDifference(actual, expected);
  if (at === undefined) return;
  const around = (ids: readonly number[]) => `[${ids.slice(Math.max(0, at - 2), at + 3).join(', ')}]`;
  throw new ReferenceMismatch(
    `${what} differ at index ${at}: got ${actual.length} ids, ${around(actual)} there; reference ${expected.length} ids, ${around(expected)}`,
  );
}

function textDifference(actual: string, expected: string): string {
  const at = firstDifference([...actual], [...expected]) ?? 0;
  const around = (text: string) => JSON.stringify([...text].slice(Math.max(0, at - 10), at + 20).join(''));
  return `differs from the reference at character ${at}: got ${around(actual)}, reference ${around(expected)}`;
}

function firstDifference<T>(actual: readonly T[], expected: readonly T[]): number | undefined {
  const length = Math.min(actual.length, expected.length);
  for (let i = 0; i < length; i++) if (actual[i] !== expected[i]) return i;
  return actual.length === expected.length ? undefined : length;
}
