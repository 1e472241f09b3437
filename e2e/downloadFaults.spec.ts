import { expect, test, type Page } from '@playwright/test';
import { CUT_AT, EXTRA_BYTES, startFaultyModelServer } from './faultyModelServer.ts';
import { send, setGreedy, waitForDone } from './helpers.ts';

/** The app's Cache Storage for downloaded models (MODEL_CACHE_NAME in engine/loader/urlFiles.ts). */
const MODEL_CACHE = 'lean-decode-models';

/** A byte count as the engine's messages write it. */
const bytes = (count: number) => `${count.toLocaleString('en-US')} bytes`;

let server: Awaited<ReturnType<typeof startFaultyModelServer>>;
test.beforeEach(async () => {
  server = await startFaultyModelServer();
});
test.afterEach(async () => {
  await server.close();
});

/** Each file the page's Cache Storage keeps for the model, with the length of its body. */
async function cachedFiles(page: Page): Promise<Record<string, number>> {
  return page.evaluate(async (name) => {
    const cache = await caches.open(name);
    const lengths: Record<string, number> = {};
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      lengths[request.url.split('/').pop()!] = (await response!.arrayBuffer()).byteLength;
    }
    return lengths;
  }, MODEL_CACHE);
}

async function loadFromUrl(page: Page, baseUrl: string): Promise<void> {
  await page.getByTestId('model-select').selectOption('url');
  await page.getByLabel('Model base URL').fill(baseUrl);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('load-error')).toBeHidden();
}

/** Presses Retry download, and waits until the error it answered is gone (so that the next one is new). */
async function retry(page: Page): Promise<void> {
  await page.getByTestId('retry-load').click();
  await expect(page.getByTestId('load-error')).toBeHidden();
}

/** Every attempt at model.safetensors failed: the picker names it and why, and nothing of it was kept. */
async function expectFailedDownload(page: Page, requestsSoFar: number, reason: RegExp | string): Promise<void> {
  const error = page.getByTestId('load-error');
  await expect(error).toContainText(`model.safetensors did not download whole from ${server.baseUrl}model.safetensors in 3 attempts`);
  await expect(error).toContainText(reason);
  await expect(page.getByTestId('retry-load')).toBeVisible();
  expect(server.requests('model.safetensors')).toBe(requestsSoFar);
  const cached = await cachedFiles(page);
  expect(cached).not.toHaveProperty('model.safetensors');
  // What was kept is whole: the folder's other files, at their full length.
  for (const [file, length] of Object.entries(cached)) expect(length, file).toBe(server.size(file));
}

/**
 * Opens the app with the built-in model's first-visit load refused (its config.json a 404): loading it and warming
 * it up on SwiftShader would be most of this spec's time, and would hold the GPU process that draws the page.
 */
async function openAppWithoutModel(page: Page): Promise<void> {
  await page.route('**/models/pydoc-chat-6m/config.json', (route) => route.fulfill({ status: 404, body: 'not found' }));
  await page.goto('/');
  await expect(page.getByTestId('load-error')).toContainText('config.json does not exist');
}

// One page for every fault, each answered by a retry.
test('a connection cut mid-file, a body shorter and one longer than its Content-Length: each an error naming the file with a retry, nothing of it cached; the retry resumes a download broken off and loads the model', async ({ page }) => {
  const whole = server.size('model.safetensors');
  const brokeOff = new RegExp(`the connection broke off after [\\d,]+ of ${bytes(whole)}`);
  await openAppWithoutModel(page);
  await test.step('cut mid-file', async () => {
    server.script('model.safetensors', ['cut', 'cut', 'cut']);
    await loadFromUrl(page, server.baseUrl);
    await expectFailedDownload(page, 3, brokeOff);
    await page.screenshot({ path: 'test-results/screenshots/download-cut-error.png', fullPage: true });
  });
  await test.step('a body shorter than its Content-Length', async () => {
    server.script('model.safetensors', ['shorter-body', 'shorter-body', 'shorter-body']);
    await retry(page);
    // Chromium fails a body that ends short of its Content-Length as a broken connection.
    await expectFailedDownload(page, 6, brokeOff);
  });
  await test.step('a body longer than its Content-Length', async () => {
    server.script('model.safetensors', ['longer-body', 'longer-body', 'longer-body']);
    await retry(page);
    // Chromium hands over Content-Length's bytes of a longer body: the file's own header shows they are not all of it.
    await expectFailedDownload(page, 9, `the file has ${bytes(whole - EXTRA_BYTES)} but its safetensors header describes ${bytes(whole)}`);
  });
  await test.step('the retry, broken off once on a server that serves ranges, asks for the rest only, keeps the file whole, and the model answers', async () => {
    server.serveRanges();
    // Closed early rather than reset: a reset discards what the page had not read yet, and on a loaded machine that
    // can be every byte, leaving nothing to resume from.
    server.script('model.safetensors', ['shorter-body']);
    await retry(page);
    await expect(page.getByTestId('model-info')).toContainText(server.baseUrl, { timeout: 120_000 });
    expect(server.requests('model.safetensors')).toBe(11);
    const [first, resumedFrom] = server.rangeStarts('model.safetensors').slice(9);
    expect(first).toBeUndefined();
    // From what the page had received when the connection closed (at most the CUT_AT bytes sent).
    expect(resumedFrom).toBeGreaterThan(0);
    expect(resumedFrom).toBeLessThanOrEqual(CUT_AT);
    expect((await cachedFiles(page))['model.safetensors']).toBe(whole);
    await setGreedy(page, 4, false);
    await send(page, 'Hello');
    await waitForDone(page);
    await expect(page.getByTestId('message-assistant').locator('.content')).not.toBeEmpty();
  });
});
