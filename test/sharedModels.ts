import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
  directory: string;
  cases: ReferenceCase[];
}



export function referenceModel(name: string): ReferenceModel {
  const directory = join(SHARED_MODELS, name);
  const file = join(directory, 'reference.json');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: the engine tests need ../shared/models beside the repository`);
  }
  const reference = JSON.parse(readFileSync(file, 'utf8')) as { cases: ReferenceCase[] };
  return { name, directory, cases: reference.cases };
}
