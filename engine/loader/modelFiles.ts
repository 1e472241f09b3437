import { EngineError, type EngineErrorCode } from '../../errors/engineError.ts';
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

/** The code for a file that cannot be used: the tokenizer's files, the weights' index, the model's config. */
function errorCodeFor(path: string): EngineErrorCode {
  if (path.startsWith('tokenizer')) return 'invalid-tokenizer';
  if (path.endsWith('.index.json')) return 'invalid-safetensors';
  return 'invalid-config';
}

/** A JSON file that must hold an object (config.json, tokenizer.json, ...). */
export async function readJson(files: ModelFiles, path: string): Promise<Record<string, unknown>> {
  const text = await files.text(path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new EngineError(
      errorCodeFor(path),
      `${path} in ${files.description} is not valid JSON (${(cause as Error).message}): the file is damaged or incomplete; download it again`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const found = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
    throw new EngineError(errorCodeFor(path), `${path} in ${files.description} holds ${found}, not a JSON object: the file is damaged; download it again`);
  }
  return value as Record<string, unknown>;
}

export async function readOptionalJson(files: ModelFiles, path: string): Promise<Record<string, unknown> | undefined> {
  return (await files.exists(path)) ? readJson(files, path) : undefined;
}

const INDEX = 'model.safetensors.index.json';
/** A shard as the index names it: a .safetensors file in the model folder itself, never a path out of it. */
const SHARD_NAME = /^[\w.-]+\.safetensors$/;

function invalidIndex(message: string): EngineError {
  return new EngineError('invalid-safetensors', `${INDEX}: ${message}`);
}

/** The index's tensor → shard map, every shard name checked before any file is opened. */
async function readWeightMap(files: ModelFiles): Promise<Map<string, string>> {
  const weightMap = (await readJson(files, INDEX)).weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap) || Object.keys(weightMap).length === 0) {
    throw invalidIndex(`"weight_map" must be an object from tensor names to shard files (found ${JSON.stringify(weightMap)}): download the index again`);
  }
  const shardOf = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || !SHARD_NAME.test(shard)) {
      throw invalidIndex(`"weight_map" puts tensor "${tensor}" in ${JSON.stringify(shard)}, which is not a .safetensors file of the model folder: download the index again`);
    }
    shardOf.set(tensor, shard);
  }
  for (const shard of new Set(shardOf.values())) {
    if (!(await files.exists(shard))) {
      throw new EngineError('missing-file', `${INDEX} lists ${shard}, which ${files.description} lacks: download every shard the index names`);
    }
  }
  return shardOf;
}

/** All tensors of the model: one `model.safetensors`, or the shards that `model.safetensors.index.json` lists. */
export async function readTensorIndex(files: ModelFiles): Promise<Map<string, TensorInfo>> {
  let shardOf: Map<string, string> | undefined;
  if (await files.exists(INDEX)) {
    shardOf = await readWeightMap(files);
  } else if (!(await files.exists('model.safetensors'))) {
    throw new EngineError(
      'missing-file',
      `${files.description} has no model.safetensors (or ${INDEX}): choose a folder with the model's weights`,
    );
  }
  const tensors = new Map<string, TensorInfo>();
  const shards = shardOf ? [...new Set(shardOf.values())] : ['model.safetensors'];
  for (const shard of shards) {
    for (const tensor of await readSafetensorsHeader(await files.bytes(shard))) {
      const earlier = tensors.get(tensor.name);
      if (earlier) {
        throw new EngineError('invalid-safetensors', `tensor "${tensor.name}" is in both ${earlier.file.name} and ${shard}: the shards overlap; download them again`);
      }
      tensors.set(tensor.name, tensor);
    }
  }
  if (tensors.size === 0) {
    throw new EngineError('invalid-safetensors', `${shards.join(', ')}: no tensors at all: the weights are damaged; download them again`);
  }
  for (const [tensor, shard] of shardOf ?? []) {
    const found = tensors.get(tensor)?.file.name;
    if (found !== shard) {
      throw invalidIndex(
        `"weight_map" puts tensor "${tensor}" in ${shard}, but ${found ? `it is in ${found}` : 'no shard holds it'}: the index and the shards do not match; download them again`,
      );
    }
  }
  return tensors;
}
