// The engine against the Hugging Face float64 references, on whatever adapter Dawn finds: the unit tests' checks
// (test/referenceChecks.ts) for every reference model of a folder, every attention kernel and KV dtype, so that the
// kernels specialized for a GPU are checked end to end where they run.
//   node dist-node/checkModels.mjs [--models DIR] [--toggles enable-dawn-features=...]
// prints one line per check and ends "N passed, N failed" (exit code 1 if any failed). DIR (default: ../shared/models
// beside the repository) holds a folder per model with its reference.json; a folder holding only reference.json is
// checked against the model of the same name in public/models (pydoc-chat-6m, whose weights travel with the tree).
// scripts/pack-gpu-models.sh packs what a GPU machine needs into .gpu/models.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeGpuContext } from '../kernels/gpu/node.ts';
import type { Engine, LoadOptions, ModelInfo } from '../engine/engine.ts';
import { ATTENTION_KERNELS } from '../kernels/attention/plan.ts';
import { exitAfterFlush } from '../cli/exit.ts';
import { parseCommandLine, UsageError, type CommandSpec, type FlagTable } from '../cli/flags.ts';
import { caseLabel, checkCase, checkTokenizer, kernelLoad, KV_CHECKS, ReferenceMismatch, TOKENIZER_LOAD, withReferenceEngine } from '../test/referenceChecks.ts';
import { readReferenceModel, type ReferenceModel } from '../test/sharedModels.ts';
import { CheckTally } from './checkTally.ts';

// Resolved here, in the entry module, which stays at the top of dist-node/ once built (a shared chunk lands in
// dist-node/assets/): bench/ and dist-node/ are both one folder below the repository root.
const PUBLIC_MODELS = fileURLToPath(new URL('../public/models', import.meta.url));
const SHARED_MODELS = fileURLToPath(new URL('../../shared/models', import.meta.url));

const FLAGS = {
  models: { type: 'text', placeholder: 'DIR', default: SHARED_MODELS, help: 'a folder of reference models (a folder each, with its reference.json)' },
  toggles: { type: 'text', placeholder: 'TOGGLES', help: 'Dawn instance toggles, e.g. enable-dawn-features=skip_validation (diagnosis only)' },
} as const satisfies FlagTable;

const COMMAND: CommandSpec<typeof FLAGS> = {
  name: 'checkModels',
  summary: 'the engine against the Hugging Face references on this GPU',
  synopsis: 'node dist-node/checkModels.mjs [--models DIR] [--toggles TOGGLES]',
  description: 'Runs every reference model of DIR with every attention kernel and KV dtype; one line per check, then "N passed, N failed".',
  flags: FLAGS,
};

const HELP_ROWS = [
  ['--models DIR', `${FLAGS.models.help} (default ${SHARED_MODELS})`],
  ['--toggles TOGGLES', FLAGS.toggles.help],
  ['-h, --help', 'this text'],
];
const HELP = `usage: ${COMMAND.synopsis}\n\n${COMMAND.description}\n\nflags:\n${HELP_ROWS.map(([usage, help]) => `  ${usage.padEnd(20)}${help}`).join('\n')}`;

/** A folder with a reference.json: its model to check, or why it cannot be checked. */
type Found = { name: string; model: ReferenceModel } | { name: string; problem: string };

/** The folders of `directory` with a reference.json, each paired with its model folder (its own, else public/models). */
function findReferenceModels(directory: string): Found[] {
  if (!existsSync(directory)) {
    throw new UsageError(`no folder ${directory}: --models DIR names the folder of reference models (default: ../shared/models beside the repository)`, COMMAND.name);
  }
  const names = readdirSync(directory, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(directory, entry.name, 'reference.json')))
    .map((entry) => entry.name)
    .sort();
  if (names.length === 0) throw new UsageError(`--models: ${directory} holds no reference model (a folder with a reference.json)`, COMMAND.name);
  return names.map((name) => {
    const own = join(directory, name);
    const shipped = join(PUBLIC_MODELS, name);
    const modelDirectory = [own, shipped].find((folder) => existsSync(join(folder, 'config.json')));
    if (!modelDirectory) return { name, problem: `no model files: neither ${own} nor ${shipped} has a config.json` };
    return { name, model: readReferenceModel(own, modelDirectory) };
  });
}

function describeError(error: unknown): string {
  if (error instanceof ReferenceMismatch) return error.message;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function main(): Promise<number> {
  const parsed = parseCommandLine(COMMAND, process.argv.slice(2));
  if (parsed.help) {
    console.log(HELP);
    return 0;
  }
  const toggles = parsed.flags.toggles === undefined ? [] : [parsed.flags.toggles];
  const found = findReferenceModels(parsed.flags.models);
  const context = await createNodeGpuContext(toggles);
  console.log(`adapter: ${context.adapter.description}; subgroups ${context.features.subgroupMinSize}–${context.features.subgroupMaxSize}`);
  if (toggles.length) console.log(`DIAGNOSTIC RUN with Dawn toggles ${toggles.join(' ')}: not what Chrome runs`);

  const tally = new CheckTally();
  const report = tally.report.bind(tally);
  /** One check: a mismatch, or any other error, is a failed line and the run goes on. */
  const check = async (name: string, run: () => string | Promise<string>) => {
    try {
      report(name, true, await run());
    } catch (error) {
      report(name, false, describeError(error));
    }
  };
  /** The checks of one loaded configuration; a failure to load or unload is one failed line. */
  const configuration = async (name: string, model: ReferenceModel, options: LoadOptions, checks: (engine: Engine, info: ModelInfo) => Promise<void>) => {
    try {
      await withReferenceEngine(context, model, options, checks);
    } catch (error) {
      report(name, false, `could not run: ${describeError(error)}`);
    }
  };

  const started = performance.now();
  for (const entry of found) {
    const name = entry.name;
    if ('problem' in entry) {
      report(name, false, entry.problem);
      continue;
    }
    const model = entry.model;
    console.log(`${name}: ${model.cases.length} cases, model files from ${model.directory}`);
    await configuration(`${name} tokenizer`, model, TOKENIZER_LOAD, async (engine) => {
      for (const [index, testCase] of model.cases.entries()) {
        await check(`${name} tokenizer, ${caseLabel(testCase, index)}`, () => checkTokenizer(engine, testCase));
      }
    });
    for (const kv of KV_CHECKS) {
      for (const kernel of ATTENTION_KERNELS) {
        const label = `${name} ${kv.kvDtype} KV ${kernel}`;
        await configuration(label, model, kernelLoad(kv, kernel), async (engine, info) => {
          console.log(`${label}: ${info.attentionVariant}`);
          for (const [index, testCase] of model.cases.entries()) {
            await check(`${label}, ${caseLabel(testCase, index)}`, () => checkCase(engine, testCase, kv));
          }
        });
      }
    }
  }
  console.log(`${found.length} models in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return tally.finish();
}

main().then(
  (code) => exitAfterFlush(code),
  (error) => {
    if (error instanceof UsageError) {
      console.error(`checkModels: ${error.message} (--help lists the flags)`);
      return exitAfterFlush(2);
    }
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    return exitAfterFlush(1);
  },
);
