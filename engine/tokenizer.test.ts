import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { blobModelFiles } from './loader/blobFiles.ts';
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

describe('chat templates', () => {
  /** tiny-llama's tokenizer files, with `files` added or replacing them. */
  function tokenizerFolder(files: Record<string, string>) {
    const directory = referenceModel('tiny-llama').directory;
    const folder = new Map<string, Blob>(['tokenizer.json', 'tokenizer_config.json'].map((path) => [path, new Blob([readFileSync(join(directory, path))])]));
    for (const [path, contents] of Object.entries(files)) folder.set(path, new Blob([contents]));
    return blobModelFiles('the model', folder);
  }

  async function loadError(files: Record<string, string>): Promise<{ code?: string; message: string }> {
    return TextCodec.load(tokenizerFolder(files)).then(
      () => ({ message: 'loaded' }),
      (error: { code?: string; message: string }) => error,
    );
  }

  it.each([
    ['chat_template.jinja', { 'chat_template.jinja': '{% for message in messages %}{{ message' }],
    ['tokenizer_config.json', { 'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>', chat_template: '{% if %}' }) }],
  ])('a template that is not Jinja is an error naming %s', async (file, files) => {
    const error = await loadError(files);
    expect(error.code).toBe('invalid-tokenizer');
    expect(error.message).toMatch(new RegExp(`^${file.replace('.', '\\.')}: the chat template is not a valid Jinja template`));
  });

  it('a template that fails while rendering is an error naming its file', async () => {
    const codec = await TextCodec.load(tokenizerFolder({ 'chat_template.jinja': '{{ messages[0].content.nothing() }}' }));
    let error: { code?: string; message: string } | undefined;
    try {
      codec.applyChatTemplate([{ role: 'user', content: 'hi' }]);
    } catch (caught) {
      error = caught as { code?: string; message: string };
    }
    expect(error?.code).toBe('invalid-tokenizer');
    expect(error?.message).toMatch(/^chat_template\.jinja: the chat template failed/);
  });
});
