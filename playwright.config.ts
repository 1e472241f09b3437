import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';

/**
 * Real Chromium with WebGPU on: on a machine without a GPU it runs on Chromium's SwiftShader Vulkan driver. `npm test`
 * sets CHROME_PATH to the browser it found or installed (scripts/ensure-test-prerequisites.mjs); run alone, this takes
 * $CHROME_PATH, else Debian's Chromium, else Playwright's own.
 */
const debianChromium = '/usr/bin/chromium';
const chromiumPath = process.env.CHROME_PATH ?? (existsSync(debianChromium) ? debianChromium : undefined);

/**
 * The tests' own dev server, beside `npm run dev`'s 5173: an app left running there is never taken for it.
 * E2E_PORT moves it, so that two checkouts can run their specs side by side.
 */
const port = Number(process.env.E2E_PORT ?? 5174);

export default defineConfig({
  testDir: 'e2e',
  timeout: 300_000,
  expect: { timeout: 60_000 },
  // Two specs side by side: one alone leaves ~45% of a 2-core machine idle (the page waits on SwiftShader's single
  // compile thread); two took the suite from 8.0 to 6.0–6.4 minutes here. Every spec has its own page, context and
  // ports.
  fullyParallel: true,
  workers: 2,
  reporter: 'list',
  outputDir: 'test-results/e2e',
  use: {
    baseURL: `http://localhost:${port}`,
    screenshot: 'on',
    trace: 'retain-on-failure',
    // Playwright's own Chromium as the full browser in headless mode, not its headless shell (which npm test skips).
    channel: chromiumPath ? undefined : 'chromium',
    launchOptions: {
      executablePath: chromiumPath,
      args: [
        '--enable-unsafe-webgpu',
        '--enable-features=Vulkan',
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `npx vite --port ${port} --strictPort`,
    // The dev server exposes the reference models as model folders.
    env: { LEAN_DECODE_MODELS: '../shared/models' },
    url: `http://localhost:${port}`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
  },
});
