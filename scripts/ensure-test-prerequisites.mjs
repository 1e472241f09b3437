// Gets what `npm test` needs before any suite runs, and says what it found or installed: a Chromium with WebGPU for
// the e2e tests, and a WebGPU adapter for Dawn in the unit tests (a GPU, or SwiftShader, the CPU Vulkan driver that
// Chromium builds carry next to their Vulkan loader). A machine that has both installs nothing. Otherwise it tries
// Playwright's own Chromium (`playwright install chromium`), then, as root, Debian's packages (`apt-get install -y
// chromium libvulkan1`), and otherwise stops with one line naming the command to run.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from '@playwright/test';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';
/** Where Debian's chromium package keeps its SwiftShader driver and Vulkan loader (/usr/bin/chromium is a script). */
const DEBIAN_CHROMIUM_DIR = '/usr/lib/chromium';
const SWIFTSHADER_ICD = 'vk_swiftshader_icd.json';
const VULKAN_LOADER = 'libvulkan.so.1';
const APT_INSTALL = 'apt-get install -y chromium libvulkan1';
/** Playwright gives up on a download host after this long without an answer (it tries a few times). */
const DOWNLOAD_CONNECTION_TIMEOUT_MS = 5_000;

const say = (line) => console.log(`test prerequisites: ${line}`);

class MissingPrerequisite extends Error {}

/** The browsers on this machine, best first: $CHROME_PATH, Debian's Chromium, Playwright's Chromium. */
function findBrowsers() {
  const browsers = [];
  const fromEnv = process.env.CHROME_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new MissingPrerequisite(`CHROME_PATH is ${fromEnv}, which does not exist: point it at a Chromium or Chrome, or unset it`);
    browsers.push({ name: `$CHROME_PATH (${fromEnv})`, executable: fromEnv, driverDir: dirname(realpathSync(fromEnv)) });
  }
  if (existsSync(DEBIAN_CHROMIUM)) browsers.push({ name: `Debian's Chromium (${DEBIAN_CHROMIUM})`, executable: DEBIAN_CHROMIUM, driverDir: DEBIAN_CHROMIUM_DIR });
  const playwrights = chromium.executablePath();
  if (existsSync(playwrights)) browsers.push({ name: `Playwright's Chromium (${playwrights})`, executable: playwrights, driverDir: dirname(playwrights) });
  return browsers;
}

/** Asks Dawn for an adapter in a child process with `env` added; returns its description, or undefined. */
function probeDawn(env) {
  const source = `
    import { create } from 'webgpu';
    const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
    const info = adapter?.info;
    const name = info && (info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' '));
    console.log(JSON.stringify(info ? \`\${name || 'an unnamed adapter'} (\${info.vendor || 'unknown vendor'})\` : null));
    process.exit(0);`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const lastLine = child.stdout?.trim().split('\n').at(-1);
  if (child.status !== 0 || !lastLine) return undefined;
  return JSON.parse(lastLine) ?? undefined;
}

/**
 * How Dawn gets an adapter: as the machine stands (a GPU, or whatever $VK_ICD_FILENAMES names), else through the
 * SwiftShader of one of `browsers`, with that browser's own Vulkan loader when the system has none.
 */
function findDawnAdapter(browsers) {
  const asIs = probeDawn({});
  if (asIs) return { description: asIs, env: {} };
  if (process.env.VK_ICD_FILENAMES) {
    throw new MissingPrerequisite(`Dawn found no WebGPU adapter through VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES}: point it at a working Vulkan driver manifest, or unset it`);
  }
  for (const browser of browsers) {
    const icd = join(browser.driverDir, SWIFTSHADER_ICD);
    if (!existsSync(icd)) continue;
    const attempts = [{ VK_ICD_FILENAMES: icd }];
    if (existsSync(join(browser.driverDir, VULKAN_LOADER))) {
      const libraryPath = [browser.driverDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
      attempts.push({ VK_ICD_FILENAMES: icd, LD_LIBRARY_PATH: libraryPath });
    }
    for (const env of attempts) {
      const description = probeDawn(env);
      if (description) return { description, env, via: browser.name };
    }
  }
  return undefined;
}

function look() {
  const browsers = findBrowsers();
  return { browser: browsers[0], dawn: findDawnAdapter(browsers) };
}

function missing(state) {
  return [
    !state.browser && 'a Chromium for the e2e tests',
    !state.dawn && 'a WebGPU adapter for Dawn in the unit tests (a GPU, or a Vulkan loader and SwiftShader)',
  ].filter(Boolean);
}

function run(command, args, env = {}) {
  console.log(`$ ${command} ${args.join(' ')}`);
  return spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, ...env } }).status === 0;
}

const isRoot = () => process.getuid?.() === 0;
const hasAptGet = () => spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * Runs `npx playwright install` and shows its output without the stack traces it prints when a download fails;
 * resolves to the first error line, or undefined when it installed.
 */
function playwrightInstall(args) {
  console.log(`$ npx playwright ${args.join(' ')}`);
  const child = spawn('npx', ['playwright', ...args], {
    env: { ...process.env, PLAYWRIGHT_DOWNLOAD_CONNECTION_TIMEOUT: String(DOWNLOAD_CONNECTION_TIMEOUT_MS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const errors = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (!/^\s+at /.test(line)) console.log(`  ${line}`);
  });
  createInterface({ input: child.stderr }).on('line', (line) => {
    if (/^Error:/.test(line)) errors.push(line);
  });
  return new Promise((resolve) => {
    child.on('close', (code) => resolve(code === 0 ? undefined : (errors[0] ?? `exit status ${code}`)));
  });
}

/** Playwright's own Chromium, which carries SwiftShader; false when its download host is out of reach. */
async function installPlaywrightChromium() {
  say(`installing Playwright's Chromium (it gives up after ${DOWNLOAD_CONNECTION_TIMEOUT_MS / 1000} s per try without an answer from its download host)`);
  const error = await playwrightInstall(['install', '--no-shell', 'chromium']);
  if (error) {
    say(`Playwright could not download its Chromium (${error})`);
    return false;
  }
  // Its Chromium needs system libraries that a bare machine lacks; Playwright installs them through apt as root.
  if (isRoot() && hasAptGet()) await playwrightInstall(['install-deps', 'chromium']);
  return true;
}

function installDebianPackages() {
  say(`installing Debian's Chromium (SwiftShader) and Vulkan loader: ${APT_INSTALL}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  return run('apt-get', ['update'], env) && run('apt-get', APT_INSTALL.split(' ').slice(1), env);
}

/**
 * Makes sure both suites can run; returns the environment each needs: `e2e` names the browser (CHROME_PATH), `unit`
 * points Dawn at SwiftShader when no GPU answers. Throws MissingPrerequisite, with the command to run, when it cannot.
 */
async function ensure() {
  let state = look();
  if (missing(state).length > 0) {
    say(`missing ${missing(state).join(' and ')}`);
    if (!existsSync(chromium.executablePath()) && (await installPlaywrightChromium())) state = look();
  }
  if (missing(state).length > 0 && isRoot() && hasAptGet()) {
    if (!installDebianPackages()) throw new MissingPrerequisite(`${APT_INSTALL} failed (its output is above)`);
    state = look();
  }
  if (missing(state).length > 0) {
    throw new MissingPrerequisite(
      `npm test needs ${missing(state).join(' and ')}: run \`sudo ${APT_INSTALL}\` (or \`npx playwright install chromium\`), ` +
        'or set CHROME_PATH to a Chromium with WebGPU',
    );
  }
  say(`e2e tests launch ${state.browser.name}`);
  const driver = state.dawn.env.VK_ICD_FILENAMES ? ` through ${state.dawn.env.VK_ICD_FILENAMES}` : '';
  const loader = state.dawn.env.LD_LIBRARY_PATH ? ` and the Vulkan loader of ${state.dawn.via}` : '';
  say(`unit tests run on ${state.dawn.description}${driver}${loader}`);
  return { e2e: { CHROME_PATH: state.browser.executable }, unit: state.dawn.env };
}

/** The environments for the suites, or undefined after printing one line that says what is missing and what to run. */
export async function ensureTestPrerequisites() {
  try {
    return await ensure();
  } catch (error) {
    if (!(error instanceof MissingPrerequisite)) throw error;
    console.error(`test prerequisites: ${error.message}`);
    return undefined;
  }
}
