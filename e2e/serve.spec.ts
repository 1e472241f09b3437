import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { openApp, send, waitForDone } from './helpers.ts';

const PYDOC = join(process.cwd(), '..', 'shared', 'models', 'pydoc-chat-6m');
const cases = (JSON.parse(readFileSync(join(PYDOC, 'reference.json'), 'utf8')) as { cases: { greedy_text: string; messages?: { content: string }[] }[] }).cases;
const EOS = '<|im_end|>';

let server: ChildProcess | undefined;
let baseUrl = '';

// `lean-decode serve` with the built-in model on a free port, as a user starts it (bin/ builds the bundle if stale).
test.beforeAll(async () => {
  test.setTimeout(300_000);
  const child = spawn(process.execPath, ['bin/lean-decode.mjs', 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  server = child;
  let stderr = '';
  child.stderr!.on('data', (data: Buffer) => (stderr += data));
  baseUrl = await new Promise<string>((found, fail) => {
    let stdout = '';
    child.stdout!.on('data', (data: Buffer) => {
      stdout += data;
      const match = /serving pydoc-chat-6m at (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(stdout);
      if (match) found(match[1]);
    });
    child.on('exit', (code) => fail(new Error(`lean-decode serve exited (${code}) before listening: ${stderr}`)));
  });
});

test.afterAll(() => {
  server?.kill('SIGTERM');
});

test('the app chats with lean-decode serve as an OpenAI-compatible server', async ({ page }) => {
  await openApp(page);
  await page.getByTestId('model-select').selectOption('openai');
  await page.getByTestId('server-url').fill(baseUrl);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('server-info')).toContainText(baseUrl);
  await expect(page.getByTestId('server-model')).toHaveValue('pydoc-chat-6m');
  // The server runs the model: the engine's own settings are not offered.
  await expect(page.getByTestId('attention-kernel')).toHaveCount(0);

  const json = cases.find((c) => c.messages?.[0].content === 'What does json.dumps do?')!;
  await page.getByTestId('temperature').fill('0');
  await page.getByTestId('max-tokens').fill('48');
  await send(page, 'What does json.dumps do?');
  await waitForDone(page);
  // OpenAI's answers leave the end-of-sequence token out.
  const expected = json.greedy_text.includes(EOS) ? json.greedy_text.slice(0, json.greedy_text.indexOf(EOS)) : json.greedy_text;
  expect(await page.getByTestId('message-assistant').locator('.content').textContent()).toBe(expected);
  await expect(page.getByTestId('prefill-stats')).toContainText(/prompt \d+ tokens/);
  await expect(page.getByTestId('stop-reason')).toHaveText(json.greedy_text.includes(EOS) ? 'stopped: stop' : 'stopped: length');
  await expect(page.getByTestId('tokens-per-second')).toContainText('tokens/s');
  await page.screenshot({ path: 'test-results/screenshots/serve-chat.png', fullPage: true });

  // A second turn sends the whole conversation, as OpenAI clients do.
  await send(page, 'What does str.split do?');
  await waitForDone(page);
  await expect(page.getByTestId('message-assistant')).toHaveCount(2);
  await expect(page.getByTestId('message-assistant').nth(1).locator('.content')).not.toHaveText('');

  await page.getByTestId('tab-attention').click();
  await expect(page.getByTestId('needs-engine')).toContainText('in-browser engine');
  await page.getByTestId('tab-stress').click();
  await expect(page.getByTestId('needs-engine')).toContainText(baseUrl);
});
