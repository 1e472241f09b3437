import { describe, expect, it } from 'vitest';
import { nodeModelFiles } from './loader/nodeFiles.ts';
import { StreamingDecoder, TextCodec } from './tokenizer.ts';
import { referenceModel } from '../test/sharedModels.ts';

describe('StreamingDecoder', () => {
  it.each(['tiny-llama', 'tiny-qwen2-f16', 'pydoc-chat-6m'])('%s: pieces add up to the full decode and never end in half a character', async (name) => {
    const model = referenceModel(name);
    const codec = await TextCodec.load(nodeModelFiles(model.directory));
    for (const testCase of model.cases) {
      const decoder = new StreamingDecoder(codec);
      const pieces = testCase.greedy_ids.map((id) => decoder.push(id));
      for (const piece of pieces) expect(piece.endsWith('\uFFFD')).toBe(false);
      expect(pieces.join('') + decoder.flush()).toBe(testCase.greedy_text);
    }
  });

  it('holds back the bytes of a character split across tokens until it is whole', async () => {
    const codec = await TextCodec.load(nodeModelFiles(referenceModel('tiny-llama').directory));
    // Byte-level BPE with a 512-token vocabulary: "€" (three UTF-8 bytes) is several tokens.
    const ids = codec.encode('€');
    expect(ids.length).toBeGreaterThan(1);
    const decoder = new StreamingDecoder(codec);
    const pieces = ids.map((id) => decoder.push(id));
    expect(pieces.slice(0, -1).every((piece) => piece === '')).toBe(true);
    expect(pieces.at(-1)).toBe('€');
  });
});
