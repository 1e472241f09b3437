import { expect, test } from '@playwright/test';

test('the app reports the WebGPU adapter the engine worker got', async ({ page }) => {
  await page.goto('/');
  const name = page.getByTestId('adapter-name');
  await expect(name).toBeVisible();
  await expect(name).not.toHaveText('');
  // On SwiftShader (CI) the app says the adapter is the CPU, how many cores it has and what to do; on a GPU, nothing.
  const cpuNote = page.getByTestId('cpu-adapter');
  if (/swiftshader/i.test((await name.textContent()) ?? '')) await expect(cpuNote).toContainText(/runs on the CPU \(\d+ cores\)/);
  else await expect(cpuNote).toHaveCount(0);
  await page.screenshot({ path: 'test-results/screenshots/gpu-status.png' });
});
