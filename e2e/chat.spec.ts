import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { expect, test } from '@playwright/test';
import { openApp, loadServerModel, send, setGreedy, waitForDone } from './helpers.ts';

const SHARED_MODELS = join(process.cwd(), '..', 'shared', 'models');
const reference = (name: string) => JSON.parse(readFileSync(join(SHARED_MODELS, name, 'reference.json'), 'utf8')) as { cases: { prompt: string; greedy_text: string; greedy_ids: number[]; messages?: unknown }[] };

test.describe('chat with the models of ../shared/models', () => {
  for (const name of ['tiny-llama', 'tiny-llama3-bf16', 'tiny-qwen2-f16', 'pydoc-chat-6m']) {
    test(`${name}: greedy streamed text equals the reference`, async ({ page }) => {
      const rawCase = reference(name).cases.find((c) => !c.messages)!;
      await openApp(page);
      await loadServerModel(page, name);
      await setGreedy(page, rawCase.greedy_ids.length, true);
      await send(page, rawCase.prompt);
      await waitForDone(page);
      await expect(page.getByTestId('message-assistant')).toHaveCount(1);
      expect(await page.getByTestId('message-assistant').locator('.content').textContent()).toBe(rawCase.greedy_text);
      await page.screenshot({ path: `test-results/screenshots/chat-${name}.png`, fullPage: true });
    });
  }
});

test('stop halts the stream', async ({ page }) => {
  await openApp(page);
  await setGreedy(page, 400, true);
  await send(page, 'The');
  await expect(page.getByTestId('stop')).toBeVisible();
  await expect(page.getByTestId('message-assistant').locator('.content')).toHaveText(/.{60}/s, { timeout: 120_000 });
  await page.screenshot({ path: 'test-results/screenshots/chat-streaming.png', fullPage: true });
  await page.getByTestId('stop').click();
  await waitForDone(page);
  await expect(page.getByTestId('stop-reason')).toHaveText('stopped: aborted');
  const text = await page.getByTestId('message-assistant').locator('.content').textContent();
  await page.waitForTimeout(1000);
  expect(await page.getByTestId('message-assistant').locator('.content').textContent()).toBe(text);
});

test('the conversation, an answer cut by the reload, the settings and the message being typed outlive a reload of the page', async ({ page }) => {
  await openApp(page);
  await page.getByTestId('attention-kernel').selectOption('fd');
  await page.getByTestId('system-prompt').fill('Answer in one line.');
  await setGreedy(page, 400, false);
  await send(page, 'What does str.split do?');
  const answer = page.getByTestId('message-assistant').locator('.content');
  await expect(answer).toHaveText(/.{20}/s, { timeout: 120_000 });
  await page.getByTestId('chat-input').fill('And str.join?');
  const seen = (await answer.textContent())!;
  await page.reload();
  await expect(page.getByTestId('model-info')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('max-tokens')).toHaveValue('400');
  await expect(page.getByTestId('attention-kernel')).toHaveValue('fd');
  await expect(page.getByTestId('system-prompt')).toHaveValue('Answer in one line.');
  await expect(page.getByTestId('chat-input')).toHaveValue('And str.join?');
  await expect(page.getByTestId('message-user').locator('.content')).toHaveText('What does str.split do?');
  // The answer as far as it was written when the page went (at least what the test saw), marked as cut there.
  expect((await answer.textContent())!.startsWith(seen)).toBe(true);
  await expect(page.getByTestId('message-cut-short')).toHaveText('cut short: the page was reloaded or closed while it was written');
  // The next turn goes on from the restored conversation, prefilled whole into the new page's engine.
  await setGreedy(page, 4, false);
  await page.getByTestId('send').click();
  await waitForDone(page);
  await expect(page.getByTestId('message-assistant')).toHaveCount(2);
  await expect(page.getByTestId('prefill-stats')).toContainText(': 0 reused from the cache');
});

test('the model loaded last loads again after a reload, with its KV precision', async ({ page }) => {
  await openApp(page);
  await page.getByTestId('kv-dtype').selectOption('f32');
  await loadServerModel(page, 'tiny-llama');
  await expect(page.getByTestId('model-info')).toContainText('KV f32');
  await page.reload();
  await expect(page.getByTestId('model-info')).toContainText('tiny-llama (dev server)', { timeout: 120_000 });
  await expect(page.getByTestId('model-info')).toContainText('KV f32');
  await expect(page.getByTestId('model-select')).toHaveValue('server:tiny-llama');
  await expect(page.getByTestId('kv-dtype')).toHaveValue('f32');
});

test('the attention breakdown shows one bar per layer with non-zero values (after a turn with a system prompt)', async ({ page }) => {
  await openApp(page);
  await setGreedy(page, 12, false);
  await page.getByTestId('system-prompt').fill('Answer in one line.');
  await send(page, 'What does str.split do?');
  await waitForDone(page);
  // The system prompt went first, through the chat template: the prompt is exactly that text's tokens.
  const folder = join(process.cwd(), 'public', 'models', 'pydoc-chat-6m');
  const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(folder, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(folder, 'tokenizer_config.json'), 'utf8')));
  const prompt = '<|im_start|>system\nAnswer in one line.<|im_end|>\n<|im_start|>user\nWhat does str.split do?<|im_end|>\n<|im_start|>assistant\n';
  await expect(page.getByTestId('prefill-stats')).toContainText(`prompt ${tokenizer.encode(prompt).ids.length} tokens`);
  await page.getByTestId('tab-attention').click();
  const chart = page.getByTestId('layer-chart');
  await expect(chart).toHaveAttribute('data-layers', '6');
  const values = (await chart.getAttribute('data-values'))!.split(',').map(Number);
  expect(values).toHaveLength(6);
  for (const value of values) expect(value).toBeGreaterThan(0);
  await expect(chart.locator('.recharts-bar-rectangle')).toHaveCount(6);
  await expect(page.getByTestId('attention-share')).toContainText('%');
  // SwiftShader's timestamps are not quantized: the clock is judged fine and the bars are the latest step's.
  await expect(chart).toHaveAttribute('data-clock', 'fine');
  await expect(chart).toHaveAttribute('data-basis', 'latest');
  await expect(page.getByTestId('clock-note')).toHaveCount(0);
  // Steps timed whole and per layer take turns: the note says what the timestamps cost (or that it is not told apart yet).
  await expect(page.getByTestId('timestamp-cost')).toContainText('alternate');
  await page.screenshot({ path: 'test-results/screenshots/attention-breakdown.png', fullPage: true });
});

test('the stress page completes a small sweep for all three kernels and draws the plot', async ({ page }) => {
  await openApp(page);
  await page.getByTestId('tab-stress').click();
  await page.getByTestId('stress-target').fill('256');
  await page.getByTestId('stress-points').fill('3');
  await page.getByTestId('stress-run').click();
  await expect(page.getByTestId('stress-chart')).toHaveAttribute('data-points', '9', { timeout: 240_000 });
  await expect(page.getByTestId('stress-run')).toBeEnabled({ timeout: 60_000 });
  await expect(page.getByTestId('stress-chart').locator('.recharts-line')).toHaveCount(3);
  await expect(page.getByTestId('stress-table').locator('tbody tr')).toHaveCount(3);
  // By default the contexts double up to the target, on a log axis ticked at the measured contexts (the table's first
  // column), and the time axis is log too.
  const contexts = await page.getByTestId('stress-table').locator('tbody tr td:first-child').allTextContents();
  expect(contexts).toEqual(['64', '128', '256']);
  await expect(page.getByTestId('stress-chart')).toHaveAttribute('data-context-scale', 'log');
  await expect(page.getByTestId('stress-chart').locator('.recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value')).toHaveText(contexts);
  await expect(page.getByTestId('stress-timing')).toContainText('less what those timestamps cost');
  await page.screenshot({ path: 'test-results/screenshots/stress.png', fullPage: true });
});

test('the stress page sweeps synthetic KV with no model', async ({ page }) => {
  await openApp(page);
  await page.getByTestId('tab-stress').click();
  await page.getByTestId('synthetic').check();
  // The longest synthetic context is what one storage binding of this adapter holds, for K and for V.
  await expect(page.getByTestId('stress-max-target')).toContainText('(one GPU buffer each for K and V)');
  await page.getByTestId('stress-target').fill('2048');
  await page.getByTestId('stress-points').fill('3');
  await page.getByTestId('stress-spacing').selectOption('even');
  await page.getByTestId('stress-run').click();
  await expect(page.getByTestId('stress-chart')).toHaveAttribute('data-points', '9', { timeout: 240_000 });
  await expect(page.getByTestId('stress-chart')).toHaveAttribute('data-context-scale', 'linear');
  await expect(page.getByTestId('stress-table').locator('tbody tr td:first-child')).toHaveText(['683', '1,365', '2,048']);
  // The axis names whole multiples of 1,024 tokens in k.
  await expect(page.getByTestId('stress-chart').locator('.recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value')).toHaveText(['683', '1,365', '2k']);
  // SwiftShader is a CPU adapter: its calls are timed alone (on a GPU, among others: engine/stress.test.ts).
  await expect(page.getByTestId('stress-timing')).toContainText('one call timed alone');
});
