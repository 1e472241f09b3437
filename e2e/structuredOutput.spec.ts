import Ajv from 'ajv';
import { expect, test } from '@playwright/test';

/*
 * Structured output in the browser: XGrammar (a UMD bundle with its WebAssembly inlined, evaluated by
 * engine/grammar/xgrammar.ts) loads in the engine's module Worker under the Vite dev server, and the worker's OpenAI
 * interface answers a response_format request from the built-in model with JSON that validates. The page drives a
 * worker of its own through the app's worker client, as the app does.
 */

const SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 16 }, summary: { type: 'string', maxLength: 32 } },
  required: ['name', 'summary'],
  additionalProperties: false,
};

test('the engine worker answers response_format json_schema with JSON that validates', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/favicon.svg');
  // A string, so that the page's module imports reach the browser as they are written.
  const answers = (await page.evaluate(`(async () => {
    const { startEngineWorker, Comlink } = await import('/app/engineClient.ts');
    const { workerChatClient } = await import('/app/workerChatClient.ts');
    const { remote, terminate } = startEngineWorker((message) => { throw new Error(message); });
    try {
      const loaded = await remote.load({ kind: 'builtin' }, { kvDtype: 'f16', attention: 'lean' }, Comlink.proxy(() => {}));
      if (!loaded.ok) throw new Error(loaded.error.message);
      const openai = workerChatClient(remote);
      const [model] = (await openai.models.list()).data;
      const request = {
        model: model.id,
        messages: [{ role: 'user', content: 'What does str.split do?' }],
        temperature: 0,
        max_tokens: 64,
        response_format: { type: 'json_schema', json_schema: { name: 'doc', schema: ${JSON.stringify(SCHEMA)}, strict: true } },
      };
      const completion = await openai.chat.completions.create(request);
      let invalid;
      try {
        await openai.chat.completions.create({ ...request, response_format: { type: 'json_schema', json_schema: { name: 'bad', schema: { type: 'frobnicate' } } } });
      } catch (error) {
        invalid = { status: error.status, code: error.code, message: error.message };
      }
      return { content: completion.choices[0].message.content, finish: completion.choices[0].finish_reason, invalid };
    } finally {
      terminate();
    }
  })()`)) as { content: string; finish: string; invalid: { status: number; code: string; message: string } };
  expect(answers.finish).toBe('stop');
  const validate = new Ajv().compile(SCHEMA);
  expect(validate(JSON.parse(answers.content)), answers.content).toBe(true);
  expect(answers.invalid).toMatchObject({ status: 400, code: 'invalid_json_schema' });
  expect(answers.invalid.message).toMatch(/Unsupported type "frobnicate"/);
  expect(errors).toEqual([]);
});
