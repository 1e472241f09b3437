import { EngineError } from '../errors.ts';
import type { ByteSource } from './byteSource.ts';
import { readSafetensorsHeader, type TensorInfo } from './safetensors.ts';

/**
 * A Hugging Face model folder, wherever it is: a directory on disk, a folder the user picked, a URL base.
 * Paths are relative to the folder (`config.json`, `model.safetensors`, ...).
 */
export interface ModelFiles {
  /** Where the files come from, for messages. */
  description: string;
  exists(path: string): Promise<boolean>;
  text(path: string): Promise<string>;
  bytes(path: string): Promise<ByteSource>;
}

export async function readJson(files: ModelFiles, path: string): Promise<Record<string, unknown>> {
  const text = await files.text(path);
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new EngineError('invalid-config', `${path} in ${files.description} is not valid JSON (${(cause as Error).message})`);
  }
}

export async function readOptionalJson(files: ModelFiles, path: string): Promise<Record<string, unknown> | undefined> {
  return (await files.exists(path)) ? readJson(files, path) : undefined;
}

/** All tensors of the model: one `model.safetensors`, or the shards that `model.safetensors.index.json` lists. */
export async function readTensorIndex(files: ModelFiles): Promise<Map<string, TensorInfo>> {
  const tensors = new Map<string, TensorInfo>();
  let shardNames: string[];
  if (await files.exists('model.safetensors.index.json')) {
    const index = await readJson(files, 'model.safetensors.index.json');
    const weightMap = index.weight_map as Record<string, string> | undefined;
    if (!weightMap || typeof weightMap !== 'object') {
      throw new EngineError('invalid-safetensors', 'model.safetensors.index.json has no weight_map');
    }
    shardNames = [...new Set(Object.values(weightMap))];
  } else if (await files.exists('model.safetensors')) {
    shardNames = ['model.safetensors'];
  } else {
    throw new EngineError(
      'missing-file',
      `${files.description} has no model.safetensors (or model.safetensors.index.json): choose a folder with the model's weights`,
    );
  }
  for (const shard of shardNames) {
    for (const tensor of await readSafetensorsHeader(await files.bytes(shard))) {
      if (tensors.has(tensor.name)) {
        throw new EngineError('invalid-safetensors', `tensor "${tensor.name}" appears in more than one shard`);
      }
      tensors.set(tensor.name, tensor);
    }
  }
  return tensors;
}
