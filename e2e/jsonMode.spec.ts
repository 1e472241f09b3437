import { expect, test } from '@playwright/test';
import { openApp, send, setGreedy, waitForDone } from './helpers.ts';

/*
 * The app's JSON mode with the built-in model: the engine generates under the schema's grammar (response_format), and
 * the app shows the answer as a tree; a schema that does not check is refused before anything is sent.
 */

test('JSON mode: the built-in model answers with an object valid against the sample schema, shown as a tree', async ({ page }) => {
  await openApp(page);
  await setGreedy(page, 96, false);
  await page.getByTestId('json-mode').check();
  await page.getByTestId('json-schema-sample').click();
  await send(page, 'What does json.dumps do?');
  await waitForDone(page);
  await expect(page.getByTestId('chat-error')).toHaveCount(0);
  const text = await page.getByTestId('message-assistant').locator('.content').first().evaluate((node) => node.firstChild?.textContent ?? '');
  const answer = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(answer).sort()).toEqual(['name', 'summary']);
  expect(typeof answer.name).toBe('string');
  expect(typeof answer.summary).toBe('string');
  await expect(page.getByTestId('json-answer').locator('.json-key')).toHaveText(['name: ', 'summary: ']);
  await page.screenshot({ path: 'test-results/screenshots/json-mode.png', fullPage: true });
});

test('JSON mode: a schema that does not check is refused beside the editor, and the message typed stays', async ({ page }) => {
  await openApp(page);
  await page.getByTestId('json-mode').check();
  await page.getByTestId('json-schema').fill('{"type": "object", "properties": {"name": {"type": "text"}}}');
  await expect(page.getByTestId('json-schema-error')).toContainText('type "text" is not one of');
  await page.getByTestId('chat-input').fill('What does json.dumps do?');
  await expect(page.getByTestId('send')).toBeDisabled();
  await page.getByTestId('chat-input').press('Enter');
  await expect(page.getByTestId('chat-input')).toHaveValue('What does json.dumps do?');
  await expect(page.getByTestId('message-user')).toHaveCount(0);
  await page.getByTestId('json-schema').fill('{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}');
  await expect(page.getByTestId('json-schema-error')).toHaveCount(0);
  await expect(page.getByTestId('send')).toBeEnabled();
});
