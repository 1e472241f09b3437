import { describe, expect, it } from 'vitest';
import { makeTinyModelBytes, shardModel, withHeader } from '../../test/tinyModel.ts';
import { blobModelFiles } from './blobFiles.ts';
import { bytesSource } from './byteSource.ts';
import { readJson, readTensorIndex } from './modelFiles.ts';

const SPEC = { hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 8, vocabSize: 512, dtype: 'F32' as const };
const SHARD_1 = 'model-00001-of-00002.safetensors';
const SHARD_2 = 'model-00002-of-00002.safetensors';

function folder(change: (files: Map<string, Uint8Array>) => void, sharded = true) {
  const files = sharded ? shardModel(makeTinyModelBytes(SPEC), 2) : makeTinyModelBytes(SPEC);
  change(files);
  return blobModelFiles('the model', new Map([...files].map(([path, bytes]) => [path, new Blob([bytes as Uint8Array<ArrayBuffer>])])));
}

const text = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

function index(files: Map<string, Uint8Array>): { weight_map: Record<string, unknown> } {
  return JSON.parse(new TextDecoder().decode(files.get('model.safetensors.index.json')));
}

function withWeightMap(change: (weightMap: Record<string, unknown>) => void) {
  return folder((files) => {
    const json = index(files);
    change(json.weight_map);
    files.set('model.safetensors.index.json', text(json));
  });
}

async function failure(work: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return work.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: { code?: string; message: string }) => error,
  );
}

describe('model folder files', () => {
  it('reads a sharded model through its index', async () => {
    const tensors = await readTensorIndex(folder(() => {}));
    expect(tensors.get('model.embed_tokens.weight')?.file.name).toBe(SHARD_1);
    expect(tensors.get('lm_head.weight')?.file.name).toBe(SHARD_2);
  });

  it.each([
    ['config.json', '[1, 2]', 'invalid-config', /^config\.json in the model holds an array, not a JSON object/],
    ['config.json', '7', 'invalid-config', /^config\.json in the model holds a number, not a JSON object/],
    ['tokenizer.json', '{"model": ', 'invalid-tokenizer', /^tokenizer\.json in the model is not valid JSON/],
    ['tokenizer_config.json', 'null', 'invalid-tokenizer', /^tokenizer_config\.json in the model holds null/],
    ['model.safetensors.index.json', '"x"', 'invalid-safetensors', /^model\.safetensors\.index\.json in the model holds a string/],
  ])('%s holding %s is a %s error naming it', async (path, contents, code, message) => {
    const error = await failure(readJson(folder((files) => files.set(path, text(contents))), path));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it.each([
    ['an empty weight_map', (map: Record<string, unknown>) => Object.keys(map).forEach((k) => delete map[k]), /"weight_map" must be an object from tensor names to shard files/],
    ['a shard path that leaves the folder', (map: Record<string, unknown>) => (map['model.norm.weight'] = '../../secrets.safetensors'), /puts tensor "model\.norm\.weight" in "\.\.\/\.\.\/secrets\.safetensors", which is not a \.safetensors file of the model folder/],
    ['a shard name that is not a string', (map: Record<string, unknown>) => (map['model.norm.weight'] = 3), /puts tensor "model\.norm\.weight" in 3/],
    ['a tensor listed in the wrong shard', (map: Record<string, unknown>) => (map['model.norm.weight'] = SHARD_1), /puts tensor "model\.norm\.weight" in model-00001-of-00002\.safetensors, but it is in model-00002-of-00002\.safetensors/],
    ['a tensor no shard holds', (map: Record<string, unknown>) => (map['model.extra.weight'] = SHARD_1), /puts tensor "model\.extra\.weight" in model-00001-of-00002\.safetensors, but no shard holds it/],
  ])('rejects %s, naming the index', async (_, change, message) => {
    const error = await failure(readTensorIndex(withWeightMap(change)));
    expect(error.code).toBe('invalid-safetensors');
    expect(error.message).toMatch(/^model\.safetensors\.index\.json: /);
    expect(error.message).toMatch(message);
  });

  it('names the index when a shard it lists is missing', async () => {
    const error = await failure(readTensorIndex(folder((files) => files.delete(SHARD_2))));
    expect(error.code).toBe('missing-file');
    expect(error.message).toMatch(/^model\.safetensors\.index\.json lists model-00002-of-00002\.safetensors, which the model lacks/);
  });

  it('names both shards when a tensor is in two', async () => {
    const error = await failure(
      readTensorIndex(
        folder((files) => files.set(SHARD_1, withHeader({ 'model.norm.weight': { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, [new Uint8Array(4)]))),
      ),
    );
    expect(error.message).toMatch(/tensor "model\.norm\.weight" is in both model-00001-of-00002\.safetensors and model-00002-of-00002\.safetensors/);
  });

  it('rejects weights without a single tensor', async () => {
    const error = await failure(readTensorIndex(folder((files) => files.set('model.safetensors', withHeader({}, [])), false)));
    expect(error.code).toBe('invalid-safetensors');
    expect(error.message).toMatch(/^model\.safetensors: no tensors at all/);
  });

  it('never reads outside a file', async () => {
    const source = bytesSource('model.safetensors', new Uint8Array(10));
    await expect(source.read(8, 4)).rejects.toThrow(/^model\.safetensors: a read of 4 bytes at byte 8 falls outside the 10-byte file/);
    await expect(source.read(-1, 2)).rejects.toThrow(/falls outside/);
    await expect(source.read(0, Number.NaN)).rejects.toThrow(/falls outside/);
  });
});
