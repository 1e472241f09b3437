import { expect, type Page } from '@playwright/test';

/** Opens the app (at `path`: `/?test-faults` for faults.spec.ts) and waits until the built-in model (loaded on a first visit) is ready. */
export async function openApp(page: Page, path = '/'): Promise<void> {
  await page.goto(path);
  await expect(page.getByTestId('adapter-name')).toBeVisible();
  await expect(page.getByTestId('model-info')).toBeVisible({ timeout: 120_000 });
}

/** Loads a model folder that the dev server exposes ($LEAN_DECODE_MODELS). */
export async function loadServerModel(page: Page, name: string): Promise<void> {
  await page.getByTestId('model-select').selectOption(`server:${name}`);
  await page.getByTestId('load-model').click();
  await expect(page.getByTestId('model-info')).toContainText(`${name} (dev server)`, { timeout: 120_000 });
}

export async function setGreedy(page: Page, maxTokens: number, raw: boolean): Promise<void> {
  await page.getByTestId('temperature').fill('0');
  await page.getByTestId('max-tokens').fill(String(maxTokens));
  const rawBox = page.getByTestId('raw-prompt');
  if ((await rawBox.isChecked()) !== raw) await rawBox.click();
}

export async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId('chat-input').fill(text);
  await page.getByTestId('send').click();
}

export async function waitForDone(page: Page): Promise<void> {
  await expect(page.getByTestId('send')).toBeVisible({ timeout: 240_000 });
}
