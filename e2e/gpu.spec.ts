import { expect, test } from '@playwright/test';

test('the app reports the WebGPU adapter the engine worker got', async ({ page }) => {
  await page.goto('/');
  const name = page.getByTestId('adapter-name');
  await expect(name).toBeVisible();
  await expect(name).not.toHaveText('');
  await page.screenshot({ path: 'test-results/screenshots/gpu-status.png' });
});
