import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

/*
 * The README's worker example, run as written in a page of the dev server: the block goes into a module (under
 * test-results/, which the dev server serves and transpiles) that gives it what the README's text says it has — an
 * engine worker whose model is loaded (`remote.load(...)`), `messages`, `signal` and an `answer` to fill.
 */
test("the README's worker example streams an answer from the engine worker", async ({ page }) => {
  const readme = readFileSync('README.md', 'utf8');
  const example = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map(([, code]) => code).find((code) => code.includes('workerChatClient(Comlink.wrap'));
  expect(example, "README.md's worker example (a ts block with workerChatClient(Comlink.wrap...))").toBeDefined();
  mkdirSync('test-results/readme-examples', { recursive: true });
  writeFileSync(
    'test-results/readme-examples/worker.ts',
    `import * as Comlink from 'comlink';
import { workerChatClient } from '../../app/workerChatClient.ts';
import type { EngineWorkerApi } from '../../engine/worker.ts';

export async function run(): Promise<{ answer: string; steps: number }> {
  const worker = new Worker(new URL('../../engine/worker.ts', import.meta.url), { type: 'module' });
  const remote = Comlink.wrap<EngineWorkerApi>(worker);
  const loaded = await remote.load({ kind: 'builtin' }, { kvDtype: 'f16', attention: 'lean' }, Comlink.proxy(() => {}));
  if (!loaded.ok) throw new Error(loaded.error.message);
  const messages = [{ role: 'user' as const, content: 'What does json.dumps do?' }];
  const signal = new AbortController().signal;
  let answer = '';
  let steps = 0;
  {
${example}
    // The stream's last chunk carried the timings the example asked for.
    steps = (await openai.chat.completions.create({ model: model.id, messages, max_tokens: 4, lean_decode: { timings: true } })).lean_decode?.steps.length ?? 0;
  }
  worker.terminate();
  return { answer, steps };
}
`,
  );
  await page.goto('/');
  const result = await page.evaluate(async (url) => {
    const module = (await import(/* @vite-ignore */ url)) as { run: () => Promise<{ answer: string; steps: number }> };
    return module.run();
  }, '/test-results/readme-examples/worker.ts');
  expect(result.answer.length, 'the streamed answer').toBeGreaterThan(0);
  expect(result.steps, 'per-step timings of a four-token answer').toBe(3);
});
