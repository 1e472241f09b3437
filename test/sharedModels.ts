import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChatMessage } from '../engine/tokenizer.ts';

/** `../shared/models` beside the repository: the Hugging Face reference models the engine is checked against. */
export const SHARED_MODELS = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/models');

export interface ReferenceCase {
  prompt: string;
  prompt_ids: number[];
  messages?: ChatMessage[];
  last_logits: number[];
  greedy_ids: number[];
  greedy_text: string;
  greedy_top1_margins: number[];
}

export interface ReferenceModel {
  name: string;
  /** The model folder the engine loads (config, tokenizer, weights). */
  directory: string;
  cases: ReferenceCase[];
}

export function referenceModel(name: string): ReferenceModel {
  const file = join(SHARED_MODELS, name, 'reference.json');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: the engine tests need ../shared/models beside the repository`);
  }
  return readReferenceModel(join(SHARED_MODELS, name));
}

/**
 * The cases of `referenceDirectory/reference.json`, checked against the model in `modelDirectory`: by default the
 * same folder; another where only the reference travelled and the weights are elsewhere (public/models).
 */
export function readReferenceModel(referenceDirectory: string, modelDirectory = referenceDirectory): ReferenceModel {
  const reference = JSON.parse(readFileSync(join(referenceDirectory, 'reference.json'), 'utf8')) as { cases: ReferenceCase[] };
  return { name: basename(referenceDirectory), directory: modelDirectory, cases: reference.cases };
}
