import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { openApp, send, setGreedy, waitForDone } from './helpers.ts';

/*
 * Faults under the chat, injected into the engine worker by its test hooks (engine/testFaults.ts, on with
 * `?test-faults`): each cuts an answer after a few chunks; the app says what happened, keeps the conversation and
 * what is typed meanwhile, reloads the model by itself, and the next message works. One page for both faults: on
 * SwiftShader, a page's first load and first answer cost most of the time.
 */

const PYDOC = join(process.cwd(), '..', 'shared', 'models', 'pydoc-chat-6m');
const cases = (JSON.parse(readFileSync(join(PYDOC, 'reference.json'), 'utf8')) as { cases: { greedy_text: string; messages?: { content: string }[] }[] }).cases;
const QUESTION = 'What does json.dumps do?';
const FOLLOW_UP = 'And str.split?';
/** The reference's greedy answer to QUESTION; with max_tokens 8, the app's answer is its start. */
const referenceAnswer = cases.find((c) => c.messages?.[0].content === QUESTION)!.greedy_text;

/** engine/testFaults.ts's TestFault, as the app's test handle takes it (e2e imports nothing of the sources). */
type TestFault = Parameters<NonNullable<Window['armTestFault']>>[0];

async function armFault(page: Page, fault: TestFault): Promise<void> {
  expect(await page.evaluate((f) => window.armTestFault!(f), fault)).toEqual({ ok: true, value: undefined });
}

const userMessages = (page: Page) => page.getByTestId('message-user').locator('.content');
const lastAnswer = async (page: Page) => (await page.getByTestId('message-assistant').last().locator('.content').textContent())!;

/** Asks QUESTION with `fault` armed: the answer is cut, and the text it had stays. */
async function askAndFault(page: Page, fault: TestFault, notice: string, cutBy: string): Promise<void> {
  await armFault(page, fault);
  await send(page, QUESTION);
  await expect(page.getByTestId('engine-fault')).toContainText(notice);
  await waitForDone(page);
  const cut = await lastAnswer(page);
  expect(cut.length, 'the text generated before the fault').toBeGreaterThan(0);
  expect(referenceAnswer.startsWith(cut), `the answer so far, "${cut}", is the start of the reference's`).toBe(true);
  await expect(page.getByTestId('message-cut-short')).toHaveText(`cut short: ${cutBy}`);
}

/** While the model reloads the user types: the text stays in the box, the conversation in the chat. */
async function typeWhileReloading(page: Page, text: string, screenshot: string): Promise<void> {
  await page.getByTestId('chat-input').fill(text);
  await expect(page.getByTestId('engine-fault')).toHaveAttribute('data-recovery', 'ready', { timeout: 120_000 });
  await expect(page.getByTestId('engine-fault-next')).toContainText('The model is loaded again');
  await expect(page.getByTestId('chat-input')).toHaveValue(text);
  await expect(userMessages(page)).toHaveText([QUESTION]);
  await page.screenshot({ path: `test-results/screenshots/${screenshot}.png`, fullPage: true });
}

test('a GPU device lost and a worker crash mid-answer: the text so far and the conversation kept, the model reloaded, the next message answered', async ({ page }) => {
  // Three model loads and four answers on SwiftShader, on a machine that may run other tests beside it.
  test.setTimeout(600_000);
  await openApp(page, '/?test-faults');
  await setGreedy(page, 8, false);

  await test.step('the device lost: the model reloaded on a new one, the next message prefilled whole', async () => {
    await askAndFault(page, { kind: 'device-lost', afterChunks: 2 }, 'The GPU device was lost (destroyed', 'the GPU device was lost');
    await typeWhileReloading(page, FOLLOW_UP, 'fault-device-lost');
    await page.getByTestId('send').click();
    await expect(page.getByTestId('engine-fault')).toBeHidden();
    await waitForDone(page);
    await expect(userMessages(page)).toHaveText([QUESTION, FOLLOW_UP]);
    expect((await lastAnswer(page)).length, 'the answer to the follow-up').toBeGreaterThan(0);
    // The new device's KV held nothing: the whole conversation (QUESTION's 15 tokens, the cut answer, FOLLOW_UP)
    // was prefilled again.
    const [, total, reused] = /prompt (\d+) tokens: (\d+) reused/.exec((await page.getByTestId('prefill-stats').textContent())!)!.map(Number);
    expect(reused).toBe(0);
    expect(total).toBeGreaterThan(15 + 2 + 5);
  });

  await test.step('the worker crashed: a new worker with the model, which answers as the reference does', async () => {
    await page.getByTestId('clear').click();
    await askAndFault(page, { kind: 'worker-crash', afterChunks: 2 }, 'The engine worker crashed (', 'the engine worker crashed');
    await expect(page.getByTestId('engine-fault-message')).toContainText('test fault: an uncaught error in the engine worker');
    await typeWhileReloading(page, FOLLOW_UP, 'fault-worker-crash');
    const cut = await lastAnswer(page);
    await page.getByTestId('regenerate').click();
    await waitForDone(page);
    await expect(page.getByTestId('stop-reason')).toHaveText('stopped: length');
    await expect(page.getByTestId('message-cut-short')).toBeHidden();
    const answer = await lastAnswer(page);
    expect(referenceAnswer.startsWith(answer) && answer.length > cut.length, `the 8-token answer "${answer}" is the start of the reference's, past the cut "${cut}"`).toBe(true);
    await expect(page.getByTestId('chat-input')).toHaveValue(FOLLOW_UP);
  });
});
