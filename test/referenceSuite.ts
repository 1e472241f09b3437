import { afterAll, describe, it } from 'vitest';
import { testGpu } from './gpu.ts';
import { referenceModel, type ReferenceCase, type ReferenceModel } from './sharedModels.ts';
import { caseLabel, checkCase, checkTokenizer, kernelLoad, KV_CHECKS, ReferenceMismatch, withReferenceEngine, type KvCheck } from './referenceChecks.ts';
import { Engine } from '../engine/engine.ts';
import { nodeModelFiles } from '../engine/loader/nodeFiles.ts';
import { ATTENTION_KERNELS } from '../kernels/attention/plan.ts';

/**
 * The engine against a Hugging Face reference model of ../shared/models: prompt ids, last prompt logits and greedy ids,
 * for every attention kernel, with f32 and f16 KV (the checks and their tolerances: referenceChecks.ts). With
 * `separateRopeKv`, also with decode's rotary embedding and KV write in a dispatch of their own (the path of adapters
 * with few storage buffers per stage), under LeanAttention.
 */
export function describeReferenceModel(name: string, options: { separateRopeKv?: boolean } = {}): void {
  describe(`${name} against Hugging Face float64`, () => {
    const model = referenceModel(name);

    // One load per KV dtype, on first use: the attention kernels share their pipelines and differ in the plan, which
    // each request picks.
    const engines = new Map<KvCheck, Promise<Engine>>();
    const engineFor = (kv: KvCheck): Promise<Engine> => {
      if (!engines.has(kv)) engines.set(kv, testGpu().then(async (context) => {
        const engine = new Engine(context);
        await engine.load(nodeModelFiles(model.directory), kernelLoad(kv, 'lean'));
        return engine;
      }));
      return engines.get(kv)!;
    };
    afterAll(async () => {
      for (const loading of engines.values()) (await loading.catch(() => undefined))?.unload();
    });

    it('tokenizes every prompt (chat cases through the chat template) to the reference ids', async () => {
      const engine = await engineFor(KV_CHECKS[0]);
      await everyCase(model, async (testCase) => checkTokenizer(engine, testCase));
    });

    describe.each([...KV_CHECKS])('$kvDtype KV', (kv) => {
      it.each(ATTENTION_KERNELS)('%s attention: last prompt logits and greedy ids match', async (kernel) => {
        const engine = await engineFor(kv);
        await everyCase(model, (testCase) => checkCase(engine, testCase, kv, kernel));
      });
    });

    if (options.separateRopeKv) {
      describe.each([...KV_CHECKS])('$kvDtype KV, decode rotating q/k and writing the KV after the q/k/v GEMV', (kv) => {
        it('lean attention: last prompt logits and greedy ids match', async () => {
          await withReferenceEngine(await testGpu(), model, { ...kernelLoad(kv, 'lean'), separateRopeKv: true }, async (engine) => {
            await everyCase(model, (testCase) => checkCase(engine, testCase, kv));
          });
        });
      });
    }
  });
}

/** Runs `check` on each case in turn; the first mismatch fails the test, naming its case. */
async function everyCase(model: ReferenceModel, check: (testCase: ReferenceCase) => Promise<string>): Promise<void> {
  for (const [index, testCase] of model.cases.entries()) {
    try {
      await check(testCase);
    } catch (error) {
      if (error instanceof ReferenceMismatch) throw new ReferenceMismatch(`${caseLabel(testCase, index)}: ${error.message}`);
      throw error;
    }
  }
}
