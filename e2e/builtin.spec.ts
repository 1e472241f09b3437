import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { openApp, send, setGreedy, waitForDone } from './helpers.ts';

const PYDOC = join(process.cwd(), '..', 'shared', 'models', 'pydoc-chat-6m');
const cases = (JSON.parse(readFileSync(join(PYDOC, 'reference.json'), 'utf8')) as { cases: { prompt: string; greedy_text: string; messages?: { content: string }[] }[] }).cases;
const EOS = '<|im_end|>';

/** The reference's greedy text up to EOS, as the app shows it (OpenAI's answers leave the end-of-sequence token out). */
const upToEos = (text: string) => (text.includes(EOS) ? text.slice(0, text.indexOf(EOS)) : text);

test('the built-in model loads with no request outside the app and answers like the reference', async ({ page, baseURL }) => {
  const outside: string[] = [];
  page.on('request', (request) => {
    if (!request.url().startsWith(baseURL!) && !request.url().startsWith('data:') && !request.url().startsWith('blob:')) outside.push(request.url());
  });
  // A first load logs no error: the page asks only for what exists (a missing favicon was a 404 here).
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`${message.text()} (${message.location().url})`);
  });
  await openApp(page);
  await expect(page.getByTestId('model-info')).toContainText('pydoc-chat-6m (built in)');
  await expect(page.getByTestId('model-info')).toContainText(/within a KV budget of [\d.]+ [MG]iB from the adapter's limits/);
  await expect(page.getByTestId('empty-state')).toContainText('documentation model, not a general assistant');

  const json = cases.find((c) => c.messages?.[0].content === 'What does json.dumps do?')!;
  await setGreedy(page, 48, false);
  await send(page, 'What does json.dumps do?');
  await waitForDone(page);
  expect(await page.getByTestId('message-assistant').locator('.content').textContent()).toBe(upToEos(json.greedy_text));
  await page.screenshot({ path: 'test-results/screenshots/builtin-answer.png', fullPage: true });

  // A second question reuses the first turn's KV: only the new tokens are prefilled.
  await send(page, 'What does str.split do?');
  await waitForDone(page);
  const stats = await page.getByTestId('prefill-stats').textContent();
  const [, total, reused] = /prompt (\d+) tokens: (\d+) reused/.exec(stats!)!.map(Number);
  expect(reused).toBeGreaterThan(10);
  expect(total - reused).toBeLessThan(20);
  expect(outside).toEqual([]);
  expect(consoleErrors).toEqual([]);
});

test('"Hello" gives the reference answer and stops at <|im_end|>', async ({ page }) => {
  const hello = cases.find((c) => c.messages?.[0].content === 'Hello')!;
  await openApp(page);
  await setGreedy(page, 48, false);
  await send(page, 'Hello');
  await waitForDone(page);
  expect(await page.getByTestId('message-assistant').locator('.content').textContent()).toBe(upToEos(hello.greedy_text));
  if (hello.greedy_text.includes(EOS)) await expect(page.getByTestId('stop-reason')).toHaveText('stopped: stop');
});

test('a folder with a truncated model.safetensors shows the loader error, then a good model loads', async ({ page }) => {
  const folder = join(mkdtempSync(join(tmpdir(), 'lean-decode-bad-')), 'truncated-model');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(folder);
  for (const file of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(join(PYDOC, file), join(folder, file));
  writeFileSync(join(folder, 'model.safetensors'), readFileSync(join(PYDOC, 'model.safetensors')).subarray(0, 4_000_000));
  await openApp(page);
  await page.getByTestId('model-select').selectOption('folder');
  await page.getByTestId('folder-input').setInputFiles(folder);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('load-error')).toContainText('model.safetensors: tensor');
  await expect(page.getByTestId('load-error')).toContainText('the file is truncated');
  await page.screenshot({ path: 'test-results/screenshots/truncated-error.png', fullPage: true });
  await page.getByTestId('model-select').selectOption('builtin');
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-info')).toContainText('pydoc-chat-6m (built in)', { timeout: 120_000 });
});
